// qu8-interval, AVX-512: 16 channels per step, the channel tail masked; equal to scalar.cc bit for bit.
#include "common/avx512-intrinsics.h"
#include "kernels/qu8-interval/interval.h"

namespace arq::kernels {

namespace {
// requant_code of 16 accumulators: cvtepi32_ps and cvtps_epi32 round to nearest even under the default MXCSR.
inline __m128i requant16(__m512i acc, __m512 m, __m512 b, __m512 lo, __m512 hi) {
  const __m512 y = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc), m, b);
  return _mm512_cvtusepi32_epi8(_mm512_cvtps_epi32(_mm512_min_ps(_mm512_max_ps(y, lo), hi)));
}
}  // namespace

void qu8_interval_epilogue__avx512(size_t pixels, size_t n, const float* centre, const float* radius,
                                   const RequantParams& params, uint8_t* out) {
  const __m512 lo = _mm512_set1_ps(params.min), hi = _mm512_set1_ps(params.max);
  for (size_t p = 0; p < pixels; ++p) {
    const float* cp = centre + p * n;
    const float* rp = radius + p * n;
    uint8_t* op = out + p * 2 * n;
    for (size_t j = 0; j < n; j += 16) {
      const __mmask16 mask = n - j >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << (n - j)) - 1);
      // Truncation is exact: the sums are integers.
      const __m512i c = _mm512_sub_epi32(_mm512_cvttps_epi32(_mm512_maskz_loadu_ps(mask, cp + j)),
                                         _mm512_maskz_loadu_epi32(mask, params.correction + j));
      const __m512i r = _mm512_cvttps_epi32(_mm512_maskz_loadu_ps(mask, rp + j));
      const __m512 m = _mm512_maskz_loadu_ps(mask, params.multiplier + j);
      const __m512 b = _mm512_maskz_loadu_ps(mask, params.bias + j);
      // c - r and c + r are even: the arithmetic shift halves them exactly.
      _mm_mask_storeu_epi8(op + j, mask, requant16(_mm512_srai_epi32(_mm512_sub_epi32(c, r), 1), m, b, lo, hi));
      _mm_mask_storeu_epi8(op + n + j, mask, requant16(_mm512_srai_epi32(_mm512_add_epi32(c, r), 1), m, b, lo, hi));
    }
  }
}

}  // namespace arq::kernels
