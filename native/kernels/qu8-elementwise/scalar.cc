// Scalar reference of qu8-elementwise (the formulas of engine/int_semantics.h, written out).
#include <cmath>

#include "kernels/qu8-elementwise/elementwise.h"

namespace arq::kernels {

void qu8_vadd__scalar(size_t n, const uint8_t* a, const uint8_t* b, uint8_t* y, const VaddParams& p) {
  for (size_t i = 0; i < n; ++i) {
    const float lhs = p.a_scale * static_cast<float>(static_cast<int32_t>(a[i]) - static_cast<int32_t>(p.a_zero));
    const float rhs = p.b_scale * static_cast<float>(static_cast<int32_t>(b[i]) - static_cast<int32_t>(p.b_zero));
    float v = std::fma(lhs + rhs, p.inv_scale, p.zero);
    v = v > p.min ? v : p.min;  // NaN (infinite scales) takes the lower bound, as the SIMD kernels' max does
    v = v > p.max ? p.max : v;
    y[i] = static_cast<uint8_t>(std::nearbyint(v));
  }
}

namespace {
inline uint8_t quantize_one(float x, const QuantizeParams& p) {
  float t = x / p.scale;
  if (std::isnan(t)) t = 0.0f;
  t = t < p.lo ? p.lo : t;
  t = t > p.hi ? p.hi : t;
  return static_cast<uint8_t>(static_cast<int32_t>(std::nearbyint(t)) + p.zero);
}
}  // namespace

void f32_qu8_quantize__scalar(size_t n, const float* x, uint8_t* y, const QuantizeParams& p) {
  for (size_t i = 0; i < n; ++i) y[i] = quantize_one(x[i], p);
}

void qu8_convert__scalar(size_t n, const uint8_t* x, uint8_t* y, const ConvertParams& p) {
  for (size_t i = 0; i < n; ++i) y[i] = quantize_one(p.from_scale * (static_cast<float>(x[i]) - p.from_zero), p.to);
}

void qu8_lookup__scalar(size_t n, const uint8_t* x, uint8_t* y, const uint8_t* table) {
  for (size_t i = 0; i < n; ++i) y[i] = table[x[i]];
}

void f32_qu8_quantize_interleave__scalar(size_t n, size_t channels, const float* x, size_t x_channel_stride,
                                         size_t x_pixel_stride, uint8_t* y, size_t y_stride, uint8_t fill,
                                         const QuantizeParams& p) {
  for (size_t i = 0; i < n; ++i) {
    uint8_t* dst = y + i * y_stride;
    for (size_t c = 0; c < channels; ++c) dst[c] = quantize_one(x[c * x_channel_stride + i * x_pixel_stride], p);
    for (size_t c = channels; c < y_stride; ++c) dst[c] = fill;
  }
}

}  // namespace arq::kernels
