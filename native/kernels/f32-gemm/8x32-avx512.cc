// f32-gemm microkernel, 8x32 tile, AVX-512F: 16 zmm accumulators (8 rows x 2 vectors of 16 columns); each k step
// loads two vectors of the packed panel and broadcasts one A value per row. Every row runs the same instruction
// sequence (bias, then one FMA per k in order), so a value does not depend on the row it occupies in the tile;
// rows past m alias the last valid row (computed, never stored); columns past n are masked off at the store.
#include <cstddef>

#include "common/avx512-intrinsics.h"
#include "kernels/f32-gemm/f32-gemm.h"

namespace arq::kernels {
namespace {

template <size_t kMr>
inline void gemm_tile(size_t m, size_t n, size_t k, const float* a, size_t lda, const float* w, float* c, size_t ldc,
                      float min, float max) {
  const float* ar[kMr];
  ar[0] = a;
  for (size_t i = 1; i < kMr; ++i) ar[i] = i < m ? ar[i - 1] + lda : ar[i - 1];

  __m512 acc[kMr][2];
  acc[0][0] = _mm512_loadu_ps(w);
  acc[0][1] = _mm512_loadu_ps(w + 16);
  for (size_t i = 1; i < kMr; ++i) {
    acc[i][0] = acc[0][0];
    acc[i][1] = acc[0][1];
  }
  w += 32;

  for (size_t p = 0; p < k; ++p) {
    const __m512 b0 = _mm512_loadu_ps(w);
    const __m512 b1 = _mm512_loadu_ps(w + 16);
    w += 32;
    for (size_t i = 0; i < kMr; ++i) {
      const __m512 va = _mm512_set1_ps(ar[i][p]);
      acc[i][0] = _mm512_fmadd_ps(va, b0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(va, b1, acc[i][1]);
    }
  }

  const __m512 vmin = _mm512_set1_ps(min);
  const __m512 vmax = _mm512_set1_ps(max);
  const __mmask16 mask0 = n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1);
  const __mmask16 mask1 = n >= 32 ? __mmask16(0xFFFF) : n > 16 ? __mmask16((1u << (n - 16)) - 1) : __mmask16(0);
  for (size_t i = 0; i < kMr; ++i) {
    if (i < m) {
      float* ci = c + i * ldc;
      _mm512_mask_storeu_ps(ci, mask0, _mm512_min_ps(_mm512_max_ps(acc[i][0], vmin), vmax));
      _mm512_mask_storeu_ps(ci + 16, mask1, _mm512_min_ps(_mm512_max_ps(acc[i][1], vmin), vmax));
    }
  }
}

}  // namespace

void f32_gemm_ukernel_8x32__avx512(size_t m, size_t n, size_t k, const float* a, size_t lda, const float* w, float* c,
                                   size_t ldc, float min, float max) {
  gemm_tile<8>(m, n, k, a, lda, w, c, ldc, min, max);
}

}  // namespace arq::kernels
