// qu8-qs8-dwconv kernel, 16-channel tiles, AVX-512 (widening arithmetic; VNNI is of no use here because the 4 bytes
// vpdpbusd sums would have to be 4 taps of one channel, which NHWC keeps apart). Per tap and tile: 16 input codes
// zero-extended to int32 minus the zero point, times the 16 weights sign-extended to int32 (vpmulld), added into
// int32 accumulators: acc = sum over the taps inside the image of w * (x - z), exact. Epilogue = requant.h:
// cvtepi32_ps, _mm512_fmadd_ps, max/min clamp, cvtps_epi32 (default MXCSR, nearest even), int32 -> uint8.
// Two paths compute exactly that:
//   - interior runs of 3x3 and 5x5 kernels (every tap inside the image, any stride): channel tiles outer, 4 output
//     pixels inner, the tile's widened weights and epilogue constants loaded once per run;
//   - every other pixel: taps inside the image found once per pixel, then each channel tile.
// The last tile covers channels % 16 with masked loads and stores, so nothing past `channels` is read or written.
// GCC 12 flags _mm512_undefined_* inside its own intrinsics as maybe-uninitialized (GCC bug 105593).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <cstddef>
#include <cstdint>

#include "kernels/qu8-qs8-dwconv/qdwconv.h"

namespace arq::kernels {
namespace {

constexpr size_t kTile = 16;
constexpr size_t kPixels = 4;

struct Ctx {
  const uint8_t* input;
  size_t row_stride;    // bytes per input row
  size_t pixel_stride;  // bytes per input pixel
  size_t channels;
  size_t taps, kernel_w;
  const int8_t* packed;
  __m512i zero;         // input zero point, int32 lanes
  __m512 vmin, vmax;
  const RequantParams* params;
};

inline __m512i load_x(const uint8_t* p, __mmask16 mask, bool masked) {
  const __m128i bytes = masked ? _mm_maskz_loadu_epi8(mask, p) : _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return _mm512_cvtepu8_epi32(bytes);
}

inline __m512i load_w(const int8_t* p) {
  return _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

struct Epilogue {
  __m512 m, b;
};

inline Epilogue epilogue_for(const Ctx& c, size_t c0, __mmask16 mask) {
  return {_mm512_maskz_loadu_ps(mask, c.params->multiplier + c0), _mm512_maskz_loadu_ps(mask, c.params->bias + c0)};
}

inline void store(const Ctx& c, const Epilogue& e, __m512i acc, uint8_t* out, __mmask16 mask) {
  const __m512 y = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc), e.m, e.b);
  const __m512i q = _mm512_cvtps_epi32(_mm512_min_ps(_mm512_max_ps(y, c.vmin), c.vmax));
  _mm_mask_storeu_epi8(out, mask, _mm512_cvtepi32_epi8(q));
}

// One output pixel, all channel tiles; taps [ky0, ky1) x [kx0, kx1) are inside the image, tap (0, 0) is at byte
// offset `origin` of the input (negative when it lies in the padding; only taps inside the image are read).
void pixel(const Ctx& c, ptrdiff_t origin, ptrdiff_t ky0, ptrdiff_t ky1, ptrdiff_t kx0, ptrdiff_t kx1,
           uint8_t* out) {
  for (size_t c0 = 0; c0 < c.channels; c0 += kTile) {
    const size_t rest = c.channels - c0;
    const bool masked = rest < kTile;
    const __mmask16 mask = masked ? static_cast<__mmask16>((1u << rest) - 1) : static_cast<__mmask16>(0xFFFF);
    const int8_t* w = c.packed + c0 * c.taps;
    __m512i acc = _mm512_setzero_si512();
    for (ptrdiff_t ky = ky0; ky < ky1; ++ky) {
      for (ptrdiff_t kx = kx0; kx < kx1; ++kx) {
        const ptrdiff_t offset = origin + ky * static_cast<ptrdiff_t>(c.row_stride) +
                                 kx * static_cast<ptrdiff_t>(c.pixel_stride);
        const __m512i x = load_x(c.input + static_cast<size_t>(offset) + c0, mask, masked);
        const __m512i wt = load_w(w + kTile * static_cast<size_t>(ky * static_cast<ptrdiff_t>(c.kernel_w) + kx));
        acc = _mm512_add_epi32(acc, _mm512_mullo_epi32(_mm512_sub_epi32(x, c.zero), wt));
      }
    }
    store(c, epilogue_for(c, c0, mask), acc, out + c0, mask);
  }
}

// Interior run of a kKh x kKw kernel: `count` output pixels whose taps all lie inside the image; `first` is tap
// (0, 0) of the first one, `step` the input bytes between neighbours.
template <size_t kKh, size_t kKw>
void interior(const Ctx& c, const uint8_t* first, size_t step, size_t count, uint8_t* out_first, size_t out_stride) {
  constexpr size_t kTaps = kKh * kKw;
  for (size_t c0 = 0; c0 < c.channels; c0 += kTile) {
    const size_t rest = c.channels - c0;
    const bool masked = rest < kTile;
    const __mmask16 mask = masked ? static_cast<__mmask16>((1u << rest) - 1) : static_cast<__mmask16>(0xFFFF);
    __m512i wv[kTaps];
    for (size_t t = 0; t < kTaps; ++t) wv[t] = load_w(c.packed + c0 * kTaps + kTile * t);
    const Epilogue e = epilogue_for(c, c0, mask);
    const uint8_t* in = first + c0;
    uint8_t* out = out_first + c0;
    size_t ox = 0;
    for (; ox + kPixels <= count; ox += kPixels, in += kPixels * step, out += kPixels * out_stride) {
      __m512i acc[kPixels];
      for (size_t j = 0; j < kPixels; ++j) acc[j] = _mm512_setzero_si512();
      for (size_t ky = 0; ky < kKh; ++ky) {
        for (size_t kx = 0; kx < kKw; ++kx) {
          const uint8_t* p = in + ky * c.row_stride + kx * c.pixel_stride;
          for (size_t j = 0; j < kPixels; ++j) {
            const __m512i x = _mm512_sub_epi32(load_x(p + j * step, mask, masked), c.zero);
            acc[j] = _mm512_add_epi32(acc[j], _mm512_mullo_epi32(x, wv[ky * kKw + kx]));
          }
        }
      }
      for (size_t j = 0; j < kPixels; ++j) store(c, e, acc[j], out + j * out_stride, mask);
    }
    for (; ox < count; ++ox, in += step, out += out_stride) {
      __m512i acc = _mm512_setzero_si512();
      for (size_t ky = 0; ky < kKh; ++ky) {
        for (size_t kx = 0; kx < kKw; ++kx) {
          const __m512i x =
              _mm512_sub_epi32(load_x(in + ky * c.row_stride + kx * c.pixel_stride, mask, masked), c.zero);
          acc = _mm512_add_epi32(acc, _mm512_mullo_epi32(x, wv[ky * kKw + kx]));
        }
      }
      store(c, e, acc, out, mask);
    }
  }
}

}  // namespace

