// The f32-dwconv kernel's ISA-independent body, shared by the per-ISA files (c8-avx2.cc, c16-avx512.cc), each of
// which instantiates F32DwconvTiles with its own vector operations V in an anonymous namespace (so every
// instantiation is compiled with, and only reachable from, that file's ISA flags). V provides:
//   Vec, Mask; kTile (channels per vector); load, load_masked (masked lanes read 0 and touch no memory), store,
//   store_masked, fmadd(a, b, c) = a * b + c (one rounding), clamp(v, lo, hi) = min(max(v, lo), hi), set1, and
//   tail_mask(rest): the first `rest` lanes.
// Every output gets bias, then one FMA per tap inside the image in (ky, kx) order, then the clamp; the final tile
// covers channels % kTile with masked loads and stores, so nothing past `channels` is read or written. Two paths
// compute exactly that:
//   - interior rows of 3x3 and 5x5 kernels with horizontal stride 1 or 2 (every tap inside the image): channel tiles
//     outer, 4 output pixels inner, weights in registers, each input pixel loaded once per kernel row;
//   - every other pixel: taps inside the image found once per pixel, channel tiles in groups of 4 accumulators.
#pragma once

#include <cstddef>

#include "kernels/f32-dwconv/f32-dwconv.h"

namespace arq::kernels {

template <class V>
struct F32DwconvTiles {
  static constexpr size_t kTile = V::kTile;

  struct Taps {
    const float* input;            // channel 0 of pixel (0, 0)
    size_t row_stride;             // floats per input row
    size_t pixel_stride;           // floats per input pixel
    ptrdiff_t iy0, ix0;            // input position of tap (0, 0)
    ptrdiff_t ix0_base;            // pad_left: input column of tap (0, 0) is ox * stride_w - ix0_base
    ptrdiff_t ky0, ky1, kx0, kx1;  // taps inside the image
    size_t kernel_w;
  };

  template <size_t kGroup, bool kMasked>
  static void conv_group(const Taps& t, const float* w, size_t tile_stride, size_t c0, float* out,
                         typename V::Mask mask, typename V::Vec vmin, typename V::Vec vmax) {
    typename V::Vec acc[kGroup];
    for (size_t g = 0; g < kGroup; ++g) acc[g] = V::load(w + g * tile_stride);
    for (ptrdiff_t ky = t.ky0; ky < t.ky1; ++ky) {
      const float* row = t.input + static_cast<size_t>(t.iy0 + ky) * t.row_stride + c0;
      const float* wrow = w + kTile * (1 + static_cast<size_t>(ky) * t.kernel_w);
      for (ptrdiff_t kx = t.kx0; kx < t.kx1; ++kx) {
        const float* in = row + static_cast<size_t>(t.ix0 + kx) * t.pixel_stride;
        const float* wt = wrow + kTile * static_cast<size_t>(kx);
        for (size_t g = 0; g < kGroup; ++g) {
          const typename V::Vec x = kMasked ? V::load_masked(in + g * kTile, mask) : V::load(in + g * kTile);
          acc[g] = V::fmadd(x, V::load(wt + g * tile_stride), acc[g]);
        }
      }
    }
    for (size_t g = 0; g < kGroup; ++g) {
      const typename V::Vec v = V::clamp(acc[g], vmin, vmax);
      if (kMasked) {
        V::store_masked(out + c0 + g * kTile, mask, v);
      } else {
        V::store(out + c0 + g * kTile, v);
      }
    }
  }

