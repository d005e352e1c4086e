// qu8-elementwise, AVX2: 8 lanes per step (16 per loop), scalar tail; equal to scalar.cc bit for bit.
#include <immintrin.h>

#include "kernels/qu8-elementwise/elementwise.h"

namespace arq::kernels {

void qu8_vadd__scalar(size_t n, const uint8_t* a, const uint8_t* b, uint8_t* y, const VaddParams& p);
void f32_qu8_quantize__scalar(size_t n, const float* x, uint8_t* y, const QuantizeParams& p);
void qu8_convert__scalar(size_t n, const uint8_t* x, uint8_t* y, const ConvertParams& p);
void f32_qu8_quantize_interleave__scalar(size_t n, size_t channels, const float* x, size_t x_channel_stride,
                                         size_t x_pixel_stride, uint8_t* y, size_t y_stride, uint8_t fill,
                                         const QuantizeParams& p);

namespace {
inline __m256 codes8(const uint8_t* q, __m256 zero) {
  const __m256i wide = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(q)));
  return _mm256_sub_ps(_mm256_cvtepi32_ps(wide), zero);  // exact: small integers
}
inline void store8(uint8_t* y, __m256i v) {
  const __m128i lo = _mm256_castsi256_si128(v), hi = _mm256_extracti128_si256(v, 1);
  const __m128i words = _mm_packus_epi32(lo, hi);
  _mm_storel_epi64(reinterpret_cast<__m128i*>(y), _mm_packus_epi16(words, words));
}
}  // namespace

void qu8_vadd__avx2(size_t n, const uint8_t* a, const uint8_t* b, uint8_t* y, const VaddParams& p) {
  const __m256 as = _mm256_set1_ps(p.a_scale), az = _mm256_set1_ps(p.a_zero);
  const __m256 bs = _mm256_set1_ps(p.b_scale), bz = _mm256_set1_ps(p.b_zero);
  const __m256 inv = _mm256_set1_ps(p.inv_scale), zero = _mm256_set1_ps(p.zero);
  const __m256 lo = _mm256_set1_ps(p.min), hi = _mm256_set1_ps(p.max);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 lhs = _mm256_mul_ps(as, codes8(a + i, az));
    const __m256 rhs = _mm256_mul_ps(bs, codes8(b + i, bz));
    __m256 v = _mm256_fmadd_ps(_mm256_add_ps(lhs, rhs), inv, zero);
    v = _mm256_min_ps(_mm256_max_ps(v, lo), hi);
    store8(y + i, _mm256_cvtps_epi32(v));
  }
  qu8_vadd__scalar(n - i, a + i, b + i, y + i, p);
}

namespace {
inline __m256i quantize8(__m256 x, const QuantizeParams& p) {
  __m256 t = _mm256_div_ps(x, _mm256_set1_ps(p.scale));
  t = _mm256_and_ps(t, _mm256_cmp_ps(t, t, _CMP_ORD_Q));  // NaN -> 0
  t = _mm256_min_ps(_mm256_max_ps(t, _mm256_set1_ps(p.lo)), _mm256_set1_ps(p.hi));
  return _mm256_add_epi32(_mm256_cvtps_epi32(t), _mm256_set1_epi32(p.zero));
}
}  // namespace

void f32_qu8_quantize__avx2(size_t n, const float* x, uint8_t* y, const QuantizeParams& p) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) store8(y + i, quantize8(_mm256_loadu_ps(x + i), p));
  f32_qu8_quantize__scalar(n - i, x + i, y + i, p);
}

void qu8_convert__avx2(size_t n, const uint8_t* x, uint8_t* y, const ConvertParams& p) {
  const __m256 scale = _mm256_set1_ps(p.from_scale), zero = _mm256_set1_ps(p.from_zero);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) store8(y + i, quantize8(_mm256_mul_ps(scale, codes8(x + i, zero)), p.to));
  qu8_convert__scalar(n - i, x + i, y + i, p);
}

// 8 pixels per step, each one 4-byte word: channel c in byte c (codes are within [0, 255] after the clamp).
void f32_qu8_quantize_interleave__avx2(size_t n, size_t channels, const float* x, size_t x_channel_stride,
                                       size_t x_pixel_stride, uint8_t* y, size_t y_stride, uint8_t fill,
                                       const QuantizeParams& p) {
  size_t i = 0;
  if (x_pixel_stride == 1 && y_stride == 4 && channels <= 4) {
    for (; i + 8 <= n; i += 8) {
      __m256i word = _mm256_setzero_si256();
      for (size_t c = 0; c < 4; ++c) {
        const __m256i code =
            c < channels ? quantize8(_mm256_loadu_ps(x + c * x_channel_stride + i), p) : _mm256_set1_epi32(fill);
        word = _mm256_or_si256(word, _mm256_slli_epi32(code, static_cast<int>(8 * c)));
      }
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + i * 4), word);
    }
  }
  f32_qu8_quantize_interleave__scalar(n - i, channels, x + i * x_pixel_stride, x_channel_stride, x_pixel_stride,
                                      y + i * y_stride, y_stride, fill, p);
}

}  // namespace arq::kernels