void qu8_qs8_dwconv_c16__avx512vnni(const QDwconvShape& s, const uint8_t* input, size_t stride_in,
                                    uint8_t input_zero, const int8_t* packed, uint8_t* output, size_t stride_out,
                                    const RequantParams& params) {
  Ctx c;
  c.input = input;
  c.row_stride = s.in_w * stride_in;
  c.pixel_stride = stride_in;
  c.channels = s.channels;
  c.taps = s.kernel_h * s.kernel_w;
  c.kernel_w = s.kernel_w;
  c.packed = packed;
  c.zero = _mm512_set1_epi32(input_zero);
  c.vmin = _mm512_set1_ps(params.min);
  c.vmax = _mm512_set1_ps(params.max);
  c.params = &params;

  using Interior = void (*)(const Ctx&, const uint8_t*, size_t, size_t, uint8_t*, size_t);
  Interior run = nullptr;
  if (s.kernel_h == 3 && s.kernel_w == 3) run = interior<3, 3>;
  if (s.kernel_h == 5 && s.kernel_w == 5) run = interior<5, 5>;
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
      pixel(c, (iy0 * in_w + ix0) * static_cast<ptrdiff_t>(stride_in), ky0, ky1, kx0, kx1, out_row + ox * stride_out);
    };
    if (run != nullptr && ky0 == 0 && ky1 == kh && ox_lo < ox_hi) {
      for (size_t ox = 0; ox < ox_lo; ++ox) one(ox);
      const ptrdiff_t first =
          iy0 * in_w + static_cast<ptrdiff_t>(ox_lo * s.stride_w) - static_cast<ptrdiff_t>(s.pad_left);
      run(c, input + static_cast<size_t>(first) * stride_in, step, ox_hi - ox_lo, out_row + ox_lo * stride_out,
          stride_out);
      for (size_t ox = ox_hi; ox < s.out_w; ++ox) one(ox);
    } else {
      for (size_t ox = 0; ox < s.out_w; ++ox) one(ox);
    }
  }
}

}  // namespace arq::kernels
