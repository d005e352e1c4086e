// qu8-qs8-gemm microkernels, 12x16c4 tile, AVX-512 VNNI: the panel for layers of at most 16 output columns
// (qgemm_config(isa, n) picks it), where the 8x32 tile would compute as many zero columns as real ones. 12 zmm int32
// accumulators (12 rows x one vector of 16 columns); per k-group of 4 one 64-byte panel vector, then per row one
// broadcast A dword and one vpdpbusd. Two variants with identical sums:
//   12x16c4:  A rows at a + i * lda (the qgemm contract);
//   12x16c4 indirect:  A rows through row pointers and per-tap offsets (QIGemmUkernel, convolutions without im2col).
// No software prefetch: narrow layers' weights are small and stay in L1/L2 across row tiles. Epilogue: store_tile
// (avx512vnni-tile.h, = requant.h). Each variant is compiled once per row count 1..12 and dispatched on m.
// 12 rows: 16 spill the indirect variant's row pointers (docs/benchmarks.md).
#include <cstddef>
#include <cstdint>

#include "kernels/qu8-qs8-gemm/avx512vnni-tile.h"
#include "kernels/qu8-qs8-gemm/qgemm.h"

namespace arq::kernels {
namespace {

using vnni::load_dword;
using vnni::store_tile;

#define ARQ_DECLARE_ROW(i)           \
  const uint8_t* a##i = a + (i)*lda; \
  __m512i c##i = _mm512_setzero_si512();
#define ARQ_IDECLARE_ROW(i) __m512i c##i = _mm512_setzero_si512();
#define ARQ_ITAP_ROW(i) const uint8_t* a##i = rows[i] + o;
#define ARQ_STEP_ROW(i) c##i = _mm512_dpbusd_epi32(c##i, _mm512_set1_epi32(load_dword(a##i + g)), w0);
#define ARQ_SAVE_ROW(i) acc[i][0] = c##i;
#define ARQ_STORE(MR, ROWS) \
  __m512i acc[MR][1];       \
  ROWS(ARQ_SAVE_ROW)        \
  store_tile<MR, 1, 0>(acc, n, out, ldc, params, float_out);

#define ARQ_TILE_S8(MR, ROWS)                                                                                 \
  void s8_rows##MR(size_t n, size_t kc, const uint8_t* a, size_t lda, const int8_t* w, void* out, size_t ldc, \
                   const RequantParams& params, bool float_out) {                                             \
    ROWS(ARQ_DECLARE_ROW)                                                                                     \
    for (size_t g = 0; g < kc; g += 4, w += 64) {                                                             \
      const __m512i w0 = _mm512_loadu_si512(w);                                                               \
      ROWS(ARQ_STEP_ROW)                                                                                      \
    }                                                                                                         \
    ARQ_STORE(MR, ROWS)                                                                                       \
  }
#define ARQ_ITILE_S8(MR, ROWS)                                                                                 \
  void i8_rows##MR(size_t n, size_t taps, size_t cg, const uint8_t* const* rows, const ptrdiff_t* tap_offsets, \
                   const int8_t* w, void* out, size_t ldc, const RequantParams& params, bool float_out) {      \
    ROWS(ARQ_IDECLARE_ROW)                                                                                     \
    for (size_t t = 0; t < taps; ++t) {                                                                        \
      const ptrdiff_t o = tap_offsets[t];                                                                      \
      ROWS(ARQ_ITAP_ROW)                                                                                       \
      for (size_t g = 0; g < cg; g += 4, w += 64) {                                                            \
        const __m512i w0 = _mm512_loadu_si512(w);                                                              \
        ROWS(ARQ_STEP_ROW)                                                                                     \
      }                                                                                                        \
    }                                                                                                          \
    ARQ_STORE(MR, ROWS)                                                                                        \
  }
#define ARQ_BOTH(MR, ROWS) ARQ_TILE_S8(MR, ROWS) ARQ_ITILE_S8(MR, ROWS)

ARQ_BOTH(1, ARQ_VNNI_ROWS_1)
ARQ_BOTH(2, ARQ_VNNI_ROWS_2)
ARQ_BOTH(3, ARQ_VNNI_ROWS_3)
ARQ_BOTH(4, ARQ_VNNI_ROWS_4)
ARQ_BOTH(5, ARQ_VNNI_ROWS_5)
ARQ_BOTH(6, ARQ_VNNI_ROWS_6)
ARQ_BOTH(7, ARQ_VNNI_ROWS_7)
ARQ_BOTH(8, ARQ_VNNI_ROWS_8)
ARQ_BOTH(9, ARQ_VNNI_ROWS_9)
ARQ_BOTH(10, ARQ_VNNI_ROWS_10)
ARQ_BOTH(11, ARQ_VNNI_ROWS_11)
ARQ_BOTH(12, ARQ_VNNI_ROWS_12)

constexpr size_t kMr = 12;
// Indexed by the row count (m >= 1; index 0 unused).
using S8Fn = void (*)(size_t, size_t, const uint8_t*, size_t, const int8_t*, void*, size_t, const RequantParams&, bool);
using I8Fn = void (*)(size_t, size_t, size_t, const uint8_t* const*, const ptrdiff_t*, const int8_t*, void*, size_t,
                      const RequantParams&, bool);
constexpr S8Fn kS8[] = {s8_rows1, s8_rows1, s8_rows2, s8_rows3,  s8_rows4,  s8_rows5, s8_rows6,
                        s8_rows7, s8_rows8, s8_rows9, s8_rows10, s8_rows11, s8_rows12};
constexpr I8Fn kI8[] = {i8_rows1, i8_rows1, i8_rows2, i8_rows3,  i8_rows4,  i8_rows5, i8_rows6,
                        i8_rows7, i8_rows8, i8_rows9, i8_rows10, i8_rows11, i8_rows12};

}  // namespace

void qu8_qs8_gemm_ukernel_12x16c4__avx512vnni(size_t m, size_t n, size_t kc, const uint8_t* a, size_t lda,
                                              const int8_t* w, void* out, size_t ldc, const RequantParams& params,
                                              bool float_out) {
  kS8[m < kMr ? m : kMr](n, kc, a, lda, w, out, ldc, params, float_out);
}
void qu8_qs8_igemm_ukernel_12x16c4__avx512vnni(size_t m, size_t n, size_t taps, size_t cg, const uint8_t* const* rows,
                                               const ptrdiff_t* tap_offsets, const int8_t* w, void* out, size_t ldc,
                                               const RequantParams& params, bool float_out) {
  kI8[m < kMr ? m : kMr](n, taps, cg, rows, tap_offsets, w, out, ldc, params, float_out);
}

}  // namespace arq::kernels
