// qu8-elementwise: the integer executor's elementwise loops, vectorised, each equal to its scalar definition in
// engine/int_semantics.h bit for bit (same float operations, explicit fma, round half to even):
//   vadd:     y[i] = add_codes(a[i], b[i], k)        (residual add of two carriers into a third)
//   quantize: y[i] = quantize_value(x[i], grid)      (float values onto a layer's input grid)
//   convert:  y[i] = quantize_value(dequantize_value(x[i], from), to)   (a carrier onto a layer's input grid)
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/cpu.h"

namespace arq::kernels {

struct VaddParams {  // the affine form of engine::AddConstants
  float a_scale, a_zero, b_scale, b_zero;  // lhs = a_scale * float(q - a_zero), rhs likewise
  float inv_scale, zero, min, max;
};

struct QuantizeParams {
  float scale;     // t = x / scale
  float lo, hi;    // clamp of t: [-zero, levels - zero]
  int32_t zero;
};

struct ConvertParams {
  float from_scale, from_zero;  // real = from_scale * float(q - from_zero)
  QuantizeParams to;
};

using VaddFn = void (*)(size_t n, const uint8_t* a, const uint8_t* b, uint8_t* y, const VaddParams& p);
using QuantizeFn = void (*)(size_t n, const float* x, uint8_t* y, const QuantizeParams& p);
using ConvertFn = void (*)(size_t n, const uint8_t* x, uint8_t* y, const ConvertParams& p);

struct ElementwiseConfig {
  const char* name;
  Isa isa;
  VaddFn vadd;
  QuantizeFn quantize;
  ConvertFn convert;
};

const ElementwiseConfig& elementwise_config(Isa isa);

}  // namespace arq::kernels
