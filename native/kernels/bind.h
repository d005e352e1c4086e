#pragma once
#include <napi.h>

namespace arq::kernels {
// Internal entry points, absent from the public types:
// `_f32Kernels` (f32_bind.cc): the float kernel families on JavaScript arrays, for the kernel tests;
void register_f32_bindings(Napi::Env env, Napi::Object exports);
// `_qu8Kernels` (qu8_bind.cc): the integer kernel families on JavaScript arrays, for the kernel tests;
void register_qu8_bindings(Napi::Env env, Napi::Object exports);
// `_kernelTiming` (timing_bind.cc): timing loops over internal data, for the benchmarks.
void register_timing_bindings(Napi::Env env, Napi::Object exports);
}  // namespace arq::kernels
