// f32-dwconv kernel, 16-channel tiles, AVX-512F. Per output pixel, the taps inside the image are found once; channel
// tiles then run in groups of 4 (independent accumulators), one FMA per tap in (ky, kx) order after the bias, and a
// final masked tile covers channels % 16 (loads and stores masked, so nothing past `channels` is touched).
// GCC 12 flags _mm512_undefined_ps() inside its own min/max intrinsics as maybe-uninitialized (GCC bug 105593).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <cstddef>

#include "kernels/f32-dwconv/f32-dwconv.h"

namespace arq::kernels {
namespace {

constexpr size_t kTile = 16;

struct Taps {
  const float* input;  // channel 0 of pixel (0, 0)
  size_t row_stride;   // floats per input row
  size_t pixel_stride; // floats per input pixel
  ptrdiff_t iy0, ix0;  // input position of tap (0, 0)
  ptrdiff_t ky0, ky1, kx0, kx1;  // taps inside the image
  size_t kernel_w;
};

template <size_t kGroup, bool kMasked>
inline void conv_group(const Taps& t, const float* w, size_t tile_stride, size_t c0, float* out, __mmask16 mask,
                       __m512 vmin, __m512 vmax) {
  __m512 acc[kGroup];
  for (size_t g = 0; g < kGroup; ++g) acc[g] = _mm512_loadu_ps(w + g * tile_stride);
  for (ptrdiff_t ky = t.ky0; ky < t.ky1; ++ky) {
    const float* row = t.input + static_cast<size_t>(t.iy0 + ky) * t.row_stride + c0;
    const float* wrow = w + kTile * (1 + static_cast<size_t>(ky) * t.kernel_w);
    for (ptrdiff_t kx = t.kx0; kx < t.kx1; ++kx) {
      const float* in = row + static_cast<size_t>(t.ix0 + kx) * t.pixel_stride;
      const float* wt = wrow + kTile * static_cast<size_t>(kx);
      for (size_t g = 0; g < kGroup; ++g) {
        const __m512 x = kMasked ? _mm512_maskz_loadu_ps(mask, in + g * kTile) : _mm512_loadu_ps(in + g * kTile);
        acc[g] = _mm512_fmadd_ps(x, _mm512_loadu_ps(wt + g * tile_stride), acc[g]);
      }
    }
  }
  for (size_t g = 0; g < kGroup; ++g) {
    const __m512 v = _mm512_min_ps(_mm512_max_ps(acc[g], vmin), vmax);
    if (kMasked) {
      _mm512_mask_storeu_ps(out + c0 + g * kTile, mask, v);
    } else {
      _mm512_storeu_ps(out + c0 + g * kTile, v);
    }
  }
}

}  // namespace

void f32_dwconv_c16__avx512(const DwconvShape& s, const float* input, size_t channel_stride_in, const float* packed,
                            float* output, size_t channel_stride_out, float min, float max) {
  const size_t tile_stride = kTile * (s.kernel_h * s.kernel_w + 1);
  const size_t full = s.channels / kTile;
  const size_t rest = s.channels % kTile;
  const __mmask16 tail_mask = static_cast<__mmask16>((1u << rest) - 1);
  const __m512 vmin = _mm512_set1_ps(min);
  const __m512 vmax = _mm512_set1_ps(max);
  Taps t;
  t.input = input;
  t.row_stride = s.in_w * channel_stride_in;
  t.pixel_stride = channel_stride_in;
  t.kernel_w = s.kernel_w;
  const ptrdiff_t in_h = static_cast<ptrdiff_t>(s.in_h);
  const ptrdiff_t in_w = static_cast<ptrdiff_t>(s.in_w);
  for (size_t oy = 0; oy < s.out_h; ++oy) {
    t.iy0 = static_cast<ptrdiff_t>(oy * s.stride_h) - static_cast<ptrdiff_t>(s.pad_top);
    t.ky0 = t.iy0 < 0 ? -t.iy0 : 0;
    t.ky1 = in_h - t.iy0 < static_cast<ptrdiff_t>(s.kernel_h) ? in_h - t.iy0 : static_cast<ptrdiff_t>(s.kernel_h);
    for (size_t ox = 0; ox < s.out_w; ++ox) {
      t.ix0 = static_cast<ptrdiff_t>(ox * s.stride_w) - static_cast<ptrdiff_t>(s.pad_left);
      t.kx0 = t.ix0 < 0 ? -t.ix0 : 0;
      t.kx1 = in_w - t.ix0 < static_cast<ptrdiff_t>(s.kernel_w) ? in_w - t.ix0 : static_cast<ptrdiff_t>(s.kernel_w);
      float* out = output + (oy * s.out_w + ox) * channel_stride_out;
      size_t tile = 0;
      for (; tile + 4 <= full; tile += 4) {
        conv_group<4, false>(t, packed + tile * tile_stride, tile_stride, tile * kTile, out, 0, vmin, vmax);
      }
      for (; tile < full; ++tile) {
        conv_group<1, false>(t, packed + tile * tile_stride, tile_stride, tile * kTile, out, 0, vmin, vmax);
      }
      if (rest != 0) {
        conv_group<1, true>(t, packed + tile * tile_stride, tile_stride, tile * kTile, out, tail_mask, vmin, vmax);
      }
    }
  }
}

}  // namespace arq::kernels
