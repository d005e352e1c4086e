// qu8-qs8-dwconv kernel, 8-channel tiles, AVX2 (widening arithmetic). Per tap and tile: 8 input codes zero-extended
// to int32 minus the zero point, times the 8 weights sign-extended to int32 (vpmulld), added into int32
// accumulators: acc = sum over the taps inside the image of w * (x - z), exact. Epilogue = requant.h: cvtepi32_ps,
// _mm256_fmadd_ps, max/min clamp, cvtps_epi32 (default MXCSR, nearest even), int32 -> uint8.
// Two paths compute exactly that:
//   - interior runs of 3x3 and 5x5 kernels (every tap inside the image, any stride): channel tiles outer, 4 output
//     pixels inner, the tile's widened weights and epilogue constants loaded once per run;
//   - every other pixel: taps inside the image found once per pixel, then each channel tile.
// The last tile covers channels % 8 with partial copies, so nothing past `channels` is read or written.
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/qu8-qs8-dwconv/qdwconv.h"
#include "kernels/qu8-qs8-dwconv/rows.h"

namespace arq::kernels {
namespace {

constexpr size_t kTile = 8;
constexpr size_t kPixels = 4;

struct Ctx {
  const uint8_t* input;
  size_t row_stride;    // bytes per input row
  size_t pixel_stride;  // bytes per input pixel
  size_t channels;
  size_t taps, kernel_w;
  const int8_t* packed;
  __m256i zero;         // input zero point, int32 lanes
  __m256 vmin, vmax;
  const RequantParams* params;
};

// `rest` = channels left in this tile (< 8 only for the last tile, `masked`).
inline __m256i load_x(const uint8_t* p, size_t rest, bool masked) {
  uint64_t bytes = 0;
  if (masked) {
    std::memcpy(&bytes, p, rest);
  } else {
    std::memcpy(&bytes, p, sizeof(bytes));
  }
  return _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(static_cast<long long>(bytes)));
}

inline __m256i load_w(const int8_t* p) {
  return _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
}

struct Epilogue {
  __m256 m, b;
};

inline Epilogue epilogue_for(const Ctx& c, size_t c0, size_t rest) {
  const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(rest < kTile ? rest : kTile)),
                                          _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  return {_mm256_maskload_ps(c.params->multiplier + c0, mask), _mm256_maskload_ps(c.params->bias + c0, mask)};
}

inline void store(const Ctx& c, const Epilogue& e, __m256i acc, uint8_t* out, size_t rest) {
  const __m256 y = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc), e.m, e.b);
  const __m256i q = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(y, c.vmin), c.vmax));
  const __m128i q16 = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
  const uint64_t bytes = static_cast<uint64_t>(_mm_cvtsi128_si64(_mm_packus_epi16(q16, q16)));
  std::memcpy(out, &bytes, rest < kTile ? rest : kTile);
}

