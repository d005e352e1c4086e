#include "engine/weight_codes.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace arq::engine {
namespace {

constexpr int kClipFractions = 71;  // 1.00, 0.99, ..., 0.30

// (1 - i * 0.01) rounded to hundredths (round half up; the products are never halves).
double clip_fraction(int i) { return std::floor((1.0 - i * 0.01) * 100.0 + 0.5) / 100.0; }

// std::nearbyint rounds half to even under the default rounding mode.
double code_of(double w, double scale, int32_t qmax) {
  return std::min<double>(std::max<double>(std::nearbyint(w / scale), -qmax), qmax);
}

}  // namespace

WeightCodes quantize_weights(const float* weight, int64_t channels, int64_t per_channel, int bits) {
  if (bits < 2 || bits > 8) throw std::invalid_argument("weight bits must be in 2..8");
  const int32_t qmax = (1 << (bits - 1)) - 1;
  WeightCodes out;
  out.codes.assign(static_cast<size_t>(channels * per_channel), 0);
  out.scales.assign(static_cast<size_t>(channels), 1.0f);
  for (int64_t c = 0; c < channels; ++c) {
    const float* w = weight + c * per_channel;
    double max_abs = 0;
    for (int64_t i = 0; i < per_channel; ++i) max_abs = std::max(max_abs, std::fabs(static_cast<double>(w[i])));
    if (max_abs == 0) continue;
    double best_error = INFINITY;
    float best = 1.0f;
    for (int f = 0; f < kClipFractions; ++f) {
      const float scale = static_cast<float>((clip_fraction(f) * max_abs) / qmax);
      double error = 0;
      for (int64_t i = 0; i < per_channel; ++i) {
        const double d = w[i] - static_cast<double>(scale) * code_of(w[i], scale, qmax);
        error += d * d;
      }
      if (error < best_error) best_error = error, best = scale;
    }
    out.scales[static_cast<size_t>(c)] = best;
    for (int64_t i = 0; i < per_channel; ++i) {
      out.codes[static_cast<size_t>(c * per_channel + i)] = static_cast<int8_t>(code_of(w[i], best, qmax));
    }
  }
  return out;
}

}  // namespace arq::engine
