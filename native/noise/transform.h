// The Gaussian noise pipeline written once, generic over a lane type: Philox4x32-10 on a vector of counters, then
// the Box-Muller transform with arq's own log and sin/cos. scalar.cc, gauss-avx2.cc and gauss-avx512.cc each
// instantiate it with a lane struct of their own, declared in an unnamed namespace (so every instantiation stays
// local to its translation unit and its ISA flags), providing:
//   U (uint32 lanes), F (float lanes), set1(uint32_t), setf(float), add/sub/and_/or_/xor_/andnot (U),
//   shr<n>/shl<n> (logical shifts of U), mulhilo(U a, uint32_t m, U* hi, U* lo) (32x32 -> 64-bit products),
//   to_float(U) (the lanes read as int32, converted with round-to-nearest-even), bits(F) -> U, floats(U) -> F,
//   fadd/fsub/fmul (F), fma(a, b, c) = a*b+c rounded once, fsqrt (correctly rounded).
// Every step is an IEEE operation with one rounding (or exact integer work), so all instantiations produce the same
// bits. The sequence below IS the documented transform of noise.h; change it only together with that comment and
// the reference in test/noise/noise.test.ts.
#pragma once

#include <cstdint>

#include "noise/philox.h"

namespace arq::noise::transform {

// u = (float(x >> 1) + 0.5) * 2^-31 (one rounding in the conversion and one in the add; the scaling is exact).
constexpr float kUniformScale = 4.656612873077392578125e-10f;  // 2^-31
// 2*pi / 2^32 rounded to float: maps the reduced angle r in [-2^29, 2^29) to a in [-pi/4, pi/4].
constexpr float kTwoPiOver2To32 = static_cast<float>(6.283185307179586476925286766559 / 4294967296.0);

// Natural log of a positive normal float. Range reduction on the bits: u = 2^e * m with m in [sqrt(1/2), sqrt(2)),
// f = m - 1 (exact); ln u = f - f^2/2 + f^3 P(f) + e ln 2, with P and the split ln 2 = 0.693359375 - 2.12194440e-4
// from Cephes logf (error about 1 ulp).
template <class L>
inline typename L::F log_positive(typename L::F u) {
  using U = typename L::U;
  using F = typename L::F;
  const U shifted = L::add(L::bits(u), L::set1(0x3F800000u - 0x3F3504F3u));
  const F e = L::to_float(L::sub(L::template shr<23>(shifted), L::set1(127u)));
  const U m_bits = L::add(L::and_(shifted, L::set1(0x007FFFFFu)), L::set1(0x3F3504F3u));
  const F f = L::fsub(L::floats(m_bits), L::setf(1.0f));
  const F z = L::fmul(f, f);
  F p = L::setf(7.0376836292e-2f);
  p = L::fma(p, f, L::setf(-1.1514610310e-1f));
  p = L::fma(p, f, L::setf(1.1676998740e-1f));
  p = L::fma(p, f, L::setf(-1.2420140846e-1f));
  p = L::fma(p, f, L::setf(1.4249322787e-1f));
  p = L::fma(p, f, L::setf(-1.6668057665e-1f));
  p = L::fma(p, f, L::setf(2.0000714765e-1f));
  p = L::fma(p, f, L::setf(-2.4999993993e-1f));
  p = L::fma(p, f, L::setf(3.3333331174e-1f));
  F y = L::fmul(L::fmul(p, z), f);
  y = L::fma(e, L::setf(-2.12194440e-4f), y);
  y = L::fma(z, L::setf(-0.5f), y);
  const F r = L::fadd(f, y);
  return L::fma(e, L::setf(0.693359375f), r);
}

// cos and sin of 2*pi*t/2^32. The quadrant q comes from the top bits of t, the remainder r = t - q*2^30 is taken as
// a signed integer in [-2^29, 2^29) and only then converted, so the reduced angle a is relatively accurate even
// where cos or sin vanish. Polynomials on |a| <= pi/4 from Cephes sinf/cosf:
//   sin a = a + a^3 S(a^2),  cos a = (1 - a^2/2) + a^4 C(a^2).
template <class L>
inline void cos_sin_turn(typename L::U t, typename L::F* cos_out, typename L::F* sin_out) {
  using U = typename L::U;
  using F = typename L::F;
  const U q = L::template shr<30>(L::add(t, L::set1(0x20000000u)));
  const U r = L::sub(t, L::template shl<30>(q));
  const F a = L::fmul(L::to_float(r), L::setf(kTwoPiOver2To32));
  const F z = L::fmul(a, a);
  F ps = L::fma(L::setf(-1.9515295891e-4f), z, L::setf(8.3321608736e-3f));
  ps = L::fma(ps, z, L::setf(-1.6666654611e-1f));
  const F s = L::fma(L::fmul(ps, z), a, a);
  F pc = L::fma(L::setf(2.443315711809948e-5f), z, L::setf(-1.388731625493765e-3f));
  pc = L::fma(pc, z, L::setf(4.166664568298827e-2f));
  const F c = L::fma(L::fmul(pc, z), z, L::fma(z, L::setf(-0.5f), L::setf(1.0f)));
  // q = 0: (c, s); 1: (-s, c); 2: (-c, -s); 3: (s, -c). Swap on odd q, then flip signs on the sign bit.
  const U swap = L::sub(L::set1(0u), L::and_(q, L::set1(1u)));
  const U c_bits = L::bits(c);
  const U s_bits = L::bits(s);
  const U x = L::or_(L::and_(swap, s_bits), L::andnot(swap, c_bits));
  const U y = L::or_(L::and_(swap, c_bits), L::andnot(swap, s_bits));
  const U cos_sign = L::template shl<30>(L::and_(L::add(q, L::set1(1u)), L::set1(2u)));
  const U sin_sign = L::template shl<30>(L::and_(q, L::set1(2u)));
  *cos_out = L::floats(L::xor_(x, cos_sign));
  *sin_out = L::floats(L::xor_(y, sin_sign));
}

// Box-Muller on two Philox words: (sigma * R(xr) cos T(xt), sigma * R(xr) sin T(xt)), R = sqrt(-2 ln u).
template <class L>
inline void box_muller(typename L::U xr, typename L::U xt, typename L::F sigma, typename L::F* first,
                       typename L::F* second) {
  using F = typename L::F;
  const F u = L::fmul(L::fadd(L::to_float(L::template shr<1>(xr)), L::setf(0.5f)), L::setf(kUniformScale));
  const F radius = L::fsqrt(L::fmul(log_positive<L>(u), L::setf(-2.0f)));
  F c, s;
  cos_sin_turn<L>(xt, &c, &s);
  *first = L::fmul(sigma, L::fmul(radius, c));
  *second = L::fmul(sigma, L::fmul(radius, s));
}

// Philox4x32-10 on lane-wise counters {c0, c1, c2, c3} (round function as in philox.h), then four scaled Gaussians
// per lane: g[m] is element 4*c0 + m of the row (c1 = sample, c2 = image, c3 = kNoiseDomain, see noise.h).
template <class L>
inline void gauss_blocks(typename L::U c0, typename L::U c1, typename L::U c2, typename L::U c3, uint32_t key0,
                         uint32_t key1, typename L::F sigma, typename L::F g[4]) {
  using U = typename L::U;
  for (int round = 0; round < kPhiloxRounds; ++round) {
    if (round > 0) {
      key0 += kPhiloxW0;
      key1 += kPhiloxW1;
    }
    U hi0, lo0, hi1, lo1;
    L::mulhilo(c0, kPhiloxM0, &hi0, &lo0);
    L::mulhilo(c2, kPhiloxM1, &hi1, &lo1);
    c0 = L::xor_(L::xor_(hi1, c1), L::set1(key0));
    c1 = lo1;
    c2 = L::xor_(L::xor_(hi0, c3), L::set1(key1));
    c3 = lo0;
  }
  box_muller<L>(c0, c1, sigma, &g[0], &g[1]);
  box_muller<L>(c2, c3, sigma, &g[2], &g[3]);
}

}  // namespace arq::noise::transform
