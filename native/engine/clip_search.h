// The clip searches of quantization (quantization.md), the one implementation of each: src/quant/grid.ts calls them
// through the addon to build an integer plan's spec, QAT's forward pass calls quantize_weights. All arithmetic in
// double, round half to even, the first minimum winning.
#pragma once

#include <cstdint>
#include <vector>

namespace arq::engine {

struct WeightCodes {
  std::vector<int8_t> codes;  // [channels][per_channel]
  std::vector<float> scales;  // per channel
};

// Per-output-channel symmetric weight codes. For each fraction f in {1.00, 0.99, ..., 0.30}: scale =
// float((f * max|w_c|) / qmax), error = sum over the channel of (w - scale * clamp(rhe(w / scale), -qmax, qmax))^2;
// an all-zero channel gets scale 1 and codes 0; a scale below FLT_MIN (denormal weights) is raised to FLT_MIN.
// weight: [channels][per_channel] finite float32; bits 2..8 (throws std::invalid_argument otherwise, naming the
// first non-finite weight).
WeightCodes quantize_weights(const float* weight, int64_t channels, int64_t per_channel, int bits);

// A tensor's per-tensor activation grid (real = scale * (q - zero), q in 0 .. 2^bits - 1) from its calibration range
// [lo, hi] and histogram (`bins` equal bins over [lo, hi]). The range, widened to include 0, is shrunk by the
// fraction f in {1.00, 0.99, ..., 0.10} that minimises sum over non-empty bins of count * (x - scale * (q - zero))^2
// at the bin centres x; scale = float(max((f * high - f * low) / levels, 1e-12)) (low = 0 for a never-negative
// tensor, which gets zero point 0), zero = clamp(rhe(-f * low / scale), 0, levels). A range of width 0 gives scale 1,
// zero 0. bits 2..8, bins >= 1 (std::invalid_argument otherwise).
struct ActivationGrid {
  float scale = 1.0f;
  int32_t zero = 0;
};
ActivationGrid activation_grid(double lo, double hi, const double* counts, int64_t bins, int bits);

}  // namespace arq::engine
