// Scalar Gaussian noise row: the reference variant, built for the baseline ISA and used on every machine without
// AVX2. One Philox block (four elements) per step, through the same transform as the SIMD variants (transform.h).
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "noise/noise.h"
#include "noise/transform.h"

namespace arq::noise {
namespace {

struct ScalarLanes {
  using U = uint32_t;
  using F = float;
  static U set1(uint32_t v) { return v; }
  static F setf(float v) { return v; }
  static U add(U a, U b) { return a + b; }
  static U sub(U a, U b) { return a - b; }
  static U and_(U a, U b) { return a & b; }
  static U or_(U a, U b) { return a | b; }
  static U xor_(U a, U b) { return a ^ b; }
  static U andnot(U mask, U a) { return ~mask & a; }
  template <int n>
  static U shr(U a) {
    return a >> n;
  }
  template <int n>
  static U shl(U a) {
    return a << n;
  }
  static void mulhilo(U a, uint32_t m, U* hi, U* lo) {
    const uint64_t p = static_cast<uint64_t>(a) * m;
    *hi = static_cast<uint32_t>(p >> 32);
    *lo = static_cast<uint32_t>(p);
  }
  static F to_float(U a) { return static_cast<float>(static_cast<int32_t>(a)); }
  static U bits(F a) {
    U out;
    __builtin_memcpy(&out, &a, sizeof out);
    return out;
  }
  static F floats(U a) {
    F out;
    __builtin_memcpy(&out, &a, sizeof out);
    return out;
  }
  static F fadd(F a, F b) { return a + b; }
  static F fsub(F a, F b) { return a - b; }
  static F fmul(F a, F b) { return a * b; }
  static F fma(F a, F b, F c) { return std::fma(a, b, c); }
  static F fsqrt(F a) { return std::sqrt(a); }
};

}  // namespace

void gauss_row__scalar(uint32_t key0, uint32_t key1, uint32_t sample, uint32_t image, size_t elements, float sigma,
                       const float* base, float* out) {
  for (size_t j0 = 0; j0 < elements; j0 += 4) {
    float g[4];
    transform::gauss_blocks<ScalarLanes>(static_cast<uint32_t>(j0 / 4), sample, image, kNoiseDomain, key0, key1, sigma,
                                         g);
    const size_t count = elements - j0 < 4 ? elements - j0 : 4;
    if (base != nullptr) {
      for (size_t m = 0; m < count; ++m) out[j0 + m] = base[j0 + m] + g[m];
    } else {
      for (size_t m = 0; m < count; ++m) out[j0 + m] = g[m];
    }
  }
}

}  // namespace arq::noise
