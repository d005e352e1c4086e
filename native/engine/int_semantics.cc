#include "engine/int_semantics.h"

#include <algorithm>

namespace arq::engine {

std::array<uint8_t, 256> conversion_table(const Grid& from, const Grid& to) {
  std::array<uint8_t, 256> table{};
  for (int c = 0; c < 256; ++c) table[c] = quantize_value(dequantize_value(c, from), to);
  return table;
}

bool is_identity(const std::array<uint8_t, 256>& table) {
  for (int c = 0; c < 256; ++c) {
    if (table[c] != c) return false;
  }
  return true;
}

void clamp_codes(float min, float max, const Grid& grid, float* min_code, float* max_code) {
  auto code = [&](float bound, float fallback) {
    if (std::isinf(bound)) return fallback;
    const double q = static_cast<double>(grid.zero) + std::nearbyint(static_cast<double>(bound) / grid.scale);
    return static_cast<float>(std::min(255.0, std::max(0.0, q)));
  };
  *min_code = code(min, 0.0f);
  *max_code = code(max, 255.0f);
}

LayerConstants layer_constants(const int8_t* weight_codes, const float* weight_scales, const float* bias,
                               int64_t channels, int64_t per_channel, const Grid& input, const Grid* output,
                               float clamp_min, float clamp_max) {
  LayerConstants k;
  k.multiplier.resize(channels);
  k.bias.resize(channels);
  k.correction.resize(channels);
  for (int64_t c = 0; c < channels; ++c) {
    const double b = bias == nullptr ? 0.0 : bias[c];
    int32_t sum = 0;
    for (int64_t i = 0; i < per_channel; ++i) sum += weight_codes[c * per_channel + i];
    k.correction[c] = input.zero * sum;
    if (output != nullptr) {
      k.multiplier[c] = static_cast<float>(static_cast<double>(input.scale) * weight_scales[c] / output->scale);
      k.bias[c] = static_cast<float>(b / output->scale + output->zero);
    } else {
      k.multiplier[c] = static_cast<float>(static_cast<double>(input.scale) * weight_scales[c]);
      k.bias[c] = static_cast<float>(b);
    }
  }
  if (output != nullptr) {
    clamp_codes(clamp_min, clamp_max, *output, &k.min, &k.max);
  } else {
    k.min = clamp_min;
    k.max = clamp_max;
  }
  return k;
}

AddConstants add_constants(const Grid& a, const Grid& b, const Grid& out, float clamp_min, float clamp_max) {
  AddConstants k;
  for (int q = 0; q < 256; ++q) {
    k.lhs[q] = dequantize_value(q, a);
    k.rhs[q] = dequantize_value(q, b);
  }
  k.inv_scale = static_cast<float>(1.0 / out.scale);
  k.zero = static_cast<float>(out.zero);
  clamp_codes(clamp_min, clamp_max, out, &k.min, &k.max);
  return k;
}

}  // namespace arq::engine
