// qu8-elementwise, AVX-512: 16 lanes per step, masked tail; equal to scalar.cc bit for bit.
#include "common/avx512-intrinsics.h"
#include "kernels/pack-avx512.h"
#include "kernels/qu8-elementwise/elementwise.h"

namespace arq::kernels {
namespace {
inline __mmask16 tail_mask(size_t n, size_t i) {
  return n - i >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << (n - i)) - 1);
}
inline __m512 codes16(const uint8_t* q, __mmask16 mask, __m512 zero) {
  const __m512i wide = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(mask, q));
  return _mm512_sub_ps(_mm512_cvtepi32_ps(wide), zero);  // exact: small integers
}
}  // namespace

void qu8_vadd__avx512(size_t n, const uint8_t* a, const uint8_t* b, uint8_t* y, const VaddParams& p) {
  const __m512 as = _mm512_set1_ps(p.a_scale), az = _mm512_set1_ps(p.a_zero);
  const __m512 bs = _mm512_set1_ps(p.b_scale), bz = _mm512_set1_ps(p.b_zero);
  const __m512 inv = _mm512_set1_ps(p.inv_scale), zero = _mm512_set1_ps(p.zero);
  const __m512 lo = _mm512_set1_ps(p.min), hi = _mm512_set1_ps(p.max);
  const __m512i min_bytes = code_bytes(p.min);
  auto sum16 = [&](size_t i, __mmask16 mask) {
    const __m512 lhs = _mm512_mul_ps(as, codes16(a + i, mask, az));
    const __m512 rhs = _mm512_mul_ps(bs, codes16(b + i, mask, bz));
    return _mm512_fmadd_ps(_mm512_add_ps(lhs, rhs), inv, zero);
  };
  size_t i = 0;
  // 64 codes a step, clamped below on the packed bytes (pack-avx512.h); the masked tail clamps in float.
  for (; n - i >= 64; i += 64) {
    __m512i q[4];
    for (size_t k = 0; k < 4; ++k) q[k] = _mm512_cvtps_epi32(_mm512_min_ps(hi, sum16(i + 16 * k, 0xFFFF)));
    _mm512_storeu_si512(y + i, pack_codes_clamp_below(q, min_bytes));
  }
  for (; i < n; i += 16) {
    const __mmask16 mask = tail_mask(n, i);
    const __m512 v = _mm512_min_ps(_mm512_max_ps(sum16(i, mask), lo), hi);
    _mm_mask_storeu_epi8(y + i, mask, _mm512_cvtusepi32_epi8(_mm512_cvtps_epi32(v)));
  }
}

namespace {
inline __m128i quantize16(__m512 x, const QuantizeParams& p) {
  __m512 t = _mm512_div_ps(x, _mm512_set1_ps(p.scale));
  t = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(t, t, _CMP_ORD_Q), t);  // NaN -> 0
  t = _mm512_min_ps(_mm512_max_ps(t, _mm512_set1_ps(p.lo)), _mm512_set1_ps(p.hi));
  return _mm512_cvtusepi32_epi8(_mm512_add_epi32(_mm512_cvtps_epi32(t), _mm512_set1_epi32(p.zero)));
}
}  // namespace

void f32_qu8_quantize__avx512(size_t n, const float* x, uint8_t* y, const QuantizeParams& p) {
  for (size_t i = 0; i < n; i += 16) {
    const __mmask16 mask = tail_mask(n, i);
    _mm_mask_storeu_epi8(y + i, mask, quantize16(_mm512_maskz_loadu_ps(mask, x + i), p));
  }
}

void qu8_convert__avx512(size_t n, const uint8_t* x, uint8_t* y, const ConvertParams& p) {
  const __m512 scale = _mm512_set1_ps(p.from_scale), zero = _mm512_set1_ps(p.from_zero);
  for (size_t i = 0; i < n; i += 16) {
    const __mmask16 mask = tail_mask(n, i);
    _mm_mask_storeu_epi8(y + i, mask, quantize16(_mm512_mul_ps(scale, codes16(x + i, mask, zero)), p.to));
  }
}

void f32_qu8_quantize_interleave__scalar(size_t n, size_t channels, const float* x, size_t x_channel_stride,
                                         size_t x_pixel_stride, uint8_t* y, size_t y_stride, uint8_t fill,
                                         const QuantizeParams& p);

// 16 pixels per step, each one 4-byte word: channel c in byte c (codes are within [0, 255] after the clamp).
void f32_qu8_quantize_interleave__avx512(size_t n, size_t channels, const float* x, size_t x_channel_stride,
                                         size_t x_pixel_stride, uint8_t* y, size_t y_stride, uint8_t fill,
                                         const QuantizeParams& p) {
  if (x_pixel_stride != 1 || y_stride != 4 || channels > 4) {
    f32_qu8_quantize_interleave__scalar(n, channels, x, x_channel_stride, x_pixel_stride, y, y_stride, fill, p);
    return;
  }
  const __m512 scale = _mm512_set1_ps(p.scale), lo = _mm512_set1_ps(p.lo), hi = _mm512_set1_ps(p.hi);
  const __m512i zero = _mm512_set1_epi32(p.zero);
  for (size_t i = 0; i < n; i += 16) {
    const __mmask16 mask = tail_mask(n, i);
    __m512i word = _mm512_setzero_si512();
    for (size_t c = 0; c < 4; ++c) {
      __m512i code;
      if (c < channels) {
        __m512 t = _mm512_div_ps(_mm512_maskz_loadu_ps(mask, x + c * x_channel_stride + i), scale);
        t = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(t, t, _CMP_ORD_Q), t);  // NaN -> 0
        t = _mm512_min_ps(_mm512_max_ps(t, lo), hi);
        code = _mm512_add_epi32(_mm512_cvtps_epi32(t), zero);
      } else {
        code = _mm512_set1_epi32(fill);
      }
      word = _mm512_or_si512(word, _mm512_slli_epi32(code, static_cast<unsigned>(8 * c)));
    }
    _mm512_mask_storeu_epi32(y + i * 4, mask, word);
  }
}

}  // namespace arq::kernels
