// Per-output-channel symmetric weight codes (quantization.md, weights): the one implementation of the clip search,
// used by the integer plan's spec (src/quant/grid.ts calls it through the addon) and by QAT's forward pass. For each
// fraction f in {1.00, 0.99, ..., 0.30}: scale = float((f * max|w_c|) / qmax), error = sum over the channel of
// (w - scale * clamp(round_half_even(w / scale), -qmax, qmax))^2 in double; the first minimum wins; an all-zero
// channel gets scale 1 and codes 0.
#pragma once

#include <cstdint>
#include <vector>

namespace arq::engine {

struct WeightCodes {
  std::vector<int8_t> codes;  // [channels][per_channel]
  std::vector<float> scales;  // per channel
};

// weight: [channels][per_channel] float32; bits 2..8 (throws std::invalid_argument otherwise).
WeightCodes quantize_weights(const float* weight, int64_t channels, int64_t per_channel, int bits);

}  // namespace arq::engine
