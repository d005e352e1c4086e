#include "engine/clip_search.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <stdexcept>
#include <string>

namespace arq::engine {
namespace {

constexpr int kWeightClipFractions = 71;      // 1.00, 0.99, ..., 0.30
constexpr int kActivationClipFractions = 91;  // 1.00, 0.99, ..., 0.10

// (1 - i * 0.01) rounded to hundredths (round half up; the products are never halves).
double clip_fraction(int i) { return std::floor((1.0 - i * 0.01) * 100.0 + 0.5) / 100.0; }

// std::nearbyint rounds half to even under the default rounding mode.
double code_of(double w, double scale, int32_t qmax) {
  return std::min<double>(std::max<double>(std::nearbyint(w / scale), -qmax), qmax);
}

}  // namespace

// Both searches visit every weight or bin 71-91 times, and their rounding (std::nearbyint) is a library call unless
// SSE4.1's roundsd is available: a clone per target, picked at load time (same results: roundsd rounds half to even
// under the default MXCSR, as nearbyint does).
#define ARQ_ROUNDING_CLONES __attribute__((target_clones("sse4.1", "default")))

ARQ_ROUNDING_CLONES WeightCodes quantize_weights(const float* weight, int64_t channels, int64_t per_channel, int bits) {
  if (bits < 2 || bits > 8) throw std::invalid_argument("weight bits must be in 2..8");
  const int32_t qmax = (1 << (bits - 1)) - 1;
  WeightCodes out;
  out.codes.assign(static_cast<size_t>(channels * per_channel), 0);
  out.scales.assign(static_cast<size_t>(channels), 1.0f);
  for (int64_t c = 0; c < channels; ++c) {
    const float* w = weight + c * per_channel;
    double max_abs = 0;
    for (int64_t i = 0; i < per_channel; ++i) {
      if (!std::isfinite(w[i])) {
        throw std::invalid_argument("weight [" + std::to_string(c) + "][" + std::to_string(i) + "] is " +
                                    (std::isnan(w[i]) ? "NaN" : "infinite"));
      }
      max_abs = std::max(max_abs, std::fabs(static_cast<double>(w[i])));
    }
    if (max_abs == 0) continue;
    double best_error = INFINITY;
    float best = 1.0f;
    for (int f = 0; f < kWeightClipFractions; ++f) {
      // At least FLT_MIN: a channel of denormal weights would otherwise get scale 0, and w / 0 no code at all.
      const float scale = std::max(static_cast<float>((clip_fraction(f) * max_abs) / qmax), FLT_MIN);
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

ARQ_ROUNDING_CLONES ActivationGrid activation_grid(double lo, double hi, const double* counts, int64_t bins, int bits) {
  if (bits < 2 || bits > 8) throw std::invalid_argument("activation bits must be in 2..8");
  if (bins < 1) throw std::invalid_argument("the histogram needs at least one bin");
  const int32_t levels = (1 << bits) - 1;
  const bool non_negative = lo >= 0;
  const double low = std::min(lo, 0.0);
  const double high = std::max(hi, 0.0);
  ActivationGrid best;
  if (high - low <= 0) return best;
  const double width = (hi - lo) / static_cast<double>(bins);
  double best_error = INFINITY;
  bool found = false;
  for (int f = 0; f < kActivationClipFractions; ++f) {
    const double fraction = clip_fraction(f);
    const double clip_lo = non_negative ? 0.0 : fraction * low;
    const double clip_hi = fraction * high;
    const float scale = static_cast<float>(std::max((clip_hi - clip_lo) / levels, 1e-12));
    const int32_t zero =
        non_negative
            ? 0
            : static_cast<int32_t>(std::min<double>(std::max<double>(std::nearbyint(-clip_lo / scale), 0), levels));
    double error = 0;
    for (int64_t bin = 0; bin < bins; ++bin) {
      if (counts[bin] == 0) continue;
      const double x = lo + (static_cast<double>(bin) + 0.5) * width;
      const double q = std::min<double>(std::max<double>(std::nearbyint(x / scale) + zero, 0), levels);
      const double d = x - static_cast<double>(scale) * (q - zero);
      error += counts[bin] * (d * d);
    }
    if (!found || error < best_error) found = true, best_error = error, best = {scale, zero};
  }
  return best;
}

}  // namespace arq::engine
