// qu8-qs8-gemm microkernels, 8x32c4 tile, AVX-512 VNNI: 16 zmm int32 accumulators (8 rows x 2 vectors of 16
// columns). Per k-group of 4: two 64-byte vectors of the c4 panel (16 columns x 4 k each), then per row one
// broadcast A dword (4 uint8 codes) and one vpdpbusd per vector (u8 x s8 products summed in 4s into int32, no
// saturation). Three variants differ only in where the two weight vectors come from:
//   8x32c4:    int8 panel (8-bit storage, or a sub-byte panel already unpacked into scratch);
//   8x32c4s4:  4-bit storage read directly: one 64-byte block is exactly one k-group (low nibbles = columns 0-15,
//              high nibbles = columns 16-31);
//   8x32c4s2:  2-bit storage read directly: one 64-byte block is two k-groups (fields 0, 1 = group g; 2, 3 = g+1).
// The direct variants move each field to the top of its byte (shift + and), where as an int8 it reads as 2^(8-bits)
// times the signed code, and shift the int32 sums right by 8-bits at the end: exact while |sum| * 2^(8-bits) fits in
// int32, which kc <= kQGemmDirectMaxKc guarantees. All three compute identical int32 sums.
// Plus the indirect int8 variant (QIGemmUkernel: A rows through row pointers and per-tap offsets, for convolutions
// without an im2col buffer), the same k-groups in the same order as 8x32c4.
// Each variant is compiled once per row count 1..8 and dispatched on m, so a short tile computes only its rows.
// Epilogue = requant.h: acc - correction, cvtepi32_ps (nearest even), _mm512_fmadd_ps, max/min clamp, cvtps_epi32
// under the default MXCSR (nearest even), then int32 -> uint8 (already within [0, 255]); columns past n are masked.
// 8 rows: the fewest that reach the vpdpbusd peak (tile heights compared in docs/benchmarks.md).
// Also the AVX-512 sub-byte unpacker (one 64-byte storage block per step, vpshufb sign-extension tables).
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/qu8-qs8-gemm/avx512vnni-tile.h"
#include "kernels/qu8-qs8-gemm/qgemm.h"

