// Argument limits and readers shared by the kernel bindings (f32_bind.cc, qu8_bind.cc, timing_bind.cc).
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/napi_args.h"

namespace arq::kernels {

constexpr int64_t kMaxDim = int64_t(1) << 24;
constexpr int64_t kMaxK = 65536;                    // keeps every int32 accumulator exact (255 * 127 * 65536 < 2^31)
constexpr int64_t kMaxElements = int64_t(1) << 28;  // per array (1 GiB of floats)

// m, n, k and wbits of a quantized GEMM at arguments 1-4 (qgemm and qgemmTime).
struct GemmDims {
  int64_t m, n, k;
  int wbits;
};

inline GemmDims gemm_dims(const Napi::CallbackInfo& info, const std::string& where) {
  Napi::Env env = info.Env();
  GemmDims d;
  d.m = napi::int_value(env, info[1], 1, kMaxDim, where, "m");
  d.n = napi::int_value(env, info[2], 1, kMaxDim, where, "n");
  d.k = napi::int_value(env, info[3], 1, kMaxK, where, "k");
  d.wbits = static_cast<int>(napi::int_value(env, info[4], 2, 8, where, "wbits"));
  return d;
}

// Keeps a 64-byte aligned qgemm scratch buffer alive.
struct Scratch {
  explicit Scratch(size_t bytes) : storage(bytes + 64) {}
  int8_t* data() {
    const uintptr_t p = reinterpret_cast<uintptr_t>(storage.data());
    return storage.data() + ((64 - p % 64) % 64);
  }
  std::vector<int8_t> storage;
};

}  // namespace arq::kernels
