// Gaussian noise for randomized smoothing: counter-based, so the noise of element j of sample i of image k is a pure
// function of (seed, k, i, j) and never depends on batch sizes, thread counts or the order of work. Core header: no
// napi.h; every function here is single-threaded and allocates nothing (callers parallelise over samples).
//
// Generator: Philox4x32-10 (Salmon et al., SC 2011; the Random123 reference, philox4x32 with 10 rounds), key =
// the 64-bit seed as {key0 = low 32 bits, key1 = high 32 bits}. Element j of sample i of image k reads block
// b = j / 4 of the counter
//     {c0 = b, c1 = i, c2 = k, c3 = kNoiseDomain}
// whose output words {x0, x1, x2, x3} give four values n: element 4b+0 = fl(R(x0)*cos(T(x1))),
// 4b+1 = fl(R(x0)*sin(T(x1))), 4b+2 = fl(R(x2)*cos(T(x3))), 4b+3 = fl(R(x2)*sin(T(x3))) (Box-Muller, both outputs
// used). Hence samples and images must be < 2^32 and a sample holds at most 2^34 elements; the binding enforces
// it (c3 keeps this stream apart from any other use of Philox with the same seed).
//
// Transform (exact sequence in noise/transform.h; scalar, AVX2 and AVX-512 run the same float operations, explicit
// FMAs included, so every ISA gives bit-identical floats):
//   u = fl(float(x >> 1) + 0.5f) * 2^-31 in [2^-32, 1]   (int-to-float rounds to nearest even; u is never 0, so
//                                                          the log is finite and |n| <= sqrt(64 ln 2) = 6.66)
//   R(x) = sqrt(-2 ln u)                                   (own range-reduced log, no libm)
//   T(t) = 2*pi*t / 2^32, reduced exactly on the integer: q = ((t + 2^29) >> 30) & 3, r = int32(t - q*2^30) in
//          [-2^29, 2^29), a = float(r) * (2*pi/2^32) in [-pi/4, pi/4], and cos/sin(T) = +-cos/sin(a) by quadrant.
// Accuracy against double-precision libm Box-Muller on the same u and t: measured at most 2.4e-7 relative (log
// 8.0e-8 over every third u, cos/sin 1.9e-7 over every fifth t, mostly from the float reduced angle); test/noise
// asserts 1e-6.
// Output: gaussian_fill stores fl(sigma * n); add_gaussian stores fl(image[j] + fl(sigma * n)), so an added batch
// equals image + gaussian_fill bit for bit.
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/cpu.h"

namespace arq::noise {

// Counter word c3 of every Gaussian-noise block ("NOIS" in ASCII).
constexpr uint32_t kNoiseDomain = 0x4E4F4953u;

// One variant fills a row of `elements` values (one sample of one image) starting at element 0:
//   out[j] = fl(sigma * n(j))               when base == nullptr,
//   out[j] = fl(base[j] + fl(sigma * n(j)))  otherwise,
// with n(j) the value of element j under counter {j/4, sample, image, kNoiseDomain} and key {key0, key1}.
using GaussRowFn = void (*)(uint32_t key0, uint32_t key1, uint32_t sample, uint32_t image, size_t elements, float sigma,
                            const float* base, float* out);

struct NoiseConfig {
  const char* name;  // e.g. "gauss_row__avx512"
  Isa isa;
  size_t step;  // elements per vector step (4 per lane); shorter rows and tails are computed the same way
  GaussRowFn row;
};

// The config for `isa`, falling back to the best lower level compiled in.
const NoiseConfig& noise_config(Isa isa);

// out[s*elements + j] = sigma * n(seed, image, first_sample + s, j) for s < samples, j < elements.
// Requires image < 2^32, first_sample + samples <= 2^32, elements <= 2^34 (higher bits would alias).
void gaussian_fill(const NoiseConfig& config, uint64_t seed, uint64_t image, uint64_t first_sample, size_t samples,
                   size_t elements, float sigma, float* out);

// out[s*elements + j] = image_data[j] + sigma * n(seed, image, first_sample + s, j): a batch of noisy copies of one
// image (the certification loop's main use). Same requirements as gaussian_fill; out must not alias image_data.
void add_gaussian(const NoiseConfig& config, uint64_t seed, uint64_t image, uint64_t first_sample, size_t samples,
                  const float* image_data, size_t elements, float sigma, float* out);

}  // namespace arq::noise
