// The widening path of the SIMD qu8-qs8-dwconv kernels, written once over each file's vector operations V
// (c8-avx2.cc, c16-avx512vnni.cc instantiate QDwconvWidening with a V of their own in an unnamed namespace, so each
// instantiation is compiled with, and only reachable from, that file's ISA flags). Per tap and tile: kTile input
// codes zero-extended to int32 minus the zero point, times the kTile weights sign-extended to int32, added into int32
// accumulators: acc = sum over the taps inside the image of w * (x - z), exact; then V::store's epilogue
// (= requant.h). The paths:
//   - interior runs (every tap inside the image, any stride): channel tiles outer, 4 output pixels inner, the tile's
//     widened weights and epilogue constants loaded once per run;
//   - every other pixel: taps inside the image found once per pixel, then each channel tile.
// The last tile covers channels % kTile through V's lane mask, so nothing past `channels` is read or written.
// V provides: I (int32 lanes), F (float lanes), Mask, kTile; lanes(rest): the mask of min(rest, kTile) channels;
// load_x(p, mask, masked): kTile codes (only the mask's when masked) zero-extended; load_w(p): kTile weights
// sign-extended; load_params(p, mask): floats (0 past the mask); store(acc, m, b, lo, hi, out, mask): requant_code of
// each lane into the mask's bytes of out; zero(), add, sub, mullo (int32), set1_i, set1_f.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/qu8-qs8-dwconv/qdwconv.h"
#include "kernels/qu8-qs8-dwconv/rows.h"

namespace arq::kernels {

template <class V>
struct QDwconvWidening {
  using I = typename V::I;
  using F = typename V::F;
  using Mask = typename V::Mask;
  static constexpr size_t kTile = V::kTile;
  static constexpr size_t kPixels = 4;

  struct Ctx {
    const uint8_t* input;
    size_t row_stride;    // bytes per input row
    size_t pixel_stride;  // bytes per input pixel
    size_t channels;
    size_t taps, kernel_w;
    const int8_t* packed;
    I zero;  // input zero point, int32 lanes
    F vmin, vmax;
    const RequantParams* params;
  };

  struct Epilogue {
    F m, b;
  };

  static Epilogue epilogue_for(const Ctx& c, size_t c0, Mask mask) {
    return {V::load_params(c.params->multiplier + c0, mask), V::load_params(c.params->bias + c0, mask)};
  }

  static void store(const Ctx& c, const Epilogue& e, I acc, uint8_t* out, Mask mask) {
    V::store(acc, e.m, e.b, c.vmin, c.vmax, out, mask);
  }

  // One output pixel, all channel tiles; taps [ky0, ky1) x [kx0, kx1) are inside the image, tap (0, 0) is at byte
  // offset `origin` of the input (negative when it lies in the padding; only taps inside the image are read).
  static void pixel(const Ctx& c, ptrdiff_t origin, ptrdiff_t ky0, ptrdiff_t ky1, ptrdiff_t kx0, ptrdiff_t kx1,
                    uint8_t* out) {
    for (size_t c0 = 0; c0 < c.channels; c0 += kTile) {
      const size_t rest = c.channels - c0;
      const bool masked = rest < kTile;
      const Mask mask = V::lanes(rest);
      const int8_t* w = c.packed + c0 * c.taps;
      I acc = V::zero();
      for (ptrdiff_t ky = ky0; ky < ky1; ++ky) {
        for (ptrdiff_t kx = kx0; kx < kx1; ++kx) {
          const ptrdiff_t offset =
              origin + ky * static_cast<ptrdiff_t>(c.row_stride) + kx * static_cast<ptrdiff_t>(c.pixel_stride);
          const I x = V::load_x(c.input + static_cast<size_t>(offset) + c0, mask, masked);
          const I wt = V::load_w(w + kTile * static_cast<size_t>(ky * static_cast<ptrdiff_t>(c.kernel_w) + kx));
          acc = V::add(acc, V::mullo(V::sub(x, c.zero), wt));
        }
      }
      store(c, epilogue_for(c, c0, mask), acc, out + c0, mask);
    }
  }

