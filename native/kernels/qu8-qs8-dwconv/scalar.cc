// qu8-qs8-dwconv reference kernel: channel tiles of 4 in plain C++, built for every target. For every output pixel
// and channel: acc = sum over the taps inside the image, in (ky, kx) order, of w * (x - input_zero) (int32, exact;
// taps in the padding read the zero point and add nothing, so they are skipped), then requant_code (requant.h).
// Packed layout: qdwconv_pack (config.cc).
#include <cstddef>
#include <cstdint>

#include "kernels/qu8-qs8-dwconv/qdwconv.h"

namespace arq::kernels {

void qu8_qs8_dwconv_c4__scalar(const QDwconvShape& s, const uint8_t* input, size_t stride_in, uint8_t input_zero,
                               const int8_t* packed, uint8_t* output, size_t stride_out, const RequantParams& params) {
  constexpr size_t kTile = 4;
  const ptrdiff_t in_h = static_cast<ptrdiff_t>(s.in_h);
  const ptrdiff_t in_w = static_cast<ptrdiff_t>(s.in_w);
  const ptrdiff_t kernel_h = static_cast<ptrdiff_t>(s.kernel_h);
  const ptrdiff_t kernel_w = static_cast<ptrdiff_t>(s.kernel_w);
  const size_t tile_stride = kTile * s.kernel_h * s.kernel_w;
  const int32_t zero = input_zero;
  for (size_t oy = 0; oy < s.out_h; ++oy) {
    const ptrdiff_t iy0 = static_cast<ptrdiff_t>(oy * s.stride_h) - static_cast<ptrdiff_t>(s.pad_top);
    for (size_t ox = 0; ox < s.out_w; ++ox) {
      const ptrdiff_t ix0 = static_cast<ptrdiff_t>(ox * s.stride_w) - static_cast<ptrdiff_t>(s.pad_left);
      uint8_t* out = output + (oy * s.out_w + ox) * stride_out;
      for (size_t c = 0; c < s.channels; ++c) {
        const int8_t* w = packed + (c / kTile) * tile_stride + c % kTile;
        uint32_t acc = 0;  // modulo 2^32, as the SIMD kernels (exact for any real kernel size)
        for (ptrdiff_t ky = 0; ky < kernel_h; ++ky) {
          const ptrdiff_t iy = iy0 + ky;
          if (iy < 0 || iy >= in_h) continue;
          for (ptrdiff_t kx = 0; kx < kernel_w; ++kx) {
            const ptrdiff_t ix = ix0 + kx;
            if (ix < 0 || ix >= in_w) continue;
            const int32_t x = input[static_cast<size_t>(iy * in_w + ix) * stride_in + c];
            acc += static_cast<uint32_t>(int32_t{w[kTile * static_cast<size_t>(ky * kernel_w + kx)]} * (x - zero));
          }
        }
        out[c] = requant_code(static_cast<int32_t>(acc), params.multiplier[c], params.bias[c], params.min, params.max);
      }
    }
  }
}

}  // namespace arq::kernels