  // Interior fast path for a kKh x kKw kernel with horizontal stride kSw: output pixels [ox_begin, ox_end) of a row
  // whose taps all lie inside the image. Channel tiles outer, pixels inner (4 at a time), the tile's bias and weights
  // held in registers (where they fit), and each input pixel of a kernel row loaded once for the 4 outputs that use it.
  // Every output still gets bias then one FMA per tap in (ky, kx) order, exactly as conv_group computes it.
  template <size_t kKh, size_t kKw, size_t kSw, bool kMasked>
  static void conv_row_interior_tile(const Taps& t, const float* w, size_t c0, typename V::Mask mask, float* out_row,
                                     size_t out_pixel_stride, size_t ox_begin, size_t ox_end, typename V::Vec vmin,
                                     typename V::Vec vmax) {
    constexpr size_t kTaps = kKh * kKw;
    constexpr size_t kPixels = 4;
    constexpr size_t kColumns = (kPixels - 1) * kSw + kKw;  // input pixels of one kernel row for 4 outputs
    const auto load = [mask](const float* p) { return kMasked ? V::load_masked(p, mask) : V::load(p); };
    const auto store = [mask, vmin, vmax](float* p, typename V::Vec v) {
      v = V::clamp(v, vmin, vmax);
      if (kMasked) {
        V::store_masked(p, mask, v);
      } else {
        V::store(p, v);
      }
    };
    const typename V::Vec vb = V::load(w);
    typename V::Vec vw[kTaps];
    for (size_t i = 0; i < kTaps; ++i) vw[i] = V::load(w + kTile * (1 + i));
    const size_t px = t.pixel_stride;
    // Input of tap (0, 0) for output pixel ox_begin.
    const float* in = t.input + static_cast<size_t>(t.iy0) * t.row_stride +
                      static_cast<size_t>(static_cast<ptrdiff_t>(ox_begin * kSw) - t.ix0_base) * px + c0;
    float* out = out_row + ox_begin * out_pixel_stride + c0;
    size_t ox = ox_begin;
    for (; ox + kPixels <= ox_end; ox += kPixels, in += kPixels * kSw * px, out += kPixels * out_pixel_stride) {
      typename V::Vec acc[kPixels];
      for (size_t j = 0; j < kPixels; ++j) acc[j] = vb;
      for (size_t ky = 0; ky < kKh; ++ky) {
        const float* row = in + ky * t.row_stride;
        typename V::Vec x[kColumns];
        for (size_t col = 0; col < kColumns; ++col) x[col] = load(row + col * px);
        for (size_t kx = 0; kx < kKw; ++kx) {
          for (size_t j = 0; j < kPixels; ++j) acc[j] = V::fmadd(x[j * kSw + kx], vw[ky * kKw + kx], acc[j]);
        }
      }
      for (size_t j = 0; j < kPixels; ++j) store(out + j * out_pixel_stride, acc[j]);
    }
    for (; ox < ox_end; ++ox, in += kSw * px, out += out_pixel_stride) {
      typename V::Vec acc = vb;
      for (size_t ky = 0; ky < kKh; ++ky) {
        for (size_t kx = 0; kx < kKw; ++kx) {
          acc = V::fmadd(load(in + ky * t.row_stride + kx * px), vw[ky * kKw + kx], acc);
        }
      }
      store(out, acc);
    }
  }

  template <size_t kKh, size_t kKw, size_t kSw>
  static void conv_row_interior(const Taps& t, size_t channels, const float* packed, size_t tile_stride,
                                typename V::Mask tail_mask, float* out_row, size_t out_pixel_stride, size_t ox_begin,
                                size_t ox_end, typename V::Vec vmin, typename V::Vec vmax) {
    size_t c0 = 0;
    for (; c0 + kTile <= channels; c0 += kTile) {
      conv_row_interior_tile<kKh, kKw, kSw, false>(t, packed + (c0 / kTile) * tile_stride, c0, tail_mask, out_row,
                                                   out_pixel_stride, ox_begin, ox_end, vmin, vmax);
    }
    if (c0 < channels) {
      conv_row_interior_tile<kKh, kKw, kSw, true>(t, packed + (c0 / kTile) * tile_stride, c0, tail_mask, out_row,
                                                  out_pixel_stride, ox_begin, ox_end, vmin, vmax);
    }
  }

