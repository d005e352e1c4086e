// Internal entry points of the float kernel families (f32-gemm, f32-dwconv) for the kernel tests: `exports._f32Kernels`
// (absent from the public types). Every function is [sync], re-validates its arguments (TypeError for wrong types,
// RangeError for bad values or lengths, each naming the function and the argument) and copies its inputs before running
// one kernel family.
//
//   f32Gemm(isa, m, n, k, a: Float32Array[m*k], w: Float32Array[n*k] (out-major), bias: Float32Array[n] | null,
//           min, max) -> Float32Array[m*n]                     C = clamp(A * W^T + bias, min, max)
//   f32GemmSegmented(isa, m, n, k, kseg, lda, segStride, a, w, bias, min, max) -> Float32Array[m*n]: the same product
//           with A read in segments (F32GemmUkernel): A[i][p] = a[i*lda + floor(p / kseg)*segStride + p % kseg]; a has
//           exactly the elements up to the last one read, (m-1)*lda + floor((k-1) / kseg)*segStride + (k-1) % kseg + 1.
//   f32Dwconv(isa, shape {channels, inH, inW, outH, outW, kernelH, kernelW, strideH, strideW, padTop, padLeft},
//             input: Float32Array[inH*inW*channels] (HWC), weights: Float32Array[channels*kernelH*kernelW],
//             bias: Float32Array[channels] | null, min, max) -> Float32Array[outH*outW*channels] (HWC)
//   names(isa) -> { gemm, gemmNarrow, dwconv }: the names of the kernels chosen for that level (gemmNarrow: the
//   f32-gemm kernel for products of at most 16 columns, which f32Gemm runs when n <= 16).
//
// `isa` is "scalar" | "avx2" | "avx512vnni"; an unknown name, or a level above the CPU's (detected_isa()), throws a
// RangeError (the latter's message says "not supported by this CPU", so tests can skip that level).
#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/cpu.h"
#include "common/guard.h"
#include "common/napi_args.h"
#include "kernels/bind.h"
#include "kernels/bind_args.h"
#include "kernels/f32-dwconv/f32-dwconv.h"
#include "kernels/f32-gemm/f32-gemm.h"

