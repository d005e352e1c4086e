// f32-dwconv dispatch and packing: the one place that picks a kernel by ISA level. Packed layout (read by every
// f32-dwconv kernel): ceil(channels / channel_tile) tiles, each of channel_tile * (kernel_h * kernel_w + 1) floats:
// channel_tile bias values, then for each tap t = ky * kernel_w + kx the channel_tile weights of that tap; channels
// past `channels` are zero.
#include <cstddef>
#include <vector>

#include "kernels/f32-dwconv/f32-dwconv.h"

namespace arq::kernels {

// Kernels of this family (scalar.cc, c8-avx2.cc, c16-avx512.cc); contract at F32DwconvKernel.
void f32_dwconv_c4__scalar(const DwconvShape& shape, const float* input, size_t channel_stride_in, const float* packed,
                           float* output, size_t channel_stride_out, float min, float max);
void f32_dwconv_c8__avx2(const DwconvShape& shape, const float* input, size_t channel_stride_in, const float* packed,
                         float* output, size_t channel_stride_out, float min, float max);
void f32_dwconv_c16__avx512(const DwconvShape& shape, const float* input, size_t channel_stride_in, const float* packed,
                            float* output, size_t channel_stride_out, float min, float max);

namespace {

const F32DwconvConfig kScalarConfig{"f32_dwconv_c4__scalar", Isa::kScalar, 4, f32_dwconv_c4__scalar};
const F32DwconvConfig kAvx2Config{"f32_dwconv_c8__avx2", Isa::kAvx2, 8, f32_dwconv_c8__avx2};
const F32DwconvConfig kAvx512Config{"f32_dwconv_c16__avx512", Isa::kAvx512Vnni, 16, f32_dwconv_c16__avx512};

}  // namespace

const F32DwconvConfig& f32_dwconv_config(Isa isa) {
  switch (isa) {
    case Isa::kAvx512Vnni:
      return kAvx512Config;
    case Isa::kAvx2:
      return kAvx2Config;
    case Isa::kScalar:
      break;
  }
  return kScalarConfig;
}

std::vector<float> f32_dwconv_pack(const F32DwconvConfig& config, const float* weights, const float* bias,
                                   size_t channels, size_t kernel_h, size_t kernel_w) {
  const size_t tile = config.channel_tile;
  const size_t taps = kernel_h * kernel_w;
  const size_t tiles = (channels + tile - 1) / tile;
  const size_t tile_stride = tile * (taps + 1);
  std::vector<float> packed(tiles * tile_stride, 0.0f);
  for (size_t c = 0; c < channels; ++c) {
    float* out = packed.data() + (c / tile) * tile_stride + c % tile;
    out[0] = bias != nullptr ? bias[c] : 0.0f;
    for (size_t t = 0; t < taps; ++t) out[(t + 1) * tile] = weights[c * taps + t];
  }
  return packed;
}

}  // namespace arq::kernels
