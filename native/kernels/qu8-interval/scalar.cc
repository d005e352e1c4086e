// qu8-interval reference epilogue in plain C++, built for every target: interval.h's formula, element by element.
#include "kernels/qu8-interval/interval.h"

namespace arq::kernels {

void qu8_interval_epilogue__scalar(size_t pixels, size_t n, const float* centre, const float* radius,
                                   const RequantParams& params, uint8_t* out) {
  for (size_t p = 0; p < pixels; ++p, centre += n, radius += n, out += 2 * n) {
    for (size_t j = 0; j < n; ++j) {
      const int32_t c = static_cast<int32_t>(centre[j]) - params.correction[j];
      const int32_t r = static_cast<int32_t>(radius[j]);
      const float m = params.multiplier[j], b = params.bias[j];
      out[j] = requant_code((c - r) / 2, m, b, params.min, params.max);
      out[n + j] = requant_code((c + r) / 2, m, b, params.min, params.max);
    }
  }
}

}  // namespace arq::kernels
