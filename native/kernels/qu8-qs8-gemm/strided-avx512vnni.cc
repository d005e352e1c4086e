// qu8-qs8-gemm strided microkernels, AVX-512 VNNI (QSGemmUkernel): one output row of a convolution, whose pixels'
// input windows are equally spaced, so row i of A starts at a + i * row_stride and no row pointers are needed. With
// the stride a compile-time constant every row's broadcast is [p + i * stride + g], one base register per tap, where
// the pointer-based indirect kernels keep a register per row (12 rows spill on x86-64's 16 registers). Two tiles:
//   16x16c4: layers of at most 16 output columns (16 zmm accumulators, one 64-byte panel vector per k-group);
//   8x32c4:  wider layers (16 accumulators, two panel vectors per k-group), the 8x32c4 tile's shape.
// Every tile height of both shapes is compiled for the strides of common convolutions (channels per pixel x conv
// stride: 4, 16, 32, 64, 128; pick_tile); other strides run the same code with the stride in a register, which is
// slower even for short tiles (a 28-pixel row is a 16-row tile and a 12-row one). The same k-groups in the same order
// as the direct and indirect kernels (the kw3 tiles below: another order), so the sums are identical. Epilogue:
// store_tile (avx512vnni-tile.h, = requant.h), with the accumulators starting at -correction.
// With stride 4 (a first layer of 4 padded channels) row i + 1 at k-group g reads what row i reads at g + 1, and
// GCC's predictive commoning then carries the loaded dwords between iterations in general registers, spills the
// panel pointer and broadcasts from those registers, a third of the speed; it is off for this file, so each
// broadcast reads memory again.
// A stride-1 kernel row of 3 taps (cg = 3 * row_stride: three pixels of row_stride bytes) shares broadcasts across
// its taps in the 16-column tile, whose loads, not its multiplies, bound it: the dword of input pixel x, channel
// group g, is what row i reads at tap x - i, so per channel group one broadcast of each of the tile's rows + 2 pixels
// feeds up to 3 rows' vpdpbusd (18 broadcasts per 48 instead of 48). The same products, summed in another order:
// int32 sums wrap exactly, so the results are identical. The 32-column tile loads half as much per multiply and
// has no such variant. Measurements: docs/benchmarks.md.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-predictive-commoning")
#endif
#include <cstddef>
#include <cstdint>

#include "kernels/qu8-qs8-gemm/avx512vnni-tile.h"
#include "kernels/qu8-qs8-gemm/qgemm.h"