namespace arq::kernels {
namespace {

using napi::expect_args;
using napi::isa_arg;

// A Float32Array of `expected` elements, or null/undefined (returns false) when `nullable`.
bool optional_float_array(Napi::Env env, const Napi::Value& value, int64_t expected, const std::string& where,
                          const std::string& name, std::vector<float>* out) {
  if (value.IsNull() || value.IsUndefined()) return false;
  *out = napi::float_array(env, value, expected, where, name + " (or null)");
  return true;
}

// Packs w and bias for the config of (isa, n) and runs the product over A read in segments.
Napi::Float32Array run_gemm(Napi::Env env, Isa isa, int64_t m, int64_t n, int64_t k, int64_t kseg, const float* a,
                            int64_t lda, int64_t seg_stride, const std::vector<float>& w, const float* bias, float min,
                            float max) {
  const F32GemmConfig& config = f32_gemm_config(isa, static_cast<size_t>(n));
  const std::vector<float> packed =
      f32_gemm_pack(config, w.data(), static_cast<size_t>(k), bias, static_cast<size_t>(n), static_cast<size_t>(k));
  Napi::Float32Array out = Napi::Float32Array::New(env, static_cast<size_t>(m * n));
  f32_gemm_segmented(config, static_cast<size_t>(m), static_cast<size_t>(n), static_cast<size_t>(k),
                     static_cast<size_t>(kseg), a, static_cast<size_t>(lda), static_cast<size_t>(seg_stride),
                     packed.data(), out.Data(), static_cast<size_t>(n), min, max);
  return out;
}

Napi::Value F32Gemm(const Napi::CallbackInfo& info) {
  const std::string where = "_f32Kernels.f32Gemm";
  Napi::Env env = info.Env();
  expect_args(info, 9, where);
  const Isa isa = isa_arg(info, 0, where);
  const int64_t m = napi::int_value(env, info[1], 1, kMaxDim, where, "m");
  const int64_t n = napi::int_value(env, info[2], 1, kMaxDim, where, "n");
  const int64_t k = napi::int_value(env, info[3], 1, kMaxDim, where, "k");
  napi::check_elements(env, m * k, kMaxElements, where, "a");
  napi::check_elements(env, n * k, kMaxElements, where, "w");
  napi::check_elements(env, m * n, kMaxElements, where, "the result");
  const std::vector<float> a = napi::float_array(env, info[4], m * k, where, "a");
  const std::vector<float> w = napi::float_array(env, info[5], n * k, where, "w");
  std::vector<float> bias;
  const bool has_bias = optional_float_array(env, info[6], n, where, "bias", &bias);
  float min, max;
  napi::min_max_args(info, 7, where, &min, &max);
  return run_gemm(env, isa, m, n, k, k, a.data(), k, 0, w, has_bias ? bias.data() : nullptr, min, max);
}

Napi::Value F32GemmSegmented(const Napi::CallbackInfo& info) {
  const std::string where = "_f32Kernels.f32GemmSegmented";
  Napi::Env env = info.Env();
  expect_args(info, 12, where);
  const Isa isa = isa_arg(info, 0, where);
  const int64_t m = napi::int_value(env, info[1], 1, kMaxDim, where, "m");
  const int64_t n = napi::int_value(env, info[2], 1, kMaxDim, where, "n");
  const int64_t k = napi::int_value(env, info[3], 1, kMaxDim, where, "k");
  const int64_t kseg = napi::int_value(env, info[4], 1, k, where, "kseg");
  const int64_t lda = napi::int_value(env, info[5], 0, kMaxDim, where, "lda");
  const int64_t seg_stride = napi::int_value(env, info[6], 0, kMaxDim, where, "segStride");
  const int64_t extent = (m - 1) * lda + (k - 1) / kseg * seg_stride + (k - 1) % kseg + 1;
  napi::check_elements(env, extent, kMaxElements, where, "a");
  napi::check_elements(env, n * k, kMaxElements, where, "w");
  napi::check_elements(env, m * n, kMaxElements, where, "the result");
  const std::vector<float> a = napi::float_array(env, info[7], extent, where, "a");
  const std::vector<float> w = napi::float_array(env, info[8], n * k, where, "w");
  std::vector<float> bias;
  const bool has_bias = optional_float_array(env, info[9], n, where, "bias", &bias);
  float min, max;
  napi::min_max_args(info, 10, where, &min, &max);
  return run_gemm(env, isa, m, n, k, kseg, a.data(), lda, seg_stride, w, has_bias ? bias.data() : nullptr, min, max);
}

Napi::Value F32Dwconv(const Napi::CallbackInfo& info) {
  const std::string where = "_f32Kernels.f32Dwconv";
  Napi::Env env = info.Env();
  expect_args(info, 7, where);
  const Isa isa = isa_arg(info, 0, where);
  // kernelH * kernelW is at most 1024 * 1024 here (no limit of its own).
  const auto s = napi::dwconv_shape_arg<DwconvShape>(info, 1, kMaxDim, 1024 * 1024, where);
  const int64_t channels = static_cast<int64_t>(s.channels);
  const int64_t in_count = static_cast<int64_t>(s.in_h * s.in_w) * channels;
  const int64_t out_count = static_cast<int64_t>(s.out_h * s.out_w) * channels;
  const int64_t weight_count = static_cast<int64_t>(s.kernel_h * s.kernel_w) * channels;
  napi::check_elements(env, in_count, kMaxElements, where, "input");
  napi::check_elements(env, out_count, kMaxElements, where, "the result");
  napi::check_elements(env, weight_count, kMaxElements, where, "weights");
  const std::vector<float> input = napi::float_array(env, info[2], in_count, where, "input");
  const std::vector<float> weights = napi::float_array(env, info[3], weight_count, where, "weights");
  std::vector<float> bias;
  const bool has_bias = optional_float_array(env, info[4], channels, where, "bias", &bias);
  float min, max;
  napi::min_max_args(info, 5, where, &min, &max);

  const F32DwconvConfig& config = f32_dwconv_config(isa);
  const std::vector<float> packed =
      f32_dwconv_pack(config, weights.data(), has_bias ? bias.data() : nullptr, s.channels, s.kernel_h, s.kernel_w);
  Napi::Float32Array out = Napi::Float32Array::New(env, static_cast<size_t>(out_count));
  config.kernel(s, input.data(), s.channels, packed.data(), out.Data(), s.channels, min, max);
  return out;
}

Napi::Value Names(const Napi::CallbackInfo& info) {
  const Isa isa = isa_arg(info, 0, "_f32Kernels.names");
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("gemm", f32_gemm_config(isa).name);
  out.Set("gemmNarrow", f32_gemm_config(isa, 16).name);
  out.Set("dwconv", f32_dwconv_config(isa).name);
  return out;
}

}  // namespace

void register_f32_bindings(Napi::Env env, Napi::Object exports) {
  Napi::Object kernels = Napi::Object::New(env);
  kernels.Set("f32Gemm", napi::guarded_function<F32Gemm>(env, "f32Gemm", "_f32Kernels.f32Gemm"));
  kernels.Set("f32GemmSegmented",
              napi::guarded_function<F32GemmSegmented>(env, "f32GemmSegmented", "_f32Kernels.f32GemmSegmented"));
  kernels.Set("f32Dwconv", napi::guarded_function<F32Dwconv>(env, "f32Dwconv", "_f32Kernels.f32Dwconv"));
  kernels.Set("names", napi::guarded_function<Names>(env, "names", "_f32Kernels.names"));
  exports.Set("_f32Kernels", kernels);
}

}  // namespace arq::kernels
