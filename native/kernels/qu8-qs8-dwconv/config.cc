// qu8-qs8-dwconv dispatch and packing: the one place that picks a kernel by ISA level. Packed layout (read by every
// qu8-qs8-dwconv kernel): ceil(channels / channel_tile) tiles, each of channel_tile * kernel_h * kernel_w int8 codes:
// for each tap t = ky * kernel_w + kx the channel_tile weights of that tap; channels past `channels` are zero.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "kernels/qu8-qs8-dwconv/qdwconv.h"

namespace arq::kernels {

// Kernels of this family (scalar.cc, c8-avx2.cc, c16-avx512vnni.cc); contract at QDwconvKernel.
void qu8_qs8_dwconv_c4__scalar(const QDwconvShape& shape, const uint8_t* input, size_t stride_in, uint8_t input_zero,
                               const int8_t* packed, uint8_t* output, size_t stride_out, const RequantParams& params);
void qu8_qs8_dwconv_c8__avx2(const QDwconvShape& shape, const uint8_t* input, size_t stride_in, uint8_t input_zero,
                             const int8_t* packed, uint8_t* output, size_t stride_out, const RequantParams& params);
void qu8_qs8_dwconv_c16__avx512vnni(const QDwconvShape& shape, const uint8_t* input, size_t stride_in,
                                    uint8_t input_zero, const int8_t* packed, uint8_t* output, size_t stride_out,
                                    const RequantParams& params);

namespace {

const QDwconvConfig kScalarConfig{"qu8_qs8_dwconv_c4__scalar", Isa::kScalar, 4, qu8_qs8_dwconv_c4__scalar};
const QDwconvConfig kAvx2Config{"qu8_qs8_dwconv_c8__avx2", Isa::kAvx2, 8, qu8_qs8_dwconv_c8__avx2};
const QDwconvConfig kAvx512VnniConfig{"qu8_qs8_dwconv_c16__avx512vnni", Isa::kAvx512Vnni, 16,
                                      qu8_qs8_dwconv_c16__avx512vnni};

}  // namespace

const QDwconvConfig& qdwconv_config(Isa isa) {
  switch (isa) {
    case Isa::kAvx512Vnni:
      return kAvx512VnniConfig;
    case Isa::kAvx2:
      return kAvx2Config;
    case Isa::kScalar:
      break;
  }
  return kScalarConfig;
}

std::vector<int8_t> qdwconv_pack(const QDwconvConfig& config, const int8_t* weights, size_t channels, size_t kernel_h,
                                 size_t kernel_w) {
  const size_t tile = config.channel_tile;
  const size_t taps = kernel_h * kernel_w;
  const size_t tiles = (channels + tile - 1) / tile;
  std::vector<int8_t> packed(tiles * tile * taps, 0);
  for (size_t c = 0; c < channels; ++c) {
    int8_t* out = packed.data() + (c / tile) * tile * taps + c % tile;
    for (size_t t = 0; t < taps; ++t) out[t * tile] = weights[c * taps + t];
  }
  return packed;
}

}  // namespace arq::kernels
