// One row of Gaussian noise (noise.h's gauss_row contract) on SIMD lanes, shared by gauss-avx2.cc and
// gauss-avx512.cc: whole steps of 4 * L::kLanes elements, then a last partial step through a stack buffer. L is the
// file's lane struct (transform.h) plus kLanes, load(const float*) and store(float*, F) (unaligned); step(b0, c1, c2,
// c3, key0, key1, sigma, v) fills v[0..3] with elements 4*b0 .. 4*b0 + 4*kLanes - 1 of the row, in order.
#pragma once

#include <cstddef>
#include <cstdint>

#include "noise/noise.h"

namespace arq::noise {

template <class L, class Step>
void gauss_row_lanes(uint32_t key0, uint32_t key1, uint32_t sample, uint32_t image, size_t elements, float sigma,
                     const float* base, float* out, const Step& step) {
  constexpr size_t kStep = 4 * L::kLanes;  // elements per step
  const typename L::U c1 = L::set1(sample);
  const typename L::U c2 = L::set1(image);
  const typename L::U c3 = L::set1(kNoiseDomain);
  const typename L::F sigma_v = L::setf(sigma);
  size_t j0 = 0;
  typename L::F v[4];
  for (; j0 + kStep <= elements; j0 += kStep) {
    step(static_cast<uint32_t>(j0 / 4), c1, c2, c3, key0, key1, sigma_v, v);
    for (size_t m = 0; m < 4; ++m) {
      typename L::F value = v[m];
      if (base != nullptr) value = L::fadd(L::load(base + j0 + L::kLanes * m), value);
      L::store(out + j0 + L::kLanes * m, value);
    }
  }
  if (j0 < elements) {
    float tail[kStep];
    step(static_cast<uint32_t>(j0 / 4), c1, c2, c3, key0, key1, sigma_v, v);
    for (size_t m = 0; m < 4; ++m) L::store(tail + L::kLanes * m, v[m]);
    const size_t count = elements - j0;
    if (base != nullptr) {
      for (size_t j = 0; j < count; ++j) out[j0 + j] = base[j0 + j] + tail[j];
    } else {
      for (size_t j = 0; j < count; ++j) out[j0 + j] = tail[j];
    }
  }
}

}  // namespace arq::noise