namespace arq::kernels {
namespace {

using vnni::load_dword;
using vnni::negated_correction;
using vnni::store_tile;

// Stride kStride when nonzero, else the runtime `row_stride`.
#define ARQ_STRIDE (kStride != 0 ? kStride : row_stride)

// Per tile shape (16 columns: one accumulator per row; 32 columns: two), the accumulators' declaration, the panel
// vectors of one k-group, one row's step and the hand-over to store_tile.
#define ARQ_N16_DECLARE(i) __m512i c##i = init0;
#define ARQ_N16_WEIGHTS const __m512i w0 = _mm512_loadu_si512(w);
#define ARQ_N16_STEP(i) c##i = _mm512_dpbusd_epi32(c##i, _mm512_set1_epi32(load_dword(p + (i)*ARQ_STRIDE + g)), w0);
#define ARQ_N16_SAVE(i) acc[i][0] = c##i;
#define ARQ_N32_DECLARE(i) \
  __m512i c##i##0 = init0; \
  __m512i c##i##1 = init1;
#define ARQ_N32_WEIGHTS                     \
  const __m512i w0 = _mm512_loadu_si512(w); \
  const __m512i w1 = _mm512_loadu_si512(w + 64);
#define ARQ_N32_STEP(i)                                                       \
  {                                                                           \
    const __m512i va = _mm512_set1_epi32(load_dword(p + (i)*ARQ_STRIDE + g)); \
    c##i##0 = _mm512_dpbusd_epi32(c##i##0, va, w0);                           \
    c##i##1 = _mm512_dpbusd_epi32(c##i##1, va, w1);                           \
  }
#define ARQ_N32_SAVE(i) \
  acc[i][0] = c##i##0;  \
  acc[i][1] = c##i##1;

// One 16-column row's step over one channel group g of a 3-tap kernel row: taps 0, 1, 2 read pixels i, i + 1, i + 2
// (the compiler loads each pixel's broadcast once for the rows that share it).
#define ARQ_KW3_STEP(i)                                                                                \
  c##i = _mm512_dpbusd_epi32(c##i, _mm512_set1_epi32(load_dword(p + ((i) + 0) * ARQ_STRIDE + g)), w0); \
  c##i = _mm512_dpbusd_epi32(c##i, _mm512_set1_epi32(load_dword(p + ((i) + 1) * ARQ_STRIDE + g)), w1); \
  c##i = _mm512_dpbusd_epi32(c##i, _mm512_set1_epi32(load_dword(p + ((i) + 2) * ARQ_STRIDE + g)), w2);

// One tile of MR rows and NV column vectors (N = 16 or 32) over every tap and k-group.
#define ARQ_TILE(N, NV, MR, ROWS)                                                               \
  template <size_t kStride>                                                                     \
  void n##N##_rows##MR(size_t n, size_t taps, size_t cg, const uint8_t* a, size_t row_stride,   \
                       const ptrdiff_t* tap_offsets, const int8_t* w, void* out, size_t ldc,    \
                       const RequantParams& params, bool float_out) {                           \
    const __m512i init0 = negated_correction(params, n, 0);                                     \
    [[maybe_unused]] const __m512i init1 = (NV) > 1 ? negated_correction(params, n, 1) : init0; \
    ROWS(ARQ_N##N##_DECLARE)                                                                    \
    for (size_t t = 0; t < taps; ++t) {                                                         \
      const uint8_t* p = a + tap_offsets[t];                                                    \
      for (size_t g = 0; g < cg; g += 4, w += 64 * (NV)) {                                      \
        ARQ_N##N##_WEIGHTS ROWS(ARQ_N##N##_STEP)                                                \
      }                                                                                         \
    }                                                                                           \
    __m512i acc[MR][NV];                                                                        \
    ROWS(ARQ_N##N##_SAVE)                                                                       \
    store_tile<MR, NV, 0, true>(acc, n, out, ldc, params, float_out);                           \
  }
// The 16-column tile of MR rows for 3-tap kernel rows of stride 1 (cg = 3 * row_stride): per tap (kernel row) and
// channel group g, the panel vectors of the three taps' k-groups (k = tap * row_stride + g), then ARQ_KW3_STEP.
#define ARQ_KW3_TILE(MR, ROWS)                                                                                         \
  template <size_t kStride>                                                                                            \
  void kw3_rows##MR(size_t n, size_t taps, size_t /*cg*/, const uint8_t* a, size_t row_stride,                         \
                    const ptrdiff_t* tap_offsets, const int8_t* w, void* out, size_t ldc, const RequantParams& params, \
                    bool float_out) {                                                                                  \
    const __m512i init0 = negated_correction(params, n, 0);                                                            \
    ROWS(ARQ_N16_DECLARE)                                                                                              \
    for (size_t t = 0; t < taps; ++t, w += 3 * 16 * ARQ_STRIDE) {                                                      \
      const uint8_t* p = a + tap_offsets[t];                                                                           \
      for (size_t g = 0; g < ARQ_STRIDE; g += 4) {                                                                     \
        const __m512i w0 = _mm512_loadu_si512(w + 16 * g);                                                             \
        const __m512i w1 = _mm512_loadu_si512(w + 16 * (ARQ_STRIDE + g));                                              \
        const __m512i w2 = _mm512_loadu_si512(w + 16 * (2 * ARQ_STRIDE + g));                                          \
        ROWS(ARQ_KW3_STEP)                                                                                             \
      }                                                                                                                \
    }                                                                                                                  \
    __m512i acc[MR][1];                                                                                                \
    ROWS(ARQ_N16_SAVE)                                                                                                 \
    store_tile<MR, 1, 0, true>(acc, n, out, ldc, params, float_out);                                                   \
  }
#define ARQ_N16_TILE(MR, ROWS) ARQ_TILE(16, 1, MR, ROWS) ARQ_KW3_TILE(MR, ROWS)
#define ARQ_N32_TILE(MR, ROWS) ARQ_TILE(32, 2, MR, ROWS)

ARQ_N16_TILE(1, ARQ_VNNI_ROWS_1)
ARQ_N16_TILE(2, ARQ_VNNI_ROWS_2)
ARQ_N16_TILE(3, ARQ_VNNI_ROWS_3)
ARQ_N16_TILE(4, ARQ_VNNI_ROWS_4)
ARQ_N16_TILE(5, ARQ_VNNI_ROWS_5)
ARQ_N16_TILE(6, ARQ_VNNI_ROWS_6)
ARQ_N16_TILE(7, ARQ_VNNI_ROWS_7)
ARQ_N16_TILE(8, ARQ_VNNI_ROWS_8)
ARQ_N16_TILE(9, ARQ_VNNI_ROWS_9)
ARQ_N16_TILE(10, ARQ_VNNI_ROWS_10)
ARQ_N16_TILE(11, ARQ_VNNI_ROWS_11)
ARQ_N16_TILE(12, ARQ_VNNI_ROWS_12)
ARQ_N16_TILE(13, ARQ_VNNI_ROWS_13)
ARQ_N16_TILE(14, ARQ_VNNI_ROWS_14)
ARQ_N16_TILE(15, ARQ_VNNI_ROWS_15)
ARQ_N16_TILE(16, ARQ_VNNI_ROWS_16)
ARQ_N32_TILE(1, ARQ_VNNI_ROWS_1)
ARQ_N32_TILE(2, ARQ_VNNI_ROWS_2)
ARQ_N32_TILE(3, ARQ_VNNI_ROWS_3)
ARQ_N32_TILE(4, ARQ_VNNI_ROWS_4)
ARQ_N32_TILE(5, ARQ_VNNI_ROWS_5)
ARQ_N32_TILE(6, ARQ_VNNI_ROWS_6)
ARQ_N32_TILE(7, ARQ_VNNI_ROWS_7)
ARQ_N32_TILE(8, ARQ_VNNI_ROWS_8)

using Tile = void (*)(size_t, size_t, size_t, const uint8_t*, size_t, const ptrdiff_t*, const int8_t*, void*, size_t,
                      const RequantParams&, bool);
// Tiles indexed by the row count (index 0 unused), for stride S (0: at run time).
#define ARQ_TILES_16(F)                                                                                             \
  {                                                                                                                 \
    F##_rows1<S>, F##_rows1<S>, F##_rows2<S>, F##_rows3<S>, F##_rows4<S>, F##_rows5<S>, F##_rows6<S>, F##_rows7<S>, \
        F##_rows8<S>, F##_rows9<S>, F##_rows10<S>, F##_rows11<S>, F##_rows12<S>, F##_rows13<S>, F##_rows14<S>,      \
        F##_rows15<S>, F##_rows16<S>                                                                                \
  }
template <size_t S>
struct N16Tiles {
  static constexpr Tile at[] = ARQ_TILES_16(n16);
};
template <size_t S>
struct Kw3Tiles {
  static constexpr Tile at[] = ARQ_TILES_16(kw3);
};
template <size_t S>
struct N32Tiles {
  static constexpr Tile at[] = {n32_rows1<S>, n32_rows1<S>, n32_rows2<S>, n32_rows3<S>, n32_rows4<S>,
                                n32_rows5<S>, n32_rows6<S>, n32_rows7<S>, n32_rows8<S>};
};

// The tile of `rows` rows for this stride, compiled for the common strides.
template <template <size_t> class Tiles>
Tile pick_tile(size_t rows, size_t row_stride) {
  switch (row_stride) {
    case 4:
      return Tiles<4>::at[rows];
    case 16:
      return Tiles<16>::at[rows];
    case 32:
      return Tiles<32>::at[rows];
    case 64:
      return Tiles<64>::at[rows];
    case 128:
      return Tiles<128>::at[rows];
    default:
      return Tiles<0>::at[rows];
  }
}

}  // namespace

void qu8_qs8_sgemm_ukernel_16x16c4__avx512vnni(size_t m, size_t n, size_t taps, size_t cg, const uint8_t* a,
                                               size_t row_stride, const ptrdiff_t* tap_offsets, const int8_t* w,
                                               void* out, size_t ldc, const RequantParams& params, bool float_out) {
  const size_t rows = m < 16 ? m : 16;
  const Tile tile =
      cg == 3 * row_stride ? pick_tile<Kw3Tiles>(rows, row_stride) : pick_tile<N16Tiles>(rows, row_stride);
  tile(n, taps, cg, a, row_stride, tap_offsets, w, out, ldc, params, float_out);
}

void qu8_qs8_sgemm_ukernel_8x32c4__avx512vnni(size_t m, size_t n, size_t taps, size_t cg, const uint8_t* a,
                                              size_t row_stride, const ptrdiff_t* tap_offsets, const int8_t* w,
                                              void* out, size_t ldc, const RequantParams& params, bool float_out) {
  const Tile tile = pick_tile<N32Tiles>(m < 8 ? m : 8, row_stride);
  tile(n, taps, cg, a, row_stride, tap_offsets, w, out, ldc, params, float_out);
}

}  // namespace arq::kernels
