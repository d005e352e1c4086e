// qu8-qs8-dwconv: depthwise convolution on uint8 NHWC codes (one image), int8 weights per channel, depth
// multiplier 1. Padded taps read the input zero point (the code of real zero), so
//   acc[c] = sum_taps w[c][t] * (a[t][c] - z_a)     (exact int32; padded taps contribute 0)
// followed by requant_code (requant.h) into uint8 output codes. Weights are int8 codes of any width 2..8.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/cpu.h"
#include "kernels/requant.h"

namespace arq::kernels {

struct QDwconvShape {
  size_t channels;
  size_t in_h, in_w, out_h, out_w;
  size_t kernel_h, kernel_w, stride_h, stride_w;
  size_t pad_top, pad_left;
};

// input: [in_h][in_w][stride_in] codes; output: [out_h][out_w][stride_out]; params.correction is unused (pass
// nullptr): the zero point is applied per tap.
using QDwconvKernel = void (*)(const QDwconvShape& shape, const uint8_t* input, size_t stride_in, uint8_t input_zero,
                               const int8_t* packed, uint8_t* output, size_t stride_out, const RequantParams& params);

struct QDwconvConfig {
  const char* name;
  Isa isa;
  size_t channel_tile;
  QDwconvKernel kernel;
};

const QDwconvConfig& qdwconv_config(Isa isa);

// weights: int8 codes [channels][kernel_h][kernel_w].
std::vector<int8_t> qdwconv_pack(const QDwconvConfig& config, const int8_t* weights, size_t channels, size_t kernel_h,
                                 size_t kernel_w);

}  // namespace arq::kernels
