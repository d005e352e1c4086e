// f32-gemm microkernel, 6x16 tile, AVX2 + FMA: 12 ymm accumulators (6 rows x 2 vectors of 8 columns); each k step
// loads two vectors of the packed panel and broadcasts one A value per row. Every row runs the same instruction
// sequence (bias, then one FMA per k in order, segment by segment), so a value does not depend on the row it occupies
// in the tile; rows past m alias the last valid row (computed, never stored) and columns past n are not stored.
#include <immintrin.h>

#include <cstddef>

#include "kernels/f32-gemm/f32-gemm.h"

namespace arq::kernels {
namespace {

// Stores the first n (< 8) lanes of v: 4, 2, 1 at a time.
inline void store_tail(float* c, __m256 v, size_t n) {
  __m128 x = _mm256_castps256_ps128(v);
  if (n & 4) {
    _mm_storeu_ps(c, x);
    x = _mm256_extractf128_ps(v, 1);
    c += 4;
  }
  if (n & 2) {
    _mm_storel_pi(reinterpret_cast<__m64*>(c), x);
    x = _mm_movehl_ps(x, x);
    c += 2;
  }
  if (n & 1) _mm_store_ss(c, x);
}

inline void store_row(float* c, __m256 v0, __m256 v1, size_t n) {
  if (n >= 16) {
    _mm256_storeu_ps(c, v0);
    _mm256_storeu_ps(c + 8, v1);
    return;
  }
  if (n >= 8) {
    _mm256_storeu_ps(c, v0);
    c += 8;
    n -= 8;
    v0 = v1;
  }
  store_tail(c, v0, n);
}

}  // namespace

void f32_gemm_ukernel_6x16__avx2(size_t m, size_t n, size_t k, size_t kseg, const float* a, size_t lda,
                                 size_t seg_stride, const float* w, float* c, size_t ldc, float min, float max) {
  const float* a0 = a;
  const float* a1 = m > 1 ? a0 + lda : a0;
  const float* a2 = m > 2 ? a1 + lda : a1;
  const float* a3 = m > 3 ? a2 + lda : a2;
  const float* a4 = m > 4 ? a3 + lda : a3;
  const float* a5 = m > 5 ? a4 + lda : a4;

  __m256 c00 = _mm256_loadu_ps(w);
  __m256 c01 = _mm256_loadu_ps(w + 8);
  __m256 c10 = c00, c11 = c01, c20 = c00, c21 = c01, c30 = c00, c31 = c01, c40 = c00, c41 = c01, c50 = c00, c51 = c01;
  w += 16;

  for (size_t s0 = 0; s0 < k; s0 += kseg) {
    if (s0 != 0) {  // the next segment (the row pointers are indexed by p within one)
      a0 += seg_stride, a1 += seg_stride, a2 += seg_stride, a3 += seg_stride, a4 += seg_stride, a5 += seg_stride;
    }
    const size_t len = k - s0 < kseg ? k - s0 : kseg;
    for (size_t p = 0; p < len; ++p) {
      const __m256 b0 = _mm256_loadu_ps(w);
      const __m256 b1 = _mm256_loadu_ps(w + 8);
      w += 16;
      __m256 va = _mm256_broadcast_ss(a0 + p);
      c00 = _mm256_fmadd_ps(va, b0, c00);
      c01 = _mm256_fmadd_ps(va, b1, c01);
      va = _mm256_broadcast_ss(a1 + p);
      c10 = _mm256_fmadd_ps(va, b0, c10);
      c11 = _mm256_fmadd_ps(va, b1, c11);
      va = _mm256_broadcast_ss(a2 + p);
      c20 = _mm256_fmadd_ps(va, b0, c20);
      c21 = _mm256_fmadd_ps(va, b1, c21);
      va = _mm256_broadcast_ss(a3 + p);
      c30 = _mm256_fmadd_ps(va, b0, c30);
      c31 = _mm256_fmadd_ps(va, b1, c31);
      va = _mm256_broadcast_ss(a4 + p);
      c40 = _mm256_fmadd_ps(va, b0, c40);
      c41 = _mm256_fmadd_ps(va, b1, c41);
      va = _mm256_broadcast_ss(a5 + p);
      c50 = _mm256_fmadd_ps(va, b0, c50);
      c51 = _mm256_fmadd_ps(va, b1, c51);
    }
  }

  const __m256 vmin = _mm256_set1_ps(min);
  const __m256 vmax = _mm256_set1_ps(max);
#define ARQ_CLAMP(x) x = _mm256_min_ps(_mm256_max_ps(x, vmin), vmax)
  ARQ_CLAMP(c00);
  ARQ_CLAMP(c01);
  ARQ_CLAMP(c10);
  ARQ_CLAMP(c11);
  ARQ_CLAMP(c20);
  ARQ_CLAMP(c21);
  ARQ_CLAMP(c30);
  ARQ_CLAMP(c31);
  ARQ_CLAMP(c40);
  ARQ_CLAMP(c41);
  ARQ_CLAMP(c50);
  ARQ_CLAMP(c51);
#undef ARQ_CLAMP

  // Highest row first; rows past m are skipped.
  if (m > 5) store_row(c + 5 * ldc, c50, c51, n);
  if (m > 4) store_row(c + 4 * ldc, c40, c41, n);
  if (m > 3) store_row(c + 3 * ldc, c30, c31, n);
  if (m > 2) store_row(c + 2 * ldc, c20, c21, n);
  if (m > 1) store_row(c + ldc, c10, c11, n);
  store_row(c, c00, c01, n);
}

}  // namespace arq::kernels
