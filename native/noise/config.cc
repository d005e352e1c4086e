// Gaussian noise dispatch and drivers: the one place that picks a row variant by ISA level, and the loops over
// samples that run it (see noise.h for the counter mapping and the transform).
#include <cstddef>
#include <cstdint>

#include "noise/noise.h"

namespace arq::noise {

// Row variants (scalar.cc, gauss-avx2.cc, gauss-avx512.cc); contract at GaussRowFn.
void gauss_row__scalar(uint32_t key0, uint32_t key1, uint32_t sample, uint32_t image, size_t elements, float sigma,
                       const float* base, float* out);
void gauss_row__avx2(uint32_t key0, uint32_t key1, uint32_t sample, uint32_t image, size_t elements, float sigma,
                     const float* base, float* out);
void gauss_row__avx512(uint32_t key0, uint32_t key1, uint32_t sample, uint32_t image, size_t elements, float sigma,
                       const float* base, float* out);

namespace {

const NoiseConfig kScalarConfig{"gauss_row__scalar", Isa::kScalar, 4, gauss_row__scalar};
const NoiseConfig kAvx2Config{"gauss_row__avx2", Isa::kAvx2, 32, gauss_row__avx2};
const NoiseConfig kAvx512Config{"gauss_row__avx512", Isa::kAvx512Vnni, 64, gauss_row__avx512};

}  // namespace

const NoiseConfig& noise_config(Isa isa) {
  switch (isa) {
    case Isa::kAvx512Vnni:
      return kAvx512Config;
    case Isa::kAvx2:
      return kAvx2Config;
    case Isa::kScalar:
      break;
  }
  return kScalarConfig;
}

void gaussian_fill(const NoiseConfig& config, uint64_t seed, uint64_t image, uint64_t first_sample, size_t samples,
                   size_t elements, float sigma, float* out) {
  const auto key0 = static_cast<uint32_t>(seed);
  const auto key1 = static_cast<uint32_t>(seed >> 32);
  for (size_t s = 0; s < samples; ++s) {
    config.row(key0, key1, static_cast<uint32_t>(first_sample + s), static_cast<uint32_t>(image), elements, sigma,
               nullptr, out + s * elements);
  }
}

void add_gaussian(const NoiseConfig& config, uint64_t seed, uint64_t image, uint64_t first_sample, size_t samples,
                  const float* image_data, size_t elements, float sigma, float* out) {
  const auto key0 = static_cast<uint32_t>(seed);
  const auto key1 = static_cast<uint32_t>(seed >> 32);
  for (size_t s = 0; s < samples; ++s) {
    config.row(key0, key1, static_cast<uint32_t>(first_sample + s), static_cast<uint32_t>(image), elements, sigma,
               image_data, out + s * elements);
  }
}

}  // namespace arq::noise