namespace arq::kernels {
namespace {

using vnni::load_dword;
using vnni::store_tile;

// vpshufb tables (the same 16 bytes in every 128-bit lane): a 4-bit or 2-bit two's-complement field -> int8.
inline __m512i s4_table() {
  return _mm512_set4_epi32(static_cast<int>(0xFFFEFDFCu), static_cast<int>(0xFBFAF9F8u), 0x07060504, 0x03020100);
}
inline __m512i s2_table() { return _mm512_set4_epi32(0, 0, 0, static_cast<int>(0xFFFE0100u)); }

// Field `shift` of every byte of v (fields of `mask` bits), sign-extended through `table`.
inline __m512i field(__m512i v, int shift, __m512i mask, __m512i table) {
  const __m512i f = shift == 0 ? v : _mm512_srli_epi16(v, static_cast<unsigned>(shift));
  return _mm512_shuffle_epi8(table, _mm512_and_si512(f, mask));
}

// Weights are read once per row tile in a single sequential stream (panels are contiguous); when they come from
// DRAM (small M, weights larger than the caches) the hardware prefetchers alone keep too few lines in flight, so the
// kernel prefetches 16 KiB ahead (docs/benchmarks.md). Prefetching past the last panel is harmless.
constexpr size_t kPrefetchBytes = 16384;
inline void prefetch_weights(const int8_t* w) {
  _mm_prefetch(reinterpret_cast<const char*>(w) + kPrefetchBytes, _MM_HINT_T0);
}

// Field of every byte moved to the top of the byte: (v << shift) & mask, mask 0xF0 (4-bit) or 0xC0 (2-bit).
inline __m512i top_field(__m512i v, unsigned shift, __m512i mask) {
  return _mm512_and_si512(shift == 0 ? v : _mm512_slli_epi16(v, shift), mask);
}

// The k loops are written with one named variable per accumulator and row pointer (macros over the row list):
// GCC 12 keeps an array of zmm accumulators in registers only by copying it around the loop.
#define ARQ_DECLARE_ROW(i)                  \
  const uint8_t* a##i = a + (i)*lda;        \
  __m512i c##i##0 = _mm512_setzero_si512(); \
  __m512i c##i##1 = _mm512_setzero_si512();
#define ARQ_STEP_ROW(i)                                         \
  {                                                             \
    const __m512i va = _mm512_set1_epi32(load_dword(a##i + g)); \
    c##i##0 = _mm512_dpbusd_epi32(c##i##0, va, w0);             \
    c##i##1 = _mm512_dpbusd_epi32(c##i##1, va, w1);             \
  }
#define ARQ_SAVE_ROW(i) \
  acc[i][0] = c##i##0;  \
  acc[i][1] = c##i##1;
#define ARQ_TILE_SIGNATURE(NAME)                                                                       \
  void NAME(size_t n, size_t kc, const uint8_t* a, size_t lda, const int8_t* w, void* out, size_t ldc, \
            const RequantParams& params, bool float_out)
#define ARQ_STORE(MR, ROWS, SHIFT) \
  __m512i acc[MR][2];              \
  ROWS(ARQ_SAVE_ROW)               \
  store_tile<MR, 2, SHIFT>(acc, n, out, ldc, params, float_out);

// int8 panel.
#define ARQ_TILE_S8(NAME, MR, ROWS)                  \
  ARQ_TILE_SIGNATURE(NAME) {                         \
    ROWS(ARQ_DECLARE_ROW)                            \
    for (size_t g = 0; g < kc; g += 4, w += 128) {   \
      prefetch_weights(w);                           \
      prefetch_weights(w + 64);                      \
      const __m512i w0 = _mm512_loadu_si512(w);      \
      const __m512i w1 = _mm512_loadu_si512(w + 64); \
      ROWS(ARQ_STEP_ROW)                             \
    }                                                \
    ARQ_STORE(MR, ROWS, 0)                           \
  }
// 4-bit storage (w points at the stored panel): sums scaled by 16.
#define ARQ_TILE_S4(NAME, MR, ROWS)                                 \
  ARQ_TILE_SIGNATURE(NAME) {                                        \
    const __m512i mask = _mm512_set1_epi8(static_cast<char>(0xF0)); \
    ROWS(ARQ_DECLARE_ROW)                                           \
    for (size_t g = 0; g < kc; g += 4, w += 64) {                   \
      prefetch_weights(w);                                          \
      const __m512i v = _mm512_loadu_si512(w);                      \
      const __m512i w0 = top_field(v, 4, mask);                     \
      const __m512i w1 = top_field(v, 0, mask);                     \
      ROWS(ARQ_STEP_ROW)                                            \
    }                                                               \
    ARQ_STORE(MR, ROWS, 4)                                          \
  }
// 2-bit storage (w points at the stored panel): sums scaled by 64. An odd last k-group (the first half of the last
// block) is done first, so the k loop has no tail after it (GCC would copy the accumulators around the loop).
#define ARQ_TILE_S2(NAME, MR, ROWS)                                 \
  ARQ_TILE_SIGNATURE(NAME) {                                        \
    const __m512i mask = _mm512_set1_epi8(static_cast<char>(0xC0)); \
    ROWS(ARQ_DECLARE_ROW)                                           \
    const size_t pairs_end = kc / 8 * 8;                            \
    if (pairs_end != kc) {                                          \
      const size_t g = pairs_end;                                   \
      const __m512i v = _mm512_loadu_si512(w + pairs_end / 8 * 64); \
      const __m512i w0 = top_field(v, 6, mask);                     \
      const __m512i w1 = top_field(v, 4, mask);                     \
      ROWS(ARQ_STEP_ROW)                                            \
    }                                                               \
    for (size_t g = 0; g < pairs_end; g += 4, w += 64) {            \
      prefetch_weights(w);                                          \
      const __m512i v = _mm512_loadu_si512(w);                      \
      {                                                             \
        const __m512i w0 = top_field(v, 6, mask);                   \
        const __m512i w1 = top_field(v, 4, mask);                   \
        ROWS(ARQ_STEP_ROW)                                          \
      }                                                             \
      g += 4;                                                       \
      const __m512i w0 = top_field(v, 2, mask);                     \
      const __m512i w1 = top_field(v, 0, mask);                     \
      ROWS(ARQ_STEP_ROW)                                            \
    }                                                               \
    ARQ_STORE(MR, ROWS, 6)                                          \
  }

// int8 panel, A read through row pointers and per-tap offsets (the indirect contract of qgemm.h): the same k-groups
// in the same order as the direct kernel over an im2col row, so the sums are identical. Weights stay in L1/L2 across
// the tiles of a conv layer, so no software prefetch.
#define ARQ_IDECLARE_ROW(i)                 \
  __m512i c##i##0 = _mm512_setzero_si512(); \
  __m512i c##i##1 = _mm512_setzero_si512();
#define ARQ_ITAP_ROW(i) const uint8_t* a##i = rows[i] + o;
#define ARQ_ITILE_S8(NAME, MR, ROWS)                                                                    \
  void NAME(size_t n, size_t taps, size_t cg, const uint8_t* const* rows, const ptrdiff_t* tap_offsets, \
            const int8_t* w, void* out, size_t ldc, const RequantParams& params, bool float_out) {      \
    ROWS(ARQ_IDECLARE_ROW)                                                                              \
    for (size_t t = 0; t < taps; ++t) {                                                                 \
      const ptrdiff_t o = tap_offsets[t];                                                               \
      ROWS(ARQ_ITAP_ROW)                                                                                \
      for (size_t g = 0; g < cg; g += 4, w += 128) {                                                    \
        const __m512i w0 = _mm512_loadu_si512(w);                                                       \
        const __m512i w1 = _mm512_loadu_si512(w + 64);                                                  \
        ROWS(ARQ_STEP_ROW)                                                                              \
      }                                                                                                 \
    }                                                                                                   \
    ARQ_STORE(MR, ROWS, 0)                                                                              \
  }

#define ARQ_ALL_ROWS(TILE, PREFIX)    \
  TILE(PREFIX##1, 1, ARQ_VNNI_ROWS_1) \
  TILE(PREFIX##2, 2, ARQ_VNNI_ROWS_2) \
  TILE(PREFIX##3, 3, ARQ_VNNI_ROWS_3) \
  TILE(PREFIX##4, 4, ARQ_VNNI_ROWS_4) \
  TILE(PREFIX##5, 5, ARQ_VNNI_ROWS_5) \
  TILE(PREFIX##6, 6, ARQ_VNNI_ROWS_6) \
  TILE(PREFIX##7, 7, ARQ_VNNI_ROWS_7) \
  TILE(PREFIX##8, 8, ARQ_VNNI_ROWS_8)

ARQ_ALL_ROWS(ARQ_TILE_S8, s8_rows)
ARQ_ALL_ROWS(ARQ_TILE_S4, s4_rows)
ARQ_ALL_ROWS(ARQ_TILE_S2, s2_rows)
ARQ_ALL_ROWS(ARQ_ITILE_S8, i8_rows)

}  // namespace

#define ARQ_DISPATCH(PREFIX)                                           \
  switch (m) {                                                         \
    case 1:                                                            \
      return PREFIX##1(n, kc, a, lda, w, out, ldc, params, float_out); \
    case 2:                                                            \
      return PREFIX##2(n, kc, a, lda, w, out, ldc, params, float_out); \
    case 3:                                                            \
      return PREFIX##3(n, kc, a, lda, w, out, ldc, params, float_out); \
    case 4:                                                            \
      return PREFIX##4(n, kc, a, lda, w, out, ldc, params, float_out); \
    case 5:                                                            \
      return PREFIX##5(n, kc, a, lda, w, out, ldc, params, float_out); \
    case 6:                                                            \
      return PREFIX##6(n, kc, a, lda, w, out, ldc, params, float_out); \
    case 7:                                                            \
      return PREFIX##7(n, kc, a, lda, w, out, ldc, params, float_out); \
    default:                                                           \
      return PREFIX##8(n, kc, a, lda, w, out, ldc, params, float_out); \
  }

void qu8_qs8_gemm_ukernel_8x32c4__avx512vnni(size_t m, size_t n, size_t kc, const uint8_t* a, size_t lda,
                                             const int8_t* w, void* out, size_t ldc, const RequantParams& params,
                                             bool float_out) {
  ARQ_DISPATCH(s8_rows)
}
void qu8_qs8_gemm_ukernel_8x32c4s4__avx512vnni(size_t m, size_t n, size_t kc, const uint8_t* a, size_t lda,
                                               const int8_t* w, void* out, size_t ldc, const RequantParams& params,
                                               bool float_out) {
  ARQ_DISPATCH(s4_rows)
}
void qu8_qs8_gemm_ukernel_8x32c4s2__avx512vnni(size_t m, size_t n, size_t kc, const uint8_t* a, size_t lda,
                                               const int8_t* w, void* out, size_t ldc, const RequantParams& params,
                                               bool float_out) {
  ARQ_DISPATCH(s2_rows)
}

#define ARQ_IDISPATCH(PREFIX)                                                           \
  switch (m) {                                                                          \
    case 1:                                                                             \
      return PREFIX##1(n, taps, cg, rows, tap_offsets, w, out, ldc, params, float_out); \
    case 2:                                                                             \
      return PREFIX##2(n, taps, cg, rows, tap_offsets, w, out, ldc, params, float_out); \
    case 3:                                                                             \
      return PREFIX##3(n, taps, cg, rows, tap_offsets, w, out, ldc, params, float_out); \
    case 4:                                                                             \
      return PREFIX##4(n, taps, cg, rows, tap_offsets, w, out, ldc, params, float_out); \
    case 5:                                                                             \
      return PREFIX##5(n, taps, cg, rows, tap_offsets, w, out, ldc, params, float_out); \
    case 6:                                                                             \
      return PREFIX##6(n, taps, cg, rows, tap_offsets, w, out, ldc, params, float_out); \
    case 7:                                                                             \
      return PREFIX##7(n, taps, cg, rows, tap_offsets, w, out, ldc, params, float_out); \
    default:                                                                            \
      return PREFIX##8(n, taps, cg, rows, tap_offsets, w, out, ldc, params, float_out); \
  }

void qu8_qs8_igemm_ukernel_8x32c4__avx512vnni(size_t m, size_t n, size_t taps, size_t cg, const uint8_t* const* rows,
                                              const ptrdiff_t* tap_offsets, const int8_t* w, void* out, size_t ldc,
                                              const RequantParams& params, bool float_out) {
  ARQ_IDISPATCH(i8_rows)
}

void qu8_qs8_gemm_unpack__avx512vnni(const uint8_t* packed, int8_t* panel, size_t bytes_unpacked, int wbits) {
  const int bits = qgemm_storage_bits(wbits);
  if (bits == 8) {
    std::memcpy(panel, packed, bytes_unpacked);
    return;
  }
  if (bits == 4) {
    const __m512i table = s4_table();
    const __m512i mask = _mm512_set1_epi8(0x0F);
    for (size_t e = 0; e < bytes_unpacked; e += 128, packed += 64, panel += 128) {
      _mm_prefetch(reinterpret_cast<const char*>(packed) + kPrefetchBytes, _MM_HINT_T0);
      const __m512i v = _mm512_loadu_si512(packed);
      _mm512_storeu_si512(panel, field(v, 0, mask, table));
      _mm512_storeu_si512(panel + 64, field(v, 4, mask, table));
    }
    return;
  }
  const __m512i table = s2_table();
  const __m512i mask = _mm512_set1_epi8(0x03);
  for (size_t e = 0; e < bytes_unpacked; e += 256, packed += 64, panel += 256) {
    _mm_prefetch(reinterpret_cast<const char*>(packed) + kPrefetchBytes, _MM_HINT_T0);
    const __m512i v = _mm512_loadu_si512(packed);
    _mm512_storeu_si512(panel, field(v, 0, mask, table));
    _mm512_storeu_si512(panel + 64, field(v, 2, mask, table));
    _mm512_storeu_si512(panel + 128, field(v, 4, mask, table));
    _mm512_storeu_si512(panel + 192, field(v, 6, mask, table));
  }
}

}  // namespace arq::kernels
