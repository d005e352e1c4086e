// AVX-512 Gaussian noise row: 16 Philox blocks (64 elements) per step, each lane running the exact scalar sequence
// of transform.h, then a 4x16 transpose so element 4b+m lands in place. Compiled with AVX-512 flags only.
#include <cstddef>
#include <cstdint>

#include "common/avx512-intrinsics.h"
#include "noise/noise.h"
#include "noise/row.h"
#include "noise/transform.h"

namespace arq::noise {
namespace {

struct Avx512Lanes {
  using U = __m512i;
  using F = __m512;
  static U set1(uint32_t v) { return _mm512_set1_epi32(static_cast<int>(v)); }
  static F setf(float v) { return _mm512_set1_ps(v); }
  static U add(U a, U b) { return _mm512_add_epi32(a, b); }
  static U sub(U a, U b) { return _mm512_sub_epi32(a, b); }
  static U and_(U a, U b) { return _mm512_and_si512(a, b); }
  static U or_(U a, U b) { return _mm512_or_si512(a, b); }
  static U xor_(U a, U b) { return _mm512_xor_si512(a, b); }
  static U andnot(U mask, U a) { return _mm512_andnot_si512(mask, a); }
  template <int n>
  static U shr(U a) {
    return _mm512_srli_epi32(a, n);
  }
  template <int n>
  static U shl(U a) {
    return _mm512_slli_epi32(a, n);
  }
  static void mulhilo(U a, uint32_t m, U* hi, U* lo) {
    const U mv = set1(m);
    const U even = _mm512_mul_epu32(a, mv);                        // 64-bit products of the even lanes
    const U odd = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), mv);  // and of the odd lanes
    *hi = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(even, 32), odd);
    *lo = _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64(odd, 32));
  }
  static F to_float(U a) { return _mm512_cvtepi32_ps(a); }
  static U bits(F a) { return _mm512_castps_si512(a); }
  static F floats(U a) { return _mm512_castsi512_ps(a); }
  static F fadd(F a, F b) { return _mm512_add_ps(a, b); }
  static F fsub(F a, F b) { return _mm512_sub_ps(a, b); }
  static F fmul(F a, F b) { return _mm512_mul_ps(a, b); }
  static F fma(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }
  static F fsqrt(F a) { return _mm512_sqrt_ps(a); }
  static constexpr size_t kLanes = 16;
  static F load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, F a) { _mm512_storeu_ps(p, a); }
};

// Elements 4*b0 .. 4*b0 + 63 of the row, in order.
inline void step(uint32_t b0, __m512i c1, __m512i c2, __m512i c3, uint32_t key0, uint32_t key1, __m512 sigma,
                 __m512 v[4]) {
  const __m512i c0 = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(b0)),
                                      _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
  __m512 g[4];
  transform::gauss_blocks<Avx512Lanes>(c0, c1, c2, c3, key0, key1, sigma, g);
  // Within each 128-bit quarter L: u[m] holds block 4L + m as {g0, g1, g2, g3}.
  const __m512 t0 = _mm512_unpacklo_ps(g[0], g[1]);
  const __m512 t1 = _mm512_unpackhi_ps(g[0], g[1]);
  const __m512 t2 = _mm512_unpacklo_ps(g[2], g[3]);
  const __m512 t3 = _mm512_unpackhi_ps(g[2], g[3]);
  const __m512 u0 = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t0), _mm512_castps_pd(t2)));
  const __m512 u1 = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t0), _mm512_castps_pd(t2)));
  const __m512 u2 = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t1), _mm512_castps_pd(t3)));
  const __m512 u3 = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t1), _mm512_castps_pd(t3)));
  // Transpose the 4x4 grid of quarters: v[n] = {u0[n], u1[n], u2[n], u3[n]} = blocks 4n .. 4n + 3.
  const __m512 a = _mm512_shuffle_f32x4(u0, u1, _MM_SHUFFLE(1, 0, 1, 0));  // u0[0] u0[1] u1[0] u1[1]
  const __m512 b = _mm512_shuffle_f32x4(u2, u3, _MM_SHUFFLE(1, 0, 1, 0));  // u2[0] u2[1] u3[0] u3[1]
  const __m512 c = _mm512_shuffle_f32x4(u0, u1, _MM_SHUFFLE(3, 2, 3, 2));  // u0[2] u0[3] u1[2] u1[3]
  const __m512 d = _mm512_shuffle_f32x4(u2, u3, _MM_SHUFFLE(3, 2, 3, 2));  // u2[2] u2[3] u3[2] u3[3]
  v[0] = _mm512_shuffle_f32x4(a, b, _MM_SHUFFLE(2, 0, 2, 0));
  v[1] = _mm512_shuffle_f32x4(a, b, _MM_SHUFFLE(3, 1, 3, 1));
  v[2] = _mm512_shuffle_f32x4(c, d, _MM_SHUFFLE(2, 0, 2, 0));
  v[3] = _mm512_shuffle_f32x4(c, d, _MM_SHUFFLE(3, 1, 3, 1));
}

}  // namespace

void gauss_row__avx512(uint32_t key0, uint32_t key1, uint32_t sample, uint32_t image, size_t elements, float sigma,
                       const float* base, float* out) {
  gauss_row_lanes<Avx512Lanes>(key0, key1, sample, image, elements, sigma, base, out, step);
}

}  // namespace arq::noise
