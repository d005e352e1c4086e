// f32-dwconv reference kernel: channel tiles of 4 in plain C++, built for every target. For every output pixel and
// channel: acc = bias, then acc += in * w over the taps inside the image in (ky, kx) order (taps that fall in the
// zero padding are skipped), then clamp. Packed layout: f32_dwconv_pack (config.cc).
#include <cstddef>

#include "kernels/f32-dwconv/f32-dwconv.h"

namespace arq::kernels {

void f32_dwconv_c4__scalar(const DwconvShape& s, const float* input, size_t channel_stride_in, const float* packed,
                           float* output, size_t channel_stride_out, float min, float max) {
  constexpr size_t kTile = 4;
  const ptrdiff_t in_h = static_cast<ptrdiff_t>(s.in_h);
  const ptrdiff_t in_w = static_cast<ptrdiff_t>(s.in_w);
  const ptrdiff_t kernel_h = static_cast<ptrdiff_t>(s.kernel_h);
  const ptrdiff_t kernel_w = static_cast<ptrdiff_t>(s.kernel_w);
  const size_t tile_stride = kTile * (s.kernel_h * s.kernel_w + 1);
  for (size_t oy = 0; oy < s.out_h; ++oy) {
    const ptrdiff_t iy0 = static_cast<ptrdiff_t>(oy * s.stride_h) - static_cast<ptrdiff_t>(s.pad_top);
    for (size_t ox = 0; ox < s.out_w; ++ox) {
      const ptrdiff_t ix0 = static_cast<ptrdiff_t>(ox * s.stride_w) - static_cast<ptrdiff_t>(s.pad_left);
      float* out = output + (oy * s.out_w + ox) * channel_stride_out;
      for (size_t c0 = 0; c0 < s.channels; c0 += kTile) {
        const size_t cb = s.channels - c0 < kTile ? s.channels - c0 : kTile;
        const float* w = packed + (c0 / kTile) * tile_stride;
        float acc[kTile];
        for (size_t j = 0; j < kTile; ++j) acc[j] = w[j];
        for (ptrdiff_t ky = 0; ky < kernel_h; ++ky) {
          const ptrdiff_t iy = iy0 + ky;
          if (iy < 0 || iy >= in_h) continue;
          for (ptrdiff_t kx = 0; kx < kernel_w; ++kx) {
            const ptrdiff_t ix = ix0 + kx;
            if (ix < 0 || ix >= in_w) continue;
            const float* in = input + static_cast<size_t>(iy * in_w + ix) * channel_stride_in + c0;
            const float* wt = w + kTile * static_cast<size_t>(1 + ky * kernel_w + kx);
            for (size_t j = 0; j < cb; ++j) acc[j] += in[j] * wt[j];
          }
        }
        for (size_t j = 0; j < cb; ++j) {
          float v = acc[j];
          v = v < min ? min : v;
          v = v > max ? max : v;
          out[c0 + j] = v;
        }
      }
    }
  }
}

}  // namespace arq::kernels
