// The row walk shared by the SIMD qu8-qs8-dwconv kernels (c8-avx2.cc, c16-avx512vnni.cc): which output pixels have
// every tap inside the image, and where their input starts. The arithmetic stays in the ISA files; this header holds
// only index computations and is instantiated with each file's own callbacks (lambdas, so internal to that file).
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/qu8-qs8-dwconv/qdwconv.h"

namespace arq::kernels {

// For every output row: pixel(origin, ky0, ky1, kx0, kx1, out) for each output pixel with a tap in the padding (taps
// [ky0, ky1) x [kx0, kx1) inside the image, tap (0, 0) at byte offset `origin` of the input, negative when it lies in
// the padding), and, where `has_interior`, one interior(first, step, count, out, stride_out) call for the run of
// `count` pixels whose taps all lie inside the image (the first one's tap (0, 0) at `first`, the next ones `step`
// bytes apart); without it every pixel goes to `pixel`.
template <class Pixel, class Interior>
void qdwconv_rows(const QDwconvShape& s, const uint8_t* input, size_t stride_in, uint8_t* output, size_t stride_out,
                  bool has_interior, const Pixel& pixel, const Interior& interior) {
  // Output columns [ox_lo, ox_hi) have every tap inside the image horizontally.
  size_t ox_hi = s.in_w + s.pad_left >= s.kernel_w ? (s.in_w + s.pad_left - s.kernel_w) / s.stride_w + 1 : 0;
  if (ox_hi > s.out_w) ox_hi = s.out_w;
  size_t ox_lo = (s.pad_left + s.stride_w - 1) / s.stride_w;
  if (ox_lo > ox_hi) ox_lo = ox_hi;
  const ptrdiff_t in_h = static_cast<ptrdiff_t>(s.in_h);
  const ptrdiff_t in_w = static_cast<ptrdiff_t>(s.in_w);
  const ptrdiff_t kh = static_cast<ptrdiff_t>(s.kernel_h);
  const ptrdiff_t kw = static_cast<ptrdiff_t>(s.kernel_w);
  const size_t step = s.stride_w * stride_in;

  for (size_t oy = 0; oy < s.out_h; ++oy) {
    const ptrdiff_t iy0 = static_cast<ptrdiff_t>(oy * s.stride_h) - static_cast<ptrdiff_t>(s.pad_top);
    const ptrdiff_t ky0 = iy0 < 0 ? -iy0 : 0;
    const ptrdiff_t ky1 = in_h - iy0 < kh ? in_h - iy0 : kh;
    uint8_t* out_row = output + oy * s.out_w * stride_out;
    const auto one = [&](size_t ox) {
      const ptrdiff_t ix0 = static_cast<ptrdiff_t>(ox * s.stride_w) - static_cast<ptrdiff_t>(s.pad_left);
      const ptrdiff_t kx0 = ix0 < 0 ? -ix0 : 0;
      const ptrdiff_t kx1 = in_w - ix0 < kw ? in_w - ix0 : kw;
      pixel((iy0 * in_w + ix0) * static_cast<ptrdiff_t>(stride_in), ky0, ky1, kx0, kx1, out_row + ox * stride_out);
    };
    if (has_interior && ky0 == 0 && ky1 == kh && ox_lo < ox_hi) {
      for (size_t ox = 0; ox < ox_lo; ++ox) one(ox);
      const ptrdiff_t first =
          iy0 * in_w + static_cast<ptrdiff_t>(ox_lo * s.stride_w) - static_cast<ptrdiff_t>(s.pad_left);
      interior(input + static_cast<size_t>(first) * stride_in, step, ox_hi - ox_lo, out_row + ox_lo * stride_out,
               stride_out);
      for (size_t ox = ox_hi; ox < s.out_w; ++ox) one(ox);
    } else {
      for (size_t ox = 0; ox < s.out_w; ++ox) one(ox);
    }
  }
}

}  // namespace arq::kernels
