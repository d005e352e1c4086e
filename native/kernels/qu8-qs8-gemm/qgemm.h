// qu8-qs8-gemm: quantized GEMM with uint8 activation codes (A, per-tensor zero point) and signed int8 weight codes
// (W, per output column, symmetric), int32 accumulation and the requant.h epilogue:
//   acc[i][c] = sum_k A[i][k] * W[c][k] - correction[c]           (exact int32)
//   out[i][c] = requant_code(acc, m_c, b_c, min, max)  (uint8)   or   requant_float(acc, m_c, b_c)  (float)
// Weights of 2..8 bits are stored packed (8: one code per byte; 4 and 3: two per byte; 2: four per byte). A sub-byte
// panel is unpacked to int8 into caller scratch once per row block before the row tiles reuse it, so the main
// microkernel only ever sees int8 panels; a config may instead carry direct sub-byte microkernels that read the
// stored panel and expand the fields in registers (AVX-512 VNNI, at every M: as fast as int8, where the scratch
// round trip costs up to 40% at small M). Every path computes identical outputs whatever the ISA, the row position,
// the path or the thread count.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/cpu.h"
#include "kernels/requant.h"

namespace arq::kernels {

// Packed layout (every config; pack.cc writes it, the microkernels read it). Panel p holds columns n0 = p*nr ..
// n0+nr-1 (zero past n) over kc = K rounded up to kr (zero past K), as kc/kr k-groups of nr columns x kr bytes:
//   panel[(q / kr) * nr * kr + j * kr + q % kr] = W[n0 + j][q]
// ("c4" for kr = 4: one k-group of 16 columns is one 64-byte vector, 4 consecutive k per column).
// Sub-byte storage (wbits < 8) compresses the int8 panel, padded with zeros to whole blocks, block by block: a block is
// kQGemmStorageBlockBytes bytes holding 8/bits * that many codes (bits = 4 for wbits 3 and 4, 2 for wbits 2);
// byte b of a block holds unpacked element b + s * kQGemmStorageBlockBytes in bits [s*bits, (s+1)*bits) as a
// two's-complement field, for s = 0 .. 8/bits - 1. Unpacking sign-extends each field.
constexpr size_t kQGemmStorageBlockBytes = 64;
inline int qgemm_storage_bits(int wbits) { return wbits >= 5 ? 8 : wbits >= 3 ? 4 : 2; }
// Largest kc the direct sub-byte microkernels take (they accumulate 2^(8-bits) times the sums in int32).
constexpr size_t kQGemmDirectMaxKc = 65536;

// One mr x nr tile over the whole kc (K rounded up to kr; the caller zero-pads A's row tails and the packer pads W).
//   a: row i at a + i*lda (bytes); rows >= m are not read.  w: one unpacked int8 panel in the config's layout.
//   out: uint8 codes (ldc in bytes) or float (ldc in floats) when float_out; only m rows and n columns are written.
//   params: already offset to this panel's first column; correction may be nullptr (no zero-point term).
//   Alignment: none required (unaligned loads and masked stores throughout).
using QGemmUkernel = void (*)(size_t m, size_t n, size_t kc, const uint8_t* a, size_t lda, const int8_t* w, void* out,
                              size_t ldc, const RequantParams& params, bool float_out);
// Unpacks one sub-byte panel (storage of `wbits`) into an int8 panel of the same layout; bytes_unpacked is the
// panel's element count rounded up to whole storage blocks (QPackedWeights::unpacked_bytes).
// Indirect variant (convolutions without an im2col buffer): the same tile and panel, with A row i read through a
// pointer: k index q = t * cg + j (tap t < taps, j < cg) is rows[i][tap_offsets[t] + j]. cg must be a multiple of kr
// (then kc = taps * cg = K), w an int8 panel. Same sums, in the same k order, as the direct ukernel over the rows
// gathered into one buffer; rows[i] for i >= m is not read.
using QIGemmUkernel = void (*)(size_t m, size_t n, size_t taps, size_t cg, const uint8_t* const* rows,
                               const ptrdiff_t* tap_offsets, const int8_t* w, void* out, size_t ldc,
                               const RequantParams& params, bool float_out);
// Strided variant (one output row of a convolution: its pixels' input windows are equally spaced): A row i is
// rows[i] = a + i * row_stride of the indirect contract, so k index q = t * cg + j reads
// a[i * row_stride + tap_offsets[t] + j]. The same sums as QIGemmUkernel over those rows (a kernel may add the products
// in another order: int32 sums wrap exactly, so the order changes no result).
using QSGemmUkernel = void (*)(size_t m, size_t n, size_t taps, size_t cg, const uint8_t* a, size_t row_stride,
                               const ptrdiff_t* tap_offsets, const int8_t* w, void* out, size_t ldc,
                               const RequantParams& params, bool float_out);
using QUnpackFn = void (*)(const uint8_t* packed, int8_t* panel, size_t bytes_unpacked, int wbits);

struct QGemmConfig {
  const char* name;  // e.g. "qu8_qs8_gemm_ukernel_8x32c4__avx512vnni"
  Isa isa;
  size_t mr, nr, kr;  // tile rows, panel columns, k-block (A rows are padded to a multiple of kr)
  QGemmUkernel ukernel;
  QUnpackFn unpack;
  // Optional (nullptr if absent): microkernels that read 4-bit / 2-bit storage directly (w = the stored panel, its
  // bytes reinterpreted), same contract and results as unpack + ukernel for kc <= kQGemmDirectMaxKc. qgemm uses them
  // when a panel serves at most direct_max_tiles row tiles and kc <= kQGemmDirectMaxKc.
  QGemmUkernel ukernel_s4 = nullptr;
  QGemmUkernel ukernel_s2 = nullptr;
  size_t direct_max_tiles = 0;
  // Optional (nullptr if absent): the indirect microkernel of this tile (see QIGemmUkernel); callers without it
  // gather rows into an im2col buffer and run ukernel.
  QIGemmUkernel iukernel = nullptr;
  // Optional (nullptr if absent): the strided microkernel and its tile rows (see QSGemmUkernel).
  QSGemmUkernel sukernel = nullptr;
  size_t smr = 0;
};

// The config for a GEMM of n output columns at this ISA level (the panel width may depend on n: narrow layers get a
// narrower panel where the level has one, so no zero columns are computed). Weights must be packed and run with the
// same config.
const QGemmConfig& qgemm_config(Isa isa, size_t n);
// The widest config of the level (its name is the family's name at that level).
const QGemmConfig& qgemm_config(Isa isa);

// Weights packed for one config: panels of nr columns over kc rows, in `wbits` storage.
struct QPackedWeights {
  int wbits = 8;
  size_t n = 0, k = 0, kc = 0;
  size_t panel_bytes = 0;     // bytes of one stored panel
  size_t unpacked_bytes = 0;  // bytes of one panel unpacked to int8 (nr * kc rounded up to whole storage blocks)
  std::vector<uint8_t> data;
};

// w: int8 codes [n][k] (row stride ldw), each within the symmetric range of wbits (2..8; checked, throws
// std::invalid_argument otherwise).
QPackedWeights qgemm_pack(const QGemmConfig& config, const int8_t* w, size_t ldw, size_t n, size_t k, int wbits);

// Scratch bytes qgemm needs for these weights: one unpacked panel (unpacked_bytes), or 0 when no panel is ever
// unpacked (8-bit storage, wbits 5..8, or the config's direct kernels cover every M at this kc); scratch may then be
// nullptr. Any alignment works; 64-byte alignment is fastest.
size_t qgemm_scratch_bytes(const QGemmConfig& config, const QPackedWeights& w);

// out[m][n] for A [m][kc] (row stride lda >= kc, bytes k..kc-1 of each row zero; nothing past byte kc-1 of a row is
// read). out: uint8 codes with row stride ldc bytes, or float with row stride ldc floats when float_out; params
// cover all n columns. Loop order: blocks of rows of A sized for L2, then panels (each sub-byte panel unpacked into
// scratch once per row block, or read directly; see QGemmConfig), then mr-row tiles. Single-threaded, allocates
// nothing; threads may split M and call this on disjoint row ranges, each with its own scratch.
void qgemm(const QGemmConfig& config, size_t m, const uint8_t* a, size_t lda, const QPackedWeights& w, void* out,
           size_t ldc, const RequantParams& params, bool float_out, int8_t* scratch);

// Indirect qgemm (config.iukernel required): out[m][n] for A rows read as QIGemmUkernel describes (rows: m
// pointers; cg % config.kr == 0 and taps * cg == w.kc). Loop order as qgemm: panels (a sub-byte panel unpacked into
// scratch, which must hold qgemm_indirect_scratch_bytes), then mr-row tiles. Single-threaded, allocates nothing.
void qgemm_indirect(const QGemmConfig& config, size_t m, const uint8_t* const* rows, const ptrdiff_t* tap_offsets,
                    size_t taps, size_t cg, const QPackedWeights& w, void* out, size_t ldc, const RequantParams& params,
                    bool float_out, int8_t* scratch);
// Strided qgemm (config.sukernel required): out[m][n] for A rows read as QSGemmUkernel describes, in tiles of smr
// rows. Scratch and loop order as qgemm_indirect. Single-threaded, allocates nothing.
void qgemm_strided(const QGemmConfig& config, size_t m, const uint8_t* a, size_t row_stride,
                   const ptrdiff_t* tap_offsets, size_t taps, size_t cg, const QPackedWeights& w, void* out, size_t ldc,
                   const RequantParams& params, bool float_out, int8_t* scratch);
// Scratch bytes qgemm_indirect and qgemm_strided need for these weights: 0 for 8-bit storage, else one unpacked panel.
size_t qgemm_indirect_scratch_bytes(const QPackedWeights& w);

}  // namespace arq::kernels
