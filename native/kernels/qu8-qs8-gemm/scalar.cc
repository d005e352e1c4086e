// qu8-qs8-gemm reference microkernel: a 4x8c4 tile in plain C++, built for every target. Layout and formula as in
// qgemm.h: acc[i][j] = sum_q a[i][q] * W[j][q] over the whole kc (int32; the zero-padded k tail adds nothing), minus
// correction[j], then requant_code / requant_float (requant.h) per element.
#include <cstddef>
#include <cstdint>

#include "kernels/qu8-qs8-gemm/qgemm.h"

namespace arq::kernels {

void qu8_qs8_gemm_ukernel_4x8c4__scalar(size_t m, size_t n, size_t kc, const uint8_t* a, size_t lda, const int8_t* w,
                                        void* out, size_t ldc, const RequantParams& params, bool float_out) {
  constexpr size_t kMr = 4;
  constexpr size_t kNr = 8;
  constexpr size_t kKr = 4;
  // Accumulated modulo 2^32 (as the SIMD paths do), so no input can overflow into undefined behaviour.
  uint32_t acc[kMr][kNr] = {};
  for (size_t g = 0; g < kc; g += kKr, w += kNr * kKr) {
    for (size_t i = 0; i < m; ++i) {
      const uint8_t* ai = a + i * lda + g;
      for (size_t j = 0; j < kNr; ++j) {
        for (size_t t = 0; t < kKr; ++t) acc[i][j] += static_cast<uint32_t>(int32_t{ai[t]} * int32_t{w[j * kKr + t]});
      }
    }
  }
  for (size_t i = 0; i < m; ++i) {
    for (size_t j = 0; j < n; ++j) {
      const uint32_t corr = params.correction != nullptr ? static_cast<uint32_t>(params.correction[j]) : 0u;
      const int32_t v = static_cast<int32_t>(acc[i][j] - corr);
      if (float_out) {
        static_cast<float*>(out)[i * ldc + j] = requant_float(v, params.multiplier[j], params.bias[j]);
      } else {
        static_cast<uint8_t*>(out)[i * ldc + j] =
            requant_code(v, params.multiplier[j], params.bias[j], params.min, params.max);
      }
    }
  }
}

}  // namespace arq::kernels
