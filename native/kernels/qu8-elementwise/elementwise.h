// qu8-elementwise: the integer executor's elementwise loops, vectorised, each equal to its scalar definition in
// engine/int_semantics.h bit for bit (same float operations, explicit fma, round half to even):
//   vadd:     y[i] = add_codes(a[i], b[i], k)        (residual add of two carriers into a third)
//   quantize: y[i] = quantize_value(x[i], grid)      (float values onto a layer's input grid)
//   convert:  y[i] = quantize_value(dequantize_value(x[i], from), to)   (a carrier onto a layer's input grid)
//   lookup:   y[i] = table[x[i]]                      (the same conversion held as a 256-entry table, where a table
//             lookup is the faster form: scalar, and AVX-512 with VBMI; nullptr elsewhere)
//   quantize_interleave: pixels p < n, channels c < y_stride:
//             y[p * y_stride + c] = c < channels ? quantize_value(x[c * x_channel_stride + p * x_pixel_stride], grid)
//                                                : fill
//             (a float image, NCHW planes or NHWC, onto a layer grid as NHWC codes with channels padded to y_stride;
//             the vector variants are fast for x_pixel_stride == 1 and y_stride == 4)
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/cpu.h"

namespace arq::kernels {

struct VaddParams {                        // the affine form of engine::AddConstants
  float a_scale, a_zero, b_scale, b_zero;  // lhs = a_scale * float(q - a_zero), rhs likewise
  float inv_scale, zero, min, max;         // min, max: integer codes, 0 <= min <= max <= 255
};

struct QuantizeParams {
  float scale;   // t = x / scale
  float lo, hi;  // clamp of t: [-zero, levels - zero]
  int32_t zero;
};

struct ConvertParams {
  float from_scale, from_zero;  // real = from_scale * float(q - from_zero)
  QuantizeParams to;
};

using VaddFn = void (*)(size_t n, const uint8_t* a, const uint8_t* b, uint8_t* y, const VaddParams& p);
using QuantizeFn = void (*)(size_t n, const float* x, uint8_t* y, const QuantizeParams& p);
using ConvertFn = void (*)(size_t n, const uint8_t* x, uint8_t* y, const ConvertParams& p);
using LookupFn = void (*)(size_t n, const uint8_t* x, uint8_t* y, const uint8_t* table);
using QuantizeInterleaveFn = void (*)(size_t n, size_t channels, const float* x, size_t x_channel_stride,
                                      size_t x_pixel_stride, uint8_t* y, size_t y_stride, uint8_t fill,
                                      const QuantizeParams& p);

struct ElementwiseConfig {
  const char* name;
  Isa isa;
  VaddFn vadd;
  QuantizeFn quantize;
  ConvertFn convert;
  QuantizeInterleaveFn quantize_interleave;
  LookupFn lookup = nullptr;
};

// The config of a level; at kAvx512Vnni its lookup and vadd are the VBMI ones where the CPU has VBMI.
const ElementwiseConfig& elementwise_config(Isa isa);
// The same, choosing the VBMI kernels at kAvx512Vnni explicitly (tests reach the plain AVX-512 ones with vbmi false);
// vbmi true needs a CPU with VBMI.
const ElementwiseConfig& elementwise_config(Isa isa, bool vbmi);

}  // namespace arq::kernels
