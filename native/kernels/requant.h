// Requantization: the one definition of how an int32 accumulator becomes an output (quantization.md, Operators).
// Every kernel epilogue (scalar and SIMD) computes exactly this, with an explicit fused multiply-add; the
// executor's non-kernel operators (add, pools) use the same functions.
#pragma once

#include <cmath>
#include <cstdint>

namespace arq::kernels {

// Per-output-channel parameters of a quantized layer's epilogue.
struct RequantParams {
  const float* multiplier;    // m_c = s_a * s_w,c / s_out   (float logits: s_a * s_w,c)
  const float* bias;          // b_c = bias_c / s_out + z_out (float logits: bias_c)
  const int32_t* correction;  // z_a * sum_k q_w[k][c]: subtracted from the raw dot product sum q_w * q_a
  float min;                  // clamp on the value before rounding: the fused activation as integer codes
  float max;                  //   within [0, 255] (ReLU: [z_out, 255]; ReLU6: [z_out, z_out + round(6/s_out)]);
                              //   integers, so SIMD epilogues may clamp after rounding (float logits: any bounds)
};

// y = fma(float(acc), m, b), clamped to [min, max], rounded half to even, as a uint8 code.
// float(acc) rounds to nearest even (exact below 2^24); std::nearbyint uses the default (nearest-even) mode.
inline uint8_t requant_code(int32_t acc, float m, float b, float min, float max) {
  float y = std::fma(static_cast<float>(acc), m, b);
  y = std::fmin(std::fmax(y, min), max);
  return static_cast<uint8_t>(std::nearbyint(y));
}

// Float logits of the last layer: s_a * s_w,c * acc + bias_c as fma(float(acc), m, b).
inline float requant_float(int32_t acc, float m, float b) { return std::fma(static_cast<float>(acc), m, b); }

}  // namespace arq::kernels