// One output pixel, all channel tiles; taps [ky0, ky1) x [kx0, kx1) are inside the image, tap (0, 0) is at byte
// offset `origin` of the input (negative when it lies in the padding; only taps inside the image are read).
void pixel(const Ctx& c, ptrdiff_t origin, ptrdiff_t ky0, ptrdiff_t ky1, ptrdiff_t kx0, ptrdiff_t kx1,
           uint8_t* out) {
  for (size_t c0 = 0; c0 < c.channels; c0 += kTile) {
    const size_t rest = c.channels - c0;
    const bool masked = rest < kTile;
    const int8_t* w = c.packed + c0 * c.taps;
    __m256i acc = _mm256_setzero_si256();
    for (ptrdiff_t ky = ky0; ky < ky1; ++ky) {
      for (ptrdiff_t kx = kx0; kx < kx1; ++kx) {
        const ptrdiff_t offset = origin + ky * static_cast<ptrdiff_t>(c.row_stride) +
                                 kx * static_cast<ptrdiff_t>(c.pixel_stride);
        const __m256i x = load_x(c.input + static_cast<size_t>(offset) + c0, rest, masked);
        const __m256i wt = load_w(w + kTile * static_cast<size_t>(ky * static_cast<ptrdiff_t>(c.kernel_w) + kx));
        acc = _mm256_add_epi32(acc, _mm256_mullo_epi32(_mm256_sub_epi32(x, c.zero), wt));
      }
    }
    store(c, epilogue_for(c, c0, rest), acc, out + c0, rest);
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
    __m256i wv[kTaps];
    for (size_t t = 0; t < kTaps; ++t) wv[t] = load_w(c.packed + c0 * kTaps + kTile * t);
    const Epilogue e = epilogue_for(c, c0, rest);
    const uint8_t* in = first + c0;
    uint8_t* out = out_first + c0;
    size_t ox = 0;
    for (; ox + kPixels <= count; ox += kPixels, in += kPixels * step, out += kPixels * out_stride) {
      __m256i acc[kPixels];
      for (size_t j = 0; j < kPixels; ++j) acc[j] = _mm256_setzero_si256();
      for (size_t ky = 0; ky < kKh; ++ky) {
        for (size_t kx = 0; kx < kKw; ++kx) {
          const uint8_t* p = in + ky * c.row_stride + kx * c.pixel_stride;
          for (size_t j = 0; j < kPixels; ++j) {
            const __m256i x = _mm256_sub_epi32(load_x(p + j * step, rest, masked), c.zero);
            acc[j] = _mm256_add_epi32(acc[j], _mm256_mullo_epi32(x, wv[ky * kKw + kx]));
          }
        }
      }
      for (size_t j = 0; j < kPixels; ++j) store(c, e, acc[j], out + j * out_stride, rest);
    }
    for (; ox < count; ++ox, in += step, out += out_stride) {
      __m256i acc = _mm256_setzero_si256();
      for (size_t ky = 0; ky < kKh; ++ky) {
        for (size_t kx = 0; kx < kKw; ++kx) {
          const __m256i x =
              _mm256_sub_epi32(load_x(in + ky * c.row_stride + kx * c.pixel_stride, rest, masked), c.zero);
          acc = _mm256_add_epi32(acc, _mm256_mullo_epi32(x, wv[ky * kKw + kx]));
        }
      }
      store(c, e, acc, out, rest);
    }
  }
}

}  // namespace

void qu8_qs8_dwconv_c8__avx2(const QDwconvShape& s, const uint8_t* input, size_t stride_in, uint8_t input_zero,
                             const int8_t* packed, uint8_t* output, size_t stride_out, const RequantParams& params) {
  Ctx c;
  c.input = input;
  c.row_stride = s.in_w * stride_in;
  c.pixel_stride = stride_in;
  c.channels = s.channels;
  c.taps = s.kernel_h * s.kernel_w;
  c.kernel_w = s.kernel_w;
  c.packed = packed;
  c.zero = _mm256_set1_epi32(input_zero);
  c.vmin = _mm256_set1_ps(params.min);
  c.vmax = _mm256_set1_ps(params.max);
  c.params = &params;

  using Interior = void (*)(const Ctx&, const uint8_t*, size_t, size_t, uint8_t*, size_t);
  Interior run = nullptr;
  if (s.kernel_h == 3 && s.kernel_w == 3) run = interior<3, 3>;
  if (s.kernel_h == 5 && s.kernel_w == 5) run = interior<5, 5>;
  qdwconv_rows(
      s, input, stride_in, output, stride_out, run != nullptr,
      [&c](ptrdiff_t origin, ptrdiff_t ky0, ptrdiff_t ky1, ptrdiff_t kx0, ptrdiff_t kx1, uint8_t* out) {
        pixel(c, origin, ky0, ky1, kx0, kx1, out);
      },
      [&c, run](const uint8_t* first, size_t step, size_t count, uint8_t* out, size_t out_stride) {
        run(c, first, step, count, out, out_stride);
      });
}

}  // namespace arq::kernels