  static void run(const DwconvShape& s, const float* input, size_t channel_stride_in, const float* packed,
                  float* output, size_t channel_stride_out, float min, float max) {
    const size_t tile_stride = kTile * (s.kernel_h * s.kernel_w + 1);
    const size_t full = s.channels / kTile;
    const size_t rest = s.channels % kTile;
    const typename V::Mask tail_mask = V::tail_mask(rest);
    const typename V::Vec vmin = V::set1(min);
    const typename V::Vec vmax = V::set1(max);
    // Specialised interior rows for the common depthwise kernels: 3x3 and 5x5 with horizontal stride 1 or 2.
    using InteriorRow = void (*)(const Taps&, size_t, const float*, size_t, typename V::Mask, float*, size_t, size_t,
                                 size_t, typename V::Vec, typename V::Vec);
    InteriorRow interior = nullptr;
    if (s.kernel_h == 3 && s.kernel_w == 3) {
      interior = s.stride_w == 1 ? conv_row_interior<3, 3, 1> : s.stride_w == 2 ? conv_row_interior<3, 3, 2> : nullptr;
    } else if (s.kernel_h == 5 && s.kernel_w == 5) {
      interior = s.stride_w == 1 ? conv_row_interior<5, 5, 1> : s.stride_w == 2 ? conv_row_interior<5, 5, 2> : nullptr;
    }
    // Output columns [ox_lo, ox_hi) have every tap inside the image horizontally.
    size_t ox_hi = s.in_w + s.pad_left >= s.kernel_w ? (s.in_w + s.pad_left - s.kernel_w) / s.stride_w + 1 : 0;
    if (ox_hi > s.out_w) ox_hi = s.out_w;
    size_t ox_lo = (s.pad_left + s.stride_w - 1) / s.stride_w;
    if (ox_lo > ox_hi) ox_lo = ox_hi;

    Taps t;
    t.input = input;
    t.row_stride = s.in_w * channel_stride_in;
    t.pixel_stride = channel_stride_in;
    t.kernel_w = s.kernel_w;
    t.ix0_base = static_cast<ptrdiff_t>(s.pad_left);
    const ptrdiff_t in_h = static_cast<ptrdiff_t>(s.in_h);
    const ptrdiff_t in_w = static_cast<ptrdiff_t>(s.in_w);
    const auto pixel = [&](size_t oy, size_t ox) {
      t.ix0 = static_cast<ptrdiff_t>(ox * s.stride_w) - t.ix0_base;
      t.kx0 = t.ix0 < 0 ? -t.ix0 : 0;
      t.kx1 = in_w - t.ix0 < static_cast<ptrdiff_t>(s.kernel_w) ? in_w - t.ix0 : static_cast<ptrdiff_t>(s.kernel_w);
      float* out = output + (oy * s.out_w + ox) * channel_stride_out;
      size_t tile = 0;
      for (; tile + 4 <= full; tile += 4) {
        conv_group<4, false>(t, packed + tile * tile_stride, tile_stride, tile * kTile, out, tail_mask, vmin, vmax);
      }
      for (; tile < full; ++tile) {
        conv_group<1, false>(t, packed + tile * tile_stride, tile_stride, tile * kTile, out, tail_mask, vmin, vmax);
      }
      if (rest != 0) {
        conv_group<1, true>(t, packed + tile * tile_stride, tile_stride, tile * kTile, out, tail_mask, vmin, vmax);
      }
    };
    for (size_t oy = 0; oy < s.out_h; ++oy) {
      t.iy0 = static_cast<ptrdiff_t>(oy * s.stride_h) - static_cast<ptrdiff_t>(s.pad_top);
      t.ky0 = t.iy0 < 0 ? -t.iy0 : 0;
      t.ky1 = in_h - t.iy0 < static_cast<ptrdiff_t>(s.kernel_h) ? in_h - t.iy0 : static_cast<ptrdiff_t>(s.kernel_h);
      const bool rows_inside = t.ky0 == 0 && t.ky1 == static_cast<ptrdiff_t>(s.kernel_h);
      if (interior != nullptr && rows_inside && ox_lo < ox_hi) {
        for (size_t ox = 0; ox < ox_lo; ++ox) pixel(oy, ox);
        interior(t, s.channels, packed, tile_stride, tail_mask, output + oy * s.out_w * channel_stride_out,
                 channel_stride_out, ox_lo, ox_hi, vmin, vmax);
        for (size_t ox = ox_hi; ox < s.out_w; ++ox) pixel(oy, ox);
      } else {
        for (size_t ox = 0; ox < s.out_w; ++ox) pixel(oy, ox);
      }
    }
  }
};

}  // namespace arq::kernels
