// AVX2+FMA Gaussian noise row: 8 Philox blocks (32 elements) per step, each lane running the exact scalar sequence
// of transform.h, then a 4x8 transpose so element 4b+m lands in place. Compiled with AVX2 flags only.
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "noise/noise.h"
#include "noise/row.h"
#include "noise/transform.h"

namespace arq::noise {
namespace {

struct Avx2Lanes {
  using U = __m256i;
  using F = __m256;
  static U set1(uint32_t v) { return _mm256_set1_epi32(static_cast<int>(v)); }
  static F setf(float v) { return _mm256_set1_ps(v); }
  static U add(U a, U b) { return _mm256_add_epi32(a, b); }
  static U sub(U a, U b) { return _mm256_sub_epi32(a, b); }
  static U and_(U a, U b) { return _mm256_and_si256(a, b); }
  static U or_(U a, U b) { return _mm256_or_si256(a, b); }
  static U xor_(U a, U b) { return _mm256_xor_si256(a, b); }
  static U andnot(U mask, U a) { return _mm256_andnot_si256(mask, a); }
  template <int n>
  static U shr(U a) {
    return _mm256_srli_epi32(a, n);
  }
  template <int n>
  static U shl(U a) {
    return _mm256_slli_epi32(a, n);
  }
  static void mulhilo(U a, uint32_t m, U* hi, U* lo) {
    const U mv = set1(m);
    const U even = _mm256_mul_epu32(a, mv);                        // 64-bit products of lanes 0, 2, 4, 6
    const U odd = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), mv);  // lanes 1, 3, 5, 7
    *hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
    *lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
  }
  static F to_float(U a) { return _mm256_cvtepi32_ps(a); }
  static U bits(F a) { return _mm256_castps_si256(a); }
  static F floats(U a) { return _mm256_castsi256_ps(a); }
  static F fadd(F a, F b) { return _mm256_add_ps(a, b); }
  static F fsub(F a, F b) { return _mm256_sub_ps(a, b); }
  static F fmul(F a, F b) { return _mm256_mul_ps(a, b); }
  static F fma(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }
  static F fsqrt(F a) { return _mm256_sqrt_ps(a); }
  static constexpr size_t kLanes = 8;
  static F load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, F a) { _mm256_storeu_ps(p, a); }
};

// Elements 4*b0 .. 4*b0 + 31 of the row, in order.
inline void step(uint32_t b0, __m256i c1, __m256i c2, __m256i c3, uint32_t key0, uint32_t key1, __m256 sigma,
                 __m256 v[4]) {
  const __m256i c0 =
      _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(b0)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  __m256 g[4];
  transform::gauss_blocks<Avx2Lanes>(c0, c1, c2, c3, key0, key1, sigma, g);
  // Within each 128-bit half: u[m] holds block 4*half + m as {g0, g1, g2, g3}.
  const __m256 t0 = _mm256_unpacklo_ps(g[0], g[1]);
  const __m256 t1 = _mm256_unpackhi_ps(g[0], g[1]);
  const __m256 t2 = _mm256_unpacklo_ps(g[2], g[3]);
  const __m256 t3 = _mm256_unpackhi_ps(g[2], g[3]);
  const __m256 u0 = _mm256_castpd_ps(_mm256_unpacklo_pd(_mm256_castps_pd(t0), _mm256_castps_pd(t2)));
  const __m256 u1 = _mm256_castpd_ps(_mm256_unpackhi_pd(_mm256_castps_pd(t0), _mm256_castps_pd(t2)));
  const __m256 u2 = _mm256_castpd_ps(_mm256_unpacklo_pd(_mm256_castps_pd(t1), _mm256_castps_pd(t3)));
  const __m256 u3 = _mm256_castpd_ps(_mm256_unpackhi_pd(_mm256_castps_pd(t1), _mm256_castps_pd(t3)));
  v[0] = _mm256_permute2f128_ps(u0, u1, 0x20);  // blocks 0, 1
  v[1] = _mm256_permute2f128_ps(u2, u3, 0x20);  // blocks 2, 3
  v[2] = _mm256_permute2f128_ps(u0, u1, 0x31);  // blocks 4, 5
  v[3] = _mm256_permute2f128_ps(u2, u3, 0x31);  // blocks 6, 7
}

}  // namespace

void gauss_row__avx2(uint32_t key0, uint32_t key1, uint32_t sample, uint32_t image, size_t elements, float sigma,
                     const float* base, float* out) {
  gauss_row_lanes<Avx2Lanes>(key0, key1, sample, image, elements, sigma, base, out, step);
}

}  // namespace arq::noise
