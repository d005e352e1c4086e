// qu8-qs8-lutgemm: the qu8-qs8-gemm product (qgemm.h: acc[i][c] = sum_k A[i][k] * W[c][k] - correction[c], then the
// requant.h code epilogue) for narrow activation codes (A < 2^abits, abits 1..4) and weights of 2..4 bits, computed by
// table lookup instead of multiplication (docs/benchmarks.md: on AVX-512 VBMI its inner step bounds W2A2 and W4A2 at
// 1.5x the vpdpbusd peak; at W4A4 it is slower than vpdpbusd).
//
// k is cut into groups of kLutGroup positions. For each column c and group g a table of 64 int8 entries holds the sum
// of the group's weights selected by the 6 bits of the entry's index:
//   T[c][g][s] = sum_{j < 6, bit j of s set} W[c][6g + j]                     (W = 0 past k)
// and for each row i, group g and activation bit plane p an index byte gathers that plane's bits of the group's codes:
//   I[i][g][p] = sum_{j < 6} ((A[i][6g + j] >> p) & 1) << j                   (A = 0 past k)
// so that sum_g sum_p 2^p T[c][g][I[i][g][p]] = sum_k A[i][k] * W[c][k] exactly (int32, modulo 2^32 as qgemm).
// One vpermb looks up 64 rows' indexes in one column's table; byte sums of at most `flush` groups stay within int8
// (|T| <= 6 * 7 = 42 at 4 bits) before they are widened to int32.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/cpu.h"
#include "kernels/requant.h"

namespace arq::kernels {

constexpr size_t kLutGroup = 6;      // k positions per table index (64 = 2^6 entries: one vpermb table)
constexpr size_t kLutRows = 64;      // rows per block (one index byte per row in a 64-byte vector)
constexpr size_t kLutCols = 16;      // columns per tile
constexpr size_t kLutRunRows = 512;  // rows per microkernel call (8 blocks share each table load from L1)
constexpr int kLutMaxAbits = 4;      // activation bit planes at most (each costs one lookup per group)
constexpr int kLutMaxWbits = 4;      // weight width at most (|T| <= 127 needs |W| <= 21)

// Weight tables, packed once: tables[(c * groups + g) * 64 + s] for c < n rounded up to kLutCols (zero tables past n).
struct LutWeights {
  size_t n = 0, k = 0, groups = 0;
  int flush = 1;  // groups whose table entries a byte accumulator can sum without leaving int8 (>= 1)
  std::vector<int8_t> tables;
};

// w: int8 codes [n][k] (row stride ldw) within +-(2^(wbits-1) - 1), wbits 2..kLutMaxWbits (checked: throws
// std::invalid_argument otherwise).
LutWeights lutgemm_pack_weights(const int8_t* w, size_t ldw, size_t n, size_t k, int wbits);

// Index bytes of m rows: index[((b * groups + g) * abits + p) * 64 + r] for row i = 64 b + r (rows past m index 0).
size_t lutgemm_index_bytes(size_t m, size_t k, int abits);
// a: codes [m][k] (row stride lda), each below 2^abits (abits 1..kLutMaxAbits; checked: throws std::invalid_argument).
void lutgemm_pack_activations(const uint8_t* a, size_t lda, size_t m, size_t k, int abits, uint8_t* index);

// A run of m <= kLutRunRows rows (consecutive blocks of 64) by n <= 16 columns over all groups: index = the run's
// first block's index bytes, tables = its first column's tables; out: uint8 codes, row i of the run at
// out + i * ldc; params offset to the first column.
using LutGemmUkernel = void (*)(size_t m, size_t n, size_t groups, int abits, int flush, const uint8_t* index,
                                const int8_t* tables, uint8_t* out, size_t ldc, const RequantParams& params);

struct LutGemmConfig {
  const char* name;  // e.g. "qu8_qs8_lutgemm_ukernel_64x16__avx512vbmi"
  Isa isa;
  LutGemmUkernel ukernel;
};

// The config at this ISA level: the AVX-512 VBMI kernel where the level is kAvx512Vnni and the CPU has VBMI, else
// the scalar reference (no AVX2 kernel yet: its lookup would be vpshufb's 16-entry tables over 4 positions, another
// table layout).
const LutGemmConfig& lutgemm_config(Isa isa);

// out[m][n] (uint8 codes, row stride ldc) for the packed activations of m rows against the packed weights, in blocks
// of 64 rows and tiles of 16 columns. Single-threaded, allocates nothing; the same codes as qgemm on the same A and W.
void lutgemm(const LutGemmConfig& config, size_t m, int abits, const uint8_t* index, const LutWeights& w, uint8_t* out,
             size_t ldc, const RequantParams& params);

}  // namespace arq::kernels
