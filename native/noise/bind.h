#pragma once
#include <napi.h>

namespace arq::noise {
// Adds `addGaussianNoise` (noisy copies at the active ISA level, for production code) and `_noise`: internal entry
// points to the Gaussian noise generator, for the noise tests and benchmark (absent from the public types).
void register_bindings(Napi::Env env, Napi::Object exports);
}  // namespace arq::noise