  // Interior run of a kKh x kKw kernel: `count` output pixels whose taps all lie inside the image; `first` is tap
  // (0, 0) of the first one, `step` the input bytes between neighbours. Channels from c_begin (a multiple of kTile)
  // on.
  template <size_t kKh, size_t kKw>
  static void interior(const Ctx& c, const uint8_t* first, size_t step, size_t count, uint8_t* out_first,
                       size_t out_stride, size_t c_begin) {
    constexpr size_t kTaps = kKh * kKw;
    for (size_t c0 = c_begin; c0 < c.channels; c0 += kTile) {
      const size_t rest = c.channels - c0;
      const bool masked = rest < kTile;
      const Mask mask = V::lanes(rest);
      I wv[kTaps];
      for (size_t t = 0; t < kTaps; ++t) wv[t] = V::load_w(c.packed + c0 * kTaps + kTile * t);
      const Epilogue e = epilogue_for(c, c0, mask);
      const uint8_t* in = first + c0;
      uint8_t* out = out_first + c0;
      size_t ox = 0;
      for (; ox + kPixels <= count; ox += kPixels, in += kPixels * step, out += kPixels * out_stride) {
        I acc[kPixels];
        for (size_t j = 0; j < kPixels; ++j) acc[j] = V::zero();
        for (size_t ky = 0; ky < kKh; ++ky) {
          for (size_t kx = 0; kx < kKw; ++kx) {
            const uint8_t* p = in + ky * c.row_stride + kx * c.pixel_stride;
            for (size_t j = 0; j < kPixels; ++j) {
              const I x = V::sub(V::load_x(p + j * step, mask, masked), c.zero);
              acc[j] = V::add(acc[j], V::mullo(x, wv[ky * kKw + kx]));
            }
          }
        }
        for (size_t j = 0; j < kPixels; ++j) store(c, e, acc[j], out + j * out_stride, mask);
      }
      for (; ox < count; ++ox, in += step, out += out_stride) {
        I acc = V::zero();
        for (size_t ky = 0; ky < kKh; ++ky) {
          for (size_t kx = 0; kx < kKw; ++kx) {
            const I x = V::sub(V::load_x(in + ky * c.row_stride + kx * c.pixel_stride, mask, masked), c.zero);
            acc = V::add(acc, V::mullo(x, wv[ky * kKw + kx]));
          }
        }
        store(c, e, acc, out, mask);
      }
    }
  }

  // An interior run over every channel (the Interior form the kernel entry takes).
  template <size_t kKh, size_t kKw>
  static void interior_all(const Ctx& c, const uint8_t* first, size_t step, size_t count, uint8_t* out_first,
                           size_t out_stride) {
    interior<kKh, kKw>(c, first, step, count, out_first, out_stride, 0);
  }

  using Interior = void (*)(const Ctx& c, const uint8_t* first, size_t step, size_t count, uint8_t* out_first,
                            size_t out_stride);

  // The kernel entry (QDwconvKernel's contract, qdwconv.h): interior runs of 3x3 and 5x5 kernels through the given
  // functions, every other pixel through `pixel`.
  static void run(const QDwconvShape& s, const uint8_t* input, size_t stride_in, uint8_t input_zero,
                  const int8_t* packed, uint8_t* output, size_t stride_out, const RequantParams& params,
                  Interior interior_3x3, Interior interior_5x5) {
    Ctx c;
    c.input = input;
    c.row_stride = s.in_w * stride_in;
    c.pixel_stride = stride_in;
    c.channels = s.channels;
    c.taps = s.kernel_h * s.kernel_w;
    c.kernel_w = s.kernel_w;
    c.packed = packed;
    c.zero = V::set1_i(input_zero);
    c.vmin = V::set1_f(params.min);
    c.vmax = V::set1_f(params.max);
    c.params = &params;
    Interior run = nullptr;
    if (s.kernel_h == 3 && s.kernel_w == 3) run = interior_3x3;
    if (s.kernel_h == 5 && s.kernel_w == 5) run = interior_5x5;
    qdwconv_rows(
        s, input, stride_in, output, stride_out, run != nullptr,
        [&c](ptrdiff_t origin, ptrdiff_t ky0, ptrdiff_t ky1, ptrdiff_t kx0, ptrdiff_t kx1, uint8_t* out) {
          pixel(c, origin, ky0, ky1, kx0, kx1, out);
        },
        [&c, run](const uint8_t* first, size_t step, size_t count, uint8_t* out, size_t out_stride) {
          run(c, first, step, count, out, out_stride);
        });
  }
};

}  // namespace arq::kernels
