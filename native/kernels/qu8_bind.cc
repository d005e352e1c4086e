// Internal entry points of the integer kernel families (qu8-qs8-gemm, qu8-qs8-dwconv, qu8-elementwise) for the kernel
// tests: `exports._qu8Kernels` (absent from the public types). Every function is [sync], re-validates its arguments
// (TypeError for wrong types, RangeError for bad values or lengths, each naming the function and the argument) and
// copies its inputs before running.
//
//   qgemm(isa, m, n, k, wbits, a: Uint8Array[m*k], w: Int8Array[n*k] (out-major codes within +-(2^(wbits-1)-1)),
//         multiplier: Float32Array[n], bias: Float32Array[n], correction: Int32Array[n] | null, min, max,
//         floatOut: boolean, path?: 'auto' | 'unpack') -> Uint8Array[m*n] | Float32Array[m*n]
//       out[i][c] = requant_code(sum_k a[i][k] * w[c][k] - correction[c], multiplier[c], bias[c], min, max), or
//       requant_float(...) when floatOut (min/max then unused). Codes need integers 0 <= min <= max <= 255; k <= 65536.
//       path 'unpack' disables the config's direct sub-byte microkernels (tests reach the unpack path with it);
//       path 'indirect' runs qgemm_indirect with taps of `tap` bytes (argument 14, default k; a multiple of the
//       kernel's kr dividing k): each tap of each row is stored in its own place (later taps at lower addresses, so
//       offsets are negative) and read through row pointers and tap offsets. RangeError where the level has none.
//       path 'strided' runs qgemm_strided on a = a buffer in which row i, tap t (of `tap` bytes; taps = k / tap) starts
//       at i * rowStride + t * tapStride (arguments 15, 16; a.length = (m - 1) * rowStride + (taps - 1) * tapStride +
//       tap), so rows may overlap as a convolution's do; the logical A is that gather. RangeError where the level
//       has no strided kernel.
//       The config is the one qgemm_config(isa, n) picks for n columns.
//   qdwconv(isa, shape {channels, inH, inW, outH, outW, kernelH, kernelW, strideH, strideW, padTop, padLeft},
//           input: Uint8Array[inH*inW*channels] (HWC), inputZero (0..255),
//           weights: Int8Array[channels*kernelH*kernelW], multiplier: Float32Array[channels],
//           bias: Float32Array[channels], min, max) -> Uint8Array[outH*outW*channels] (HWC); integers 0 <= min <= max
//           <= 255
//   lutgemm(isa, m, n, k, wbits, abits, a: Uint8Array[m*k] (codes below 2^abits, abits 1..4),
//           w: Int8Array[n*k] (codes within +-(2^(wbits-1)-1), wbits 2..4), multiplier, bias, correction | null, min,
//           max) -> Uint8Array[m*n]: qgemm's codes (floatOut false) by qu8-qs8-lutgemm (the config
//           lutgemm_config(isa) picks: VBMI at avx512vnni where the CPU has it, AVX2 at avx2 and on AVX-512 CPUs
//           without VBMI, the scalar reference at scalar).
//   names(isa) -> { gemm, dwconv, gemmTile: [mr, nr, kr], indirect, strided, lutgemm }: the kernels chosen for that
//       level (the widest qgemm config; indirect / strided: whether it has indirect / strided microkernels).
//   vadd(isa, a: Uint8Array, b: Uint8Array[a.length], {aScale, aZero, bScale, bZero, invScale, zero, min, max},
//       vbmi?: boolean), min, max integer codes -> Uint8Array: qu8-elementwise's residual add; at avx512vnni vbmi
//       picks the VBMI or the plain AVX-512 kernel (default: VBMI where the CPU has it; true where it has not throws
//       a RangeError saying "not supported by this CPU")
//   quantize(isa, x: Float32Array, {scale, lo, hi, zero}) -> Uint8Array: float values onto a grid
//   convert(isa, x: Uint8Array, {fromScale, fromZero, scale, lo, hi, zero}) -> Uint8Array: codes onto another grid
//   lookup(isa, x: Uint8Array, table: Uint8Array[256]) -> Uint8Array: table[x[i]] (RangeError where the level's
//       config has no lookup kernel)
//   intervalEpilogue(isa, pixels, n, centre: Float32Array[pixels*n], radius: Float32Array[pixels*n],
//       multiplier: Float32Array[n], bias: Float32Array[n], correction: Int32Array[n], min, max)
//       -> Uint8Array[pixels*2n]: qu8-interval's two-end epilogue (interval.h); centre and radius must hold integers
//       below 2^24 in magnitude, radius >= 0, and centre - correction + radius even (RangeError otherwise)
//
// `isa` is "scalar" | "avx2" | "avx512vnni"; an unknown name, or a level above the CPU's (detected_isa()), throws a
// RangeError (the latter's message says "not supported by this CPU", so tests can skip that level).
#include <napi.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/cpu.h"
#include "common/guard.h"
#include "common/napi_args.h"
#include "kernels/bind.h"
#include "kernels/bind_args.h"
#include "kernels/qu8-elementwise/elementwise.h"
#include "kernels/qu8-interval/interval.h"
#include "kernels/qu8-qs8-dwconv/qdwconv.h"
#include "kernels/qu8-qs8-gemm/qgemm.h"
#include "kernels/qu8-qs8-lutgemm/lutgemm.h"

