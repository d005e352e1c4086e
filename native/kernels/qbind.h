#pragma once
#include <napi.h>

namespace arq::kernels {
// Adds `_qkernels`: internal entry points that run the integer kernel families (qu8-qs8-gemm, qu8-qs8-dwconv) on
// JavaScript arrays, plus timing loops, for the kernel tests and benchmarks (absent from the public types).
void register_quant_bindings(Napi::Env env, Napi::Object exports);
}  // namespace arq::kernels
