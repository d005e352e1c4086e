// f32-dwconv: depthwise 2-D convolution over one NHWC image, one output channel per input channel
// (depth multiplier 1), zero padding, bias and clamp fused. Vectorised over channels.
#pragma once

#include <cstddef>
#include <vector>

#include "common/cpu.h"

namespace arq::kernels {

struct DwconvShape {
  size_t channels;
  size_t in_h, in_w;
  size_t out_h, out_w;
  size_t kernel_h, kernel_w;
  size_t stride_h, stride_w;
  size_t pad_top, pad_left;  // bottom/right padding is implied by out_h/out_w
};

// input: [in_h][in_w][channel_stride_in] (first `channels` used); output: [out_h][out_w][channel_stride_out].
// packed: from f32_dwconv_pack.
using F32DwconvKernel = void (*)(const DwconvShape& shape, const float* input, size_t channel_stride_in,
                                 const float* packed, float* output, size_t channel_stride_out, float min, float max);

struct F32DwconvConfig {
  const char* name;  // e.g. "f32_dwconv_c8__avx2"
  Isa isa;
  size_t channel_tile;
  F32DwconvKernel kernel;
};

const F32DwconvConfig& f32_dwconv_config(Isa isa);

// weights: ONNX layout [channels][1][kernel_h][kernel_w]; bias[channels] (nullptr = zeros).
std::vector<float> f32_dwconv_pack(const F32DwconvConfig& config, const float* weights, const float* bias,
                                   size_t channels, size_t kernel_h, size_t kernel_w);

}  // namespace arq::kernels
