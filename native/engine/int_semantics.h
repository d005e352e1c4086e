// The quantization semantics of quantization.md in one place: how float values become codes, how one grid's codes
// convert to another's, and the derived per-layer constants (multipliers, biases, zero-point corrections, clamp
// codes) that both the optimised integer executor (int_plan.cc) and the plain reference (int_reference.cc) use.
// Every formula states its float operations and rounding; the executors only ever call these functions or the
// requant.h epilogue on their results.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

namespace arq::engine {

struct Grid {  // real = scale * (q - zero), codes in [0, 2^bits - 1]
  float scale = 1.0f;
  int32_t zero = 0;
  int bits = 8;
  int32_t levels() const { return (1 << bits) - 1; }
};

// Code of a float on a grid: t = x / scale (float32 division), clamped to [-zero, levels - zero], rounded half to
// even, plus zero. NaN maps to the code of real zero.
inline uint8_t quantize_value(float x, const Grid& grid) {
  float t = x / grid.scale;
  if (std::isnan(t)) t = 0.0f;
  t = std::fmin(std::fmax(t, static_cast<float>(-grid.zero)), static_cast<float>(grid.levels() - grid.zero));
  return static_cast<uint8_t>(static_cast<int32_t>(std::nearbyint(t)) + grid.zero);
}

// Real value of a code: scale * float(q - zero) (one float32 multiply).
inline float dequantize_value(int32_t q, const Grid& grid) { return grid.scale * static_cast<float>(q - grid.zero); }

// Carrier code -> layer code table: quantize_value(dequantize_value(c, from), to) for every byte c.
std::array<uint8_t, 256> conversion_table(const Grid& from, const Grid& to);
// True when the table is the identity (the layer can read the carrier codes directly).
bool is_identity(const std::array<uint8_t, 256>& table);

// The code range of a clamp [min, max] (real values; +-infinity for none) on an 8-bit carrier grid:
// zero + round_half_even(bound / scale), saturated to [0, 255].
void clamp_codes(float min, float max, const Grid& grid, float* min_code, float* max_code);

// Epilogue constants of a Conv/Gemm layer (weights [channels][per_channel] codes, per-channel scales):
//   to a carrier: multiplier_c = float(double(s_a) * s_w,c / s_out), bias_c = float(double(bias_c) / s_out + z_out)
//   float logits: multiplier_c = float(double(s_a) * s_w,c),         bias_c = bias_c
//   correction_c = z_a * sum_k q_w[c][k]
struct LayerConstants {
  std::vector<float> multiplier, bias;
  std::vector<int32_t> correction;
  float min = 0.0f, max = 255.0f;  // code clamp (carrier) or real clamp (float logits)
};
LayerConstants layer_constants(const int8_t* weight_codes, const float* weight_scales, const float* bias,
                               int64_t channels, int64_t per_channel, const Grid& input, const Grid* output,
                               float clamp_min, float clamp_max);

// Add of two carriers into a third: y = fma(lhs[q1] + rhs[q2], inv_scale, zero) with lhs[q] = s1 * float(q - z1),
// rhs[q] = s2 * float(q - z2), inv_scale = float(1.0 / s_out); then the code clamp and round half to even.
struct AddConstants {
  std::array<float, 256> lhs, rhs;
  float inv_scale = 1.0f, zero = 0.0f, min = 0.0f, max = 255.0f;
};
AddConstants add_constants(const Grid& a, const Grid& b, const Grid& out, float clamp_min, float clamp_max);
inline uint8_t add_codes(uint8_t q1, uint8_t q2, const AddConstants& k) {
  float y = std::fma(k.lhs[q1] + k.rhs[q2], k.inv_scale, k.zero);
  y = std::fmin(std::fmax(y, k.min), k.max);
  return static_cast<uint8_t>(std::nearbyint(y));
}

// Average of `count` codes on an unchanged grid: round_half_even(float(sum) * float(1.0 / count)).
inline uint8_t average_code(int32_t sum, float inv_count) {
  return static_cast<uint8_t>(std::nearbyint(static_cast<float>(sum) * inv_count));
}

}  // namespace arq::engine

namespace arq::engine {
// The multiplier of an average over `count` codes: float(1.0 / count).
inline float inverse_count(int64_t count) { return static_cast<float>(1.0 / static_cast<double>(count)); }
}  // namespace arq::engine
