#pragma once
#include <napi.h>

namespace arq::kernels {
// Adds `_kernels`: internal entry points that run single kernels on JavaScript arrays, for the kernel tests and
// benchmarks (absent from the public types).
void register_bindings(Napi::Env env, Napi::Object exports);
}  // namespace arq::kernels
