// qu8-interval, AVX2: 8 channels per step, the channel tail by the scalar variant; equal to scalar.cc bit for bit.
#include <immintrin.h>

#include "kernels/qu8-interval/interval.h"

namespace arq::kernels {

void qu8_interval_epilogue__scalar(size_t pixels, size_t n, const float* centre, const float* radius,
                                   const RequantParams& params, uint8_t* out);

namespace {
// 8 int32 codes (within [0, 255] after the clamp) as 8 bytes.
inline void store8(uint8_t* y, __m256i v) {
  const __m128i lo = _mm256_castsi256_si128(v), hi = _mm256_extracti128_si256(v, 1);
  const __m128i words = _mm_packus_epi32(lo, hi);
  _mm_storel_epi64(reinterpret_cast<__m128i*>(y), _mm_packus_epi16(words, words));
}
// requant_code of 8 accumulators: cvtepi32_ps and cvtps_epi32 round to nearest even under the default MXCSR.
inline __m256i requant8(__m256i acc, __m256 m, __m256 b, __m256 lo, __m256 hi) {
  const __m256 y = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc), m, b);
  return _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(y, lo), hi));
}
}  // namespace

void qu8_interval_epilogue__avx2(size_t pixels, size_t n, const float* centre, const float* radius,
                                 const RequantParams& params, uint8_t* out) {
  const size_t whole = n / 8 * 8;
  const __m256 lo = _mm256_set1_ps(params.min), hi = _mm256_set1_ps(params.max);
  for (size_t p = 0; p < pixels; ++p) {
    const float* cp = centre + p * n;
    const float* rp = radius + p * n;
    uint8_t* op = out + p * 2 * n;
    for (size_t j = 0; j < whole; j += 8) {
      // Truncation is exact: the sums are integers.
      const __m256i c = _mm256_sub_epi32(_mm256_cvttps_epi32(_mm256_loadu_ps(cp + j)),
                                         _mm256_loadu_si256(reinterpret_cast<const __m256i*>(params.correction + j)));
      const __m256i r = _mm256_cvttps_epi32(_mm256_loadu_ps(rp + j));
      const __m256 m = _mm256_loadu_ps(params.multiplier + j), b = _mm256_loadu_ps(params.bias + j);
      // c - r and c + r are even: the arithmetic shift halves them exactly.
      store8(op + j, requant8(_mm256_srai_epi32(_mm256_sub_epi32(c, r), 1), m, b, lo, hi));
      store8(op + n + j, requant8(_mm256_srai_epi32(_mm256_add_epi32(c, r), 1), m, b, lo, hi));
    }
    if (whole == n) continue;
    // The channel tail: the scalar variant on one pixel of n - whole channels, writing through a 2(n - whole) row.
    const RequantParams tail{params.multiplier + whole, params.bias + whole, params.correction + whole, params.min,
                             params.max};
    uint8_t codes[2 * 8];
    const size_t rest = n - whole;
    qu8_interval_epilogue__scalar(1, rest, cp + whole, rp + whole, tail, codes);
    for (size_t j = 0; j < rest; ++j) op[whole + j] = codes[j], op[n + whole + j] = codes[rest + j];
  }
}

}  // namespace arq::kernels
