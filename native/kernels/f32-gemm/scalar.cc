// f32-gemm reference microkernel: a 4x8 tile in plain C++, built for every target. Packed layout and formula as in
// f32-gemm.h: c[i][j] = clamp(bias[j] + sum_k a[i][k] * w[k][j]), accumulated in float in the order bias, k = 0..K-1
// (a multiply then an add per step; -ffp-contract=off keeps them separate), A's K read segment by segment.
#include <cstddef>

#include "kernels/f32-gemm/f32-gemm.h"

namespace arq::kernels {

void f32_gemm_ukernel_4x8__scalar(size_t m, size_t n, size_t k, size_t kseg, const float* a, size_t lda,
                                  size_t seg_stride, const float* w, float* c, size_t ldc, float min, float max) {
  constexpr size_t kMr = 4;
  constexpr size_t kNr = 8;
  float acc[kMr][kNr];
  for (size_t i = 0; i < m; ++i) {
    for (size_t j = 0; j < kNr; ++j) acc[i][j] = w[j];
  }
  const float* wk = w + kNr;
  for (size_t s0 = 0; s0 < k; s0 += kseg) {
    const float* as = a + s0 / kseg * seg_stride;
    const size_t len = k - s0 < kseg ? k - s0 : kseg;
    for (size_t p = 0; p < len; ++p, wk += kNr) {
      for (size_t i = 0; i < m; ++i) {
        const float ai = as[i * lda + p];
        for (size_t j = 0; j < kNr; ++j) acc[i][j] += ai * wk[j];
      }
    }
  }
  for (size_t i = 0; i < m; ++i) {
    for (size_t j = 0; j < n; ++j) {
      float v = acc[i][j];
      v = v < min ? min : v;
      v = v > max ? max : v;
      c[i * ldc + j] = v;
    }
  }
}

}  // namespace arq::kernels