namespace arq::kernels {
namespace {

using napi::expect_args;
using napi::isa_arg;

constexpr int64_t kMaxTaps = 65536;

// A copy of A with rows padded to kc (zeros), as qgemm requires.
std::vector<uint8_t> pad_rows(const uint8_t* a, size_t m, size_t k, size_t kc) {
  std::vector<uint8_t> padded(m * kc, 0);
  for (size_t i = 0; i < m; ++i) std::memcpy(padded.data() + i * kc, a + i * k, k);
  return padded;
}

Napi::Value QGemm(const Napi::CallbackInfo& info) {
  const std::string where = "_qu8Kernels.qgemm";
  Napi::Env env = info.Env();
  expect_args(info, 13, where);
  const Isa isa = isa_arg(info, 0, where);
  const auto [m, n, k, wbits] = gemm_dims(info, where);
  napi::check_elements(env, m * k, kMaxElements, where, "a");
  napi::check_elements(env, n * k, kMaxElements, where, "w");
  napi::check_elements(env, m * n, kMaxElements, where, "the result");
  bool force_unpack = false;
  bool indirect = false;
  bool strided = false;
  if (info.Length() > 13 && !info[13].IsUndefined()) {
    if (!info[13].IsString()) napi::throw_type(env, where, "path must be 'auto', 'unpack', 'indirect' or 'strided'");
    const std::string path = info[13].As<Napi::String>().Utf8Value();
    if (path != "auto" && path != "unpack" && path != "indirect" && path != "strided") {
      napi::throw_range(env, where, "path must be 'auto', 'unpack', 'indirect' or 'strided', got '" + path + "'");
    }
    force_unpack = path == "unpack";
    indirect = path == "indirect";
    strided = path == "strided";
  }
  QGemmConfig config = qgemm_config(isa, static_cast<size_t>(n));
  if (force_unpack) config.ukernel_s4 = config.ukernel_s2 = nullptr;
  int64_t tap = k;
  if (indirect || strided) {
    if ((indirect ? config.iukernel == nullptr : config.sukernel == nullptr)) {
      napi::throw_range(env, where,
                        std::string("no ") + (indirect ? "indirect" : "strided") + " kernel at level " + isa_name(isa));
    }
    if (info.Length() > 14 && !info[14].IsUndefined()) tap = napi::int_value(env, info[14], 1, k, where, "tap");
    if (tap % static_cast<int64_t>(config.kr) != 0 || k % tap != 0) {
      napi::throw_range(env, where, "tap must be a multiple of " + std::to_string(config.kr) + " dividing k");
    }
  }
  int64_t row_stride = 0, tap_stride = 0, a_length = m * k;
  if (strided) {
    row_stride = napi::int_value(env, info[15], 1, kMaxDim, where, "rowStride");
    tap_stride = napi::int_value(env, info[16], 1, kMaxDim, where, "tapStride");
    a_length = (m - 1) * row_stride + (k / tap - 1) * tap_stride + tap;
    napi::check_elements(env, a_length, kMaxElements, where, "a");
  }
  const std::vector<uint8_t> a =
      napi::typed_array<uint8_t>(env, info[5], napi_uint8_array, "Uint8Array", a_length, where, "a");
  const std::vector<int8_t> w =
      napi::typed_array<int8_t>(env, info[6], napi_int8_array, "Int8Array", n * k, where, "w");
  const std::vector<float> multiplier = napi::float_array(env, info[7], n, where, "multiplier");
  const std::vector<float> bias = napi::float_array(env, info[8], n, where, "bias");
  std::vector<int32_t> correction;
  const bool has_correction = !info[9].IsNull() && !info[9].IsUndefined();
  if (has_correction) {
    correction =
        napi::typed_array<int32_t>(env, info[9], napi_int32_array, "Int32Array (or null)", n, where, "correction");
  }
  const bool float_out = napi::bool_arg(info, 12, where, "floatOut");
  float min, max;
  napi::min_max_args(info, 10, where, &min, &max, !float_out);
  QPackedWeights packed;
  try {
    packed =
        qgemm_pack(config, w.data(), static_cast<size_t>(k), static_cast<size_t>(n), static_cast<size_t>(k), wbits);
  } catch (const std::invalid_argument& error) {
    napi::throw_range(env, where, error.what());
  }
  const std::vector<uint8_t> padded =
      strided ? std::vector<uint8_t>() : pad_rows(a.data(), static_cast<size_t>(m), static_cast<size_t>(k), packed.kc);
  Scratch scratch(std::max(qgemm_scratch_bytes(config, packed), qgemm_indirect_scratch_bytes(packed)));
  const RequantParams params{multiplier.data(), bias.data(), has_correction ? correction.data() : nullptr, min, max};
  const size_t rows = static_cast<size_t>(m);
  const size_t cols = static_cast<size_t>(n);
  // The result (float or codes, as floatOut asks) of one of the three paths writing into `out`.
  auto result = [&](auto&& run) -> Napi::Value {
    if (float_out) {
      Napi::Float32Array out = Napi::Float32Array::New(env, rows * cols);
      run(static_cast<void*>(out.Data()));
      return out;
    }
    Napi::Uint8Array out = Napi::Uint8Array::New(env, rows * cols);
    run(static_cast<void*>(out.Data()));
    return out;
  };
  if (strided) {
    const size_t taps = static_cast<size_t>(k / tap);
    std::vector<ptrdiff_t> offsets(taps);
    for (size_t t = 0; t < taps; ++t) offsets[t] = static_cast<ptrdiff_t>(t) * tap_stride;
    return result([&](void* out) {
      qgemm_strided(config, rows, a.data(), static_cast<size_t>(row_stride), offsets.data(), taps,
                    static_cast<size_t>(tap), packed, out, cols, params, float_out, scratch.data());
    });
  }
  if (indirect) {
    // Tap t of row i at block (taps - 1 - t) * rows + i of `scattered`; row pointers address tap 0.
    const size_t cg = static_cast<size_t>(tap);
    const size_t taps = static_cast<size_t>(k / tap);
    std::vector<uint8_t> scattered(taps * rows * cg);
    std::vector<const uint8_t*> row_ptrs(rows);
    std::vector<ptrdiff_t> offsets(taps);
    for (size_t t = 0; t < taps; ++t) {
      offsets[t] = -static_cast<ptrdiff_t>(t * rows * cg);
      for (size_t i = 0; i < rows; ++i) {
        std::memcpy(scattered.data() + ((taps - 1 - t) * rows + i) * cg, a.data() + i * static_cast<size_t>(k) + t * cg,
                    cg);
      }
    }
    for (size_t i = 0; i < rows; ++i) row_ptrs[i] = scattered.data() + ((taps - 1) * rows + i) * cg;
    return result([&](void* out) {
      qgemm_indirect(config, rows, row_ptrs.data(), offsets.data(), taps, cg, packed, out, cols, params, float_out,
                     scratch.data());
    });
  }
  return result([&](void* out) {
    qgemm(config, rows, padded.data(), packed.kc, packed, out, cols, params, float_out, scratch.data());
  });
}

Napi::Value LutGemm(const Napi::CallbackInfo& info) {
  const std::string where = "_qu8Kernels.lutgemm";
  Napi::Env env = info.Env();
  expect_args(info, 13, where);
  const Isa isa = isa_arg(info, 0, where);
  const auto [m, n, k, wbits] = gemm_dims(info, where);
  const int abits = static_cast<int>(napi::int_value(env, info[5], 1, kLutMaxAbits, where, "abits"));
  napi::check_elements(env, m * k, kMaxElements, where, "a");
  napi::check_elements(env, n * k, kMaxElements, where, "w");
  napi::check_elements(env, m * n, kMaxElements, where, "the result");
  const std::vector<uint8_t> a =
      napi::typed_array<uint8_t>(env, info[6], napi_uint8_array, "Uint8Array", m * k, where, "a");
  const std::vector<int8_t> w =
      napi::typed_array<int8_t>(env, info[7], napi_int8_array, "Int8Array", n * k, where, "w");
  const std::vector<float> multiplier = napi::float_array(env, info[8], n, where, "multiplier");
  const std::vector<float> bias = napi::float_array(env, info[9], n, where, "bias");
  std::vector<int32_t> correction;
  const bool has_correction = !info[10].IsNull() && !info[10].IsUndefined();
  if (has_correction) {
    correction =
        napi::typed_array<int32_t>(env, info[10], napi_int32_array, "Int32Array (or null)", n, where, "correction");
  }
  float min, max;
  napi::min_max_args(info, 11, where, &min, &max, true);
  const size_t rows = static_cast<size_t>(m), cols = static_cast<size_t>(n), depth = static_cast<size_t>(k);
  const LutGemmConfig& config = lutgemm_config(isa);
  LutWeights packed;
  std::vector<uint8_t> index(lutgemm_index_bytes(config, rows, depth, abits));
  try {
    packed = lutgemm_pack_weights(config, w.data(), depth, cols, depth, wbits);
    lutgemm_pack_activations(config, a.data(), depth, rows, depth, abits, index.data());
  } catch (const std::invalid_argument& error) {
    napi::throw_range(env, where, error.what());
  }
  const RequantParams params{multiplier.data(), bias.data(), has_correction ? correction.data() : nullptr, min, max};
  Napi::Uint8Array out = Napi::Uint8Array::New(env, rows * cols);
  lutgemm(config, rows, abits, index.data(), packed, out.Data(), cols, params);
  return out;
}

Napi::Value QDwconv(const Napi::CallbackInfo& info) {
  const std::string where = "_qu8Kernels.qdwconv";
  Napi::Env env = info.Env();
  expect_args(info, 9, where);
  const Isa isa = isa_arg(info, 0, where);
  const auto s = napi::dwconv_shape_arg<QDwconvShape>(info, 1, kMaxDim, kMaxTaps, where);
  const int64_t channels = static_cast<int64_t>(s.channels);
  const int64_t in_count = static_cast<int64_t>(s.in_h * s.in_w) * channels;
  const int64_t out_count = static_cast<int64_t>(s.out_h * s.out_w) * channels;
  const int64_t weight_count = static_cast<int64_t>(s.kernel_h * s.kernel_w) * channels;
  napi::check_elements(env, in_count, kMaxElements, where, "input");
  napi::check_elements(env, out_count, kMaxElements, where, "the result");
  napi::check_elements(env, weight_count, kMaxElements, where, "weights");
  const std::vector<uint8_t> input =
      napi::typed_array<uint8_t>(env, info[2], napi_uint8_array, "Uint8Array", in_count, where, "input");
  const uint8_t input_zero = static_cast<uint8_t>(napi::int_value(env, info[3], 0, 255, where, "inputZero"));
  const std::vector<int8_t> weights =
      napi::typed_array<int8_t>(env, info[4], napi_int8_array, "Int8Array", weight_count, where, "weights");
  const std::vector<float> multiplier = napi::float_array(env, info[5], channels, where, "multiplier");
  const std::vector<float> bias = napi::float_array(env, info[6], channels, where, "bias");
  float min, max;
  napi::min_max_args(info, 7, where, &min, &max, true);

  const QDwconvConfig& config = qdwconv_config(isa);
  const std::vector<int8_t> packed = qdwconv_pack(config, weights.data(), s.channels, s.kernel_h, s.kernel_w);
  const RequantParams params{multiplier.data(), bias.data(), nullptr, min, max};
  Napi::Uint8Array out = Napi::Uint8Array::New(env, static_cast<size_t>(out_count));
  config.kernel(s, input.data(), s.channels, input_zero, packed.data(), out.Data(), s.channels, params);
  return out;
}

Napi::Value Names(const Napi::CallbackInfo& info) {
  const Isa isa = isa_arg(info, 0, "_qu8Kernels.names");
  Napi::Env env = info.Env();
  const QGemmConfig& gemm = qgemm_config(isa);
  Napi::Object out = Napi::Object::New(env);
  out.Set("gemm", gemm.name);
  out.Set("dwconv", qdwconv_config(isa).name);
  Napi::Array tile = Napi::Array::New(env, 3);
  tile.Set(0u, Napi::Number::New(env, static_cast<double>(gemm.mr)));
  tile.Set(1u, Napi::Number::New(env, static_cast<double>(gemm.nr)));
  tile.Set(2u, Napi::Number::New(env, static_cast<double>(gemm.kr)));
  out.Set("gemmTile", tile);
  out.Set("indirect", gemm.iukernel != nullptr);
  out.Set("strided", gemm.sukernel != nullptr);
  out.Set("lutgemm", lutgemm_config(isa).name);
  return out;
}

QuantizeParams quantize_params(const Napi::Object& o, const std::string& where) {
  QuantizeParams p{};
  p.scale = static_cast<float>(napi::number_field(o, "scale", where));
  p.lo = static_cast<float>(napi::number_field(o, "lo", where));
  p.hi = static_cast<float>(napi::number_field(o, "hi", where));
  p.zero = static_cast<int32_t>(napi::int_field(o, "zero", 0, 255, where));
  if (!(p.scale > 0.0f) || !(p.lo <= p.hi) || p.lo < -p.zero || p.hi > 255 - p.zero) {
    napi::throw_range(o.Env(), where, "need scale > 0 and -zero <= lo <= hi <= 255 - zero");
  }
  return p;
}

Napi::Value Vadd(const Napi::CallbackInfo& info) {
  const std::string where = "_qu8Kernels.vadd";
  Napi::Env env = info.Env();
  expect_args(info, 4, where);
  const Isa isa = isa_arg(info, 0, where);
  const auto a = napi::typed_array<uint8_t>(env, info[1], napi_uint8_array, "Uint8Array", -1, where, "a");
  const auto b = napi::typed_array<uint8_t>(env, info[2], napi_uint8_array, "Uint8Array",
                                            static_cast<int64_t>(a.size()), where, "b");
  const Napi::Object o = napi::object_arg(info, 3, where);
  VaddParams p{};
  p.a_scale = static_cast<float>(napi::number_field(o, "aScale", where));
  p.a_zero = static_cast<float>(napi::int_field(o, "aZero", 0, 255, where));
  p.b_scale = static_cast<float>(napi::number_field(o, "bScale", where));
  p.b_zero = static_cast<float>(napi::int_field(o, "bZero", 0, 255, where));
  p.inv_scale = static_cast<float>(napi::number_field(o, "invScale", where));
  p.zero = static_cast<float>(napi::int_field(o, "zero", 0, 255, where));
  p.min = static_cast<float>(napi::int_field(o, "min", 0, 255, where));
  p.max = static_cast<float>(napi::int_field(o, "max", 0, 255, where));
  if (p.min > p.max) napi::throw_range(env, where, "need min <= max");
  Napi::Uint8Array out = Napi::Uint8Array::New(env, a.size());
  bool vbmi = has_avx512_vbmi();
  if (info.Length() > 4 && !info[4].IsUndefined()) {
    vbmi = napi::bool_arg(info, 4, where, "vbmi");
    if (vbmi && !has_avx512_vbmi()) napi::throw_range(env, where, "vbmi: not supported by this CPU");
  }
  elementwise_config(isa, vbmi).vadd(a.size(), a.data(), b.data(), out.Data(), p);
  return out;
}

Napi::Value Quantize(const Napi::CallbackInfo& info) {
  const std::string where = "_qu8Kernels.quantize";
  Napi::Env env = info.Env();
  expect_args(info, 3, where);
  const Isa isa = isa_arg(info, 0, where);
  const auto x = napi::float_array(env, info[1], -1, where, "x");
  const QuantizeParams p = quantize_params(napi::object_arg(info, 2, where), where);
  Napi::Uint8Array out = Napi::Uint8Array::New(env, x.size());
  elementwise_config(isa).quantize(x.size(), x.data(), out.Data(), p);
  return out;
}

Napi::Value Convert(const Napi::CallbackInfo& info) {
  const std::string where = "_qu8Kernels.convert";
  Napi::Env env = info.Env();
  expect_args(info, 3, where);
  const Isa isa = isa_arg(info, 0, where);
  const auto x = napi::typed_array<uint8_t>(env, info[1], napi_uint8_array, "Uint8Array", -1, where, "x");
  const Napi::Object o = napi::object_arg(info, 2, where);
  ConvertParams p{};
  p.from_scale = static_cast<float>(napi::number_field(o, "fromScale", where));
  p.from_zero = static_cast<float>(napi::int_field(o, "fromZero", 0, 255, where));
  p.to = quantize_params(o, where);
  Napi::Uint8Array out = Napi::Uint8Array::New(env, x.size());
  elementwise_config(isa).convert(x.size(), x.data(), out.Data(), p);
  return out;
}

Napi::Value Lookup(const Napi::CallbackInfo& info) {
  const std::string where = "_qu8Kernels.lookup";
  Napi::Env env = info.Env();
  expect_args(info, 3, where);
  const Isa isa = isa_arg(info, 0, where);
  const auto x = napi::typed_array<uint8_t>(env, info[1], napi_uint8_array, "Uint8Array", -1, where, "x");
  const auto table = napi::typed_array<uint8_t>(env, info[2], napi_uint8_array, "Uint8Array", 256, where, "table");
  const LookupFn lookup = elementwise_config(isa).lookup;
  if (lookup == nullptr) napi::throw_range(env, where, std::string("no lookup kernel at level ") + isa_name(isa));
  Napi::Uint8Array out = Napi::Uint8Array::New(env, x.size());
  lookup(x.size(), x.data(), out.Data(), table.data());
  return out;
}

Napi::Value IntervalEpilogue(const Napi::CallbackInfo& info) {
  const std::string where = "_qu8Kernels.intervalEpilogue";
  Napi::Env env = info.Env();
  expect_args(info, 10, where);
  const Isa isa = isa_arg(info, 0, where);
  const int64_t pixels = napi::int_value(env, info[1], 1, kMaxDim, where, "pixels");
  const int64_t n = napi::int_value(env, info[2], 1, kMaxDim, where, "n");
  napi::check_elements(env, 2 * pixels * n, kMaxElements, where, "the result");
  const std::vector<float> centre = napi::float_array(env, info[3], pixels * n, where, "centre");
  const std::vector<float> radius = napi::float_array(env, info[4], pixels * n, where, "radius");
  const std::vector<float> multiplier = napi::float_array(env, info[5], n, where, "multiplier");
  const std::vector<float> bias = napi::float_array(env, info[6], n, where, "bias");
  const std::vector<int32_t> correction =
      napi::typed_array<int32_t>(env, info[7], napi_int32_array, "Int32Array", n, where, "correction");
  float min, max;
  napi::min_max_args(info, 8, where, &min, &max, true);
  constexpr float kLimit = 16777216.0f;  // 2^24
  for (size_t e = 0; e < centre.size(); ++e) {
    const float c = centre[e], r = radius[e];
    const bool integers =
        std::abs(c) < kLimit && r >= 0.0f && r < kLimit && c == std::nearbyint(c) && r == std::nearbyint(r);
    const int64_t sum = static_cast<int64_t>(c) - correction[e % static_cast<size_t>(n)] + static_cast<int64_t>(r);
    if (!integers || sum % 2 != 0) {
      napi::throw_range(env, where,
                        "centre and radius must be integers below 2^24, radius >= 0, centre - correction + radius "
                        "even");
    }
  }
  const RequantParams params{multiplier.data(), bias.data(), correction.data(), min, max};
  Napi::Uint8Array out = Napi::Uint8Array::New(env, static_cast<size_t>(2 * pixels * n));
  interval_config(isa).epilogue(static_cast<size_t>(pixels), static_cast<size_t>(n), centre.data(), radius.data(),
                                params, out.Data());
  return out;
}

}  // namespace

void register_qu8_bindings(Napi::Env env, Napi::Object exports) {
  Napi::Object kernels = Napi::Object::New(env);
  kernels.Set("qgemm", napi::guarded_function<QGemm>(env, "qgemm", "_qu8Kernels.qgemm"));
  kernels.Set("lutgemm", napi::guarded_function<LutGemm>(env, "lutgemm", "_qu8Kernels.lutgemm"));
  kernels.Set("qdwconv", napi::guarded_function<QDwconv>(env, "qdwconv", "_qu8Kernels.qdwconv"));
  kernels.Set("names", napi::guarded_function<Names>(env, "names", "_qu8Kernels.names"));
  kernels.Set("vadd", napi::guarded_function<Vadd>(env, "vadd", "_qu8Kernels.vadd"));
  kernels.Set("quantize", napi::guarded_function<Quantize>(env, "quantize", "_qu8Kernels.quantize"));
  kernels.Set("convert", napi::guarded_function<Convert>(env, "convert", "_qu8Kernels.convert"));
  kernels.Set("lookup", napi::guarded_function<Lookup>(env, "lookup", "_qu8Kernels.lookup"));
  kernels.Set("intervalEpilogue",
              napi::guarded_function<IntervalEpilogue>(env, "intervalEpilogue", "_qu8Kernels.intervalEpilogue"));
  exports.Set("_qu8Kernels", kernels);
}

}  // namespace arq::kernels
