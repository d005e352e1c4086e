// qu8-qs8-lutgemm: the qu8-qs8-gemm product (qgemm.h: acc[i][c] = sum_k A[i][k] * W[c][k] - correction[c], then the
// requant.h code epilogue) for narrow activation codes (A < 2^abits, abits 1..4) and weights of 2..4 bits, computed by
// table lookup instead of multiplication (docs/benchmarks.md: with AVX-512 VBMI its inner step bounds W2A2 and W4A2
// at 1.5x the vpdpbusd peak and W4A4 below it; with AVX2 it runs W2A2 about 3x faster than the vpmaddwd path).
//
// k is cut into groups of G positions (the config's group: 6 for vpermb's 64-entry tables, 4 for vpshufb's 16). For
// each column c and group g a table of 2^G int8 entries holds the sum of the group's weights selected by the bits of
// the entry's index:
//   T[c][g][s] = sum_{j < G, bit j of s set} W[c][G g + j]                    (W = 0 past k)
// and for each row i, group g and activation bit plane p an index byte gathers that plane's bits of the group's codes:
//   I[i][g][p] = sum_{j < G} ((A[i][G g + j] >> p) & 1) << j                  (A = 0 past k)
// so that sum_g sum_p 2^p T[c][g][I[i][g][p]] = sum_k A[i][k] * W[c][k] exactly (int32, modulo 2^32 as qgemm).
// One lookup instruction takes a block of rows' indexes (the config's rows: one index byte per row in a vector) in
// one column's table; byte sums of at most `flush` groups stay within int8 (|T| <= 6 * 7 = 42 at 4 bits) before they
// are widened to int32.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/cpu.h"
#include "kernels/requant.h"

namespace arq::kernels {

constexpr size_t kLutCols = 16;      // columns per tile
constexpr size_t kLutRunBlocks = 8;  // blocks of rows per microkernel call (they share each table load from L1)
constexpr int kLutMaxAbits = 4;      // activation bit planes at most (each costs one lookup per group)
constexpr int kLutMaxWbits = 4;      // weight width at most (|T| <= 127 needs |W| <= 21)

// A run of m <= kLutRunBlocks * rows rows (consecutive blocks of the config's rows) by n <= 16 columns over all groups:
// index = the run's first block's index bytes, tables = its first column's tables; out: uint8 codes, row i of the run
// at out + i * ldc; params offset to the first column.
using LutGemmUkernel = void (*)(size_t m, size_t n, size_t groups, int abits, int flush, const uint8_t* index,
                                const int8_t* tables, uint8_t* out, size_t ldc, const RequantParams& params);

// lutgemm_pack_rows at one ISA (the config's group and rows).
using LutPackRows = void (*)(const uint8_t* const* rows, size_t m, const ptrdiff_t* tap_offsets, size_t taps,
                             size_t tap_bytes, int abits, uint8_t* index);

struct LutGemmConfig {
  const char* name;  // e.g. "qu8_qs8_lutgemm_ukernel_64x16__avx512vbmi"
  Isa isa;
  size_t group;  // k positions per index (tables of 2^group entries)
  size_t rows;   // rows per block of index bytes
  LutGemmUkernel ukernel;
  LutPackRows pack;
};

// The config at this ISA level: the AVX-512 VBMI kernel (group 6, blocks of 64 rows) where the level is kAvx512Vnni
// and the CPU has VBMI, the AVX2 kernel (group 4, blocks of 32 rows) at kAvx2 and on AVX-512 CPUs without VBMI, the
// scalar reference (group 6, blocks of 64 rows) at kScalar. Weights and activations must be packed for the config
// that runs them.
const LutGemmConfig& lutgemm_config(Isa isa);

// Weight tables, packed once: tables[((c * groups + g) << group) + s] for c < n rounded up to kLutCols (zero tables
// past n).
struct LutWeights {
  size_t n = 0, k = 0, group = 0, groups = 0;
  int flush = 1;  // groups whose table entries a byte accumulator can sum without leaving int8 (>= 1)
  std::vector<int8_t> tables;
};

// w: int8 codes [n][k] (row stride ldw) within +-(2^(wbits-1) - 1), wbits 2..kLutMaxWbits (checked: throws
// std::invalid_argument otherwise).
LutWeights lutgemm_pack_weights(const LutGemmConfig& config, const int8_t* w, size_t ldw, size_t n, size_t k,
                                int wbits);

// Index bytes of m rows: index[((b * groups + g) * abits + p) * rows + r] for row i = rows * b + r (rows past m
// index 0), rows = config.rows.
size_t lutgemm_index_bytes(const LutGemmConfig& config, size_t m, size_t k, int abits);
// a: codes [m][k] (row stride lda), each below 2^abits (abits 1..kLutMaxAbits; checked: throws std::invalid_argument).
void lutgemm_pack_activations(const LutGemmConfig& config, const uint8_t* a, size_t lda, size_t m, size_t k, int abits,
                              uint8_t* index);
// The same index bytes for rows read through pointers, as the integer plan's indirect convs read them: row i's k =
// taps * tap_bytes codes are, tap after tap, the tap_bytes codes at rows[i] + tap_offsets[t]. Groups must not
// straddle taps (taps == 1 or tap_bytes % config.group == 0: lutgemm_rows_fit), and the codes are not checked
// (each must be below 2^abits, abits 1..kLutMaxAbits): the engine's layer-grid codes are by construction. The
// config's packer (pack-rows.h) turns 8 groups at a time into bit-plane words (AVX2: vpshufb + vpmovmskb; VBMI:
// vpermb + vptestmb; scalar: a multiply per group that gathers one bit of each byte into the top byte).
void lutgemm_pack_rows(const LutGemmConfig& config, const uint8_t* const* rows, size_t m, const ptrdiff_t* tap_offsets,
                       size_t taps, size_t tap_bytes, int abits, uint8_t* index);
// Whether rows of taps x tap_bytes codes can be packed by lutgemm_pack_rows for `config`.
inline bool lutgemm_rows_fit(const LutGemmConfig& config, size_t taps, size_t tap_bytes) {
  return taps == 1 || tap_bytes % config.group == 0;
}

// out[m][n] (uint8 codes, row stride ldc) for the packed activations of m rows against the packed weights, in runs
// of kLutRunBlocks blocks and tiles of 16 columns. Single-threaded, allocates nothing; the same codes as qgemm on the
// same A and W.
void lutgemm(const LutGemmConfig& config, size_t m, int abits, const uint8_t* index, const LutWeights& w, uint8_t* out,
             size_t ldc, const RequantParams& params);

}  // namespace arq::kernels
