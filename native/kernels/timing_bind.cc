// Timing loops for the kernel benchmarks (bench/kernels.ts, bench/profile.ts): `exports._kernelTiming` (absent from
// the public types). They run inside C++ on internal pseudo-random data, so a measurement times the kernel alone, not
// argument copies. Every function is [sync] and validates its arguments like the test bindings (TypeError/RangeError
// naming the function and the argument).
//
//   qgemmTime(isa, m, n, k, wbits, iterations, copies = 1, repeats = 1) -> seconds for `iterations` qgemm calls
//       (after one warm-up) on internal pseudo-random data, the shortest of `repeats` timed runs; `copies` distinct
//       weight sets are used in turn, so weights larger than the caches stream from memory as in a network.
//   lutgemmTime(isa, m, n, k, wbits, abits, iterations, repeats = 1, pack = false) -> seconds for `iterations`
//       lutgemm calls (after one warm-up) on internal pseudo-random codes (weights of wbits 2..4, activations below
//       2^abits, abits 1..4), the shortest of `repeats` timed runs; the activations are packed into index bytes once
//       before the timing (the kernel alone), or with `pack` in every call from row pointers (lutgemm_pack_rows, as
//       the integer plan's lookup layers run it).
//   dotPeak(isa, seconds) -> operations per second of a register-resident integer dot-product loop (peak.h; one
//       u8 x s8 multiply-add = 2 operations), run for about `seconds`.
//   lowbitFamilies() -> the sub-byte families of peak.h this CPU runs ("bitserial": AVX-512 VPOPCNTDQ, "lut":
//       AVX-512 VBMI; none below the avx512vnni level).
//   lowbitPeak(family, seconds) -> bit-plane products per second of the family's register-resident inner step
//       (peak.h), run for about `seconds`; a family this CPU lacks throws a RangeError ("not supported by this CPU").
//
// `isa` is "scalar" | "avx2" | "avx512vnni"; an unknown name, or a level above the CPU's (detected_isa()), throws a
// RangeError (the latter's message says "not supported by this CPU").
#include <napi.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "common/cpu.h"
#include "common/guard.h"
#include "common/napi_args.h"
#include "kernels/bind.h"
#include "kernels/bind_args.h"
#include "kernels/qu8-qs8-gemm/peak.h"
#include "kernels/qu8-qs8-gemm/qgemm.h"
#include "kernels/qu8-qs8-lutgemm/lutgemm.h"

namespace arq::kernels {
namespace {

using napi::expect_args;
using napi::isa_arg;

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

Napi::Value QGemmTime(const Napi::CallbackInfo& info) {
  const std::string where = "_kernelTiming.qgemmTime";
  Napi::Env env = info.Env();
  expect_args(info, 6, where);
  const Isa isa = isa_arg(info, 0, where);
  const GemmDims dims =
      gemm_dims(info, where);  // named variables, not a structured binding: the lambda below uses them
  const int64_t m = dims.m, n = dims.n, k = dims.k;
  const int wbits = dims.wbits;
  const int64_t iterations = napi::int_value(env, info[5], 1, 1000000, where, "iterations");
  const int64_t copies =
      info.Length() > 6 && !info[6].IsUndefined() ? napi::int_value(env, info[6], 1, 64, where, "copies") : 1;
  const int64_t repeats =
      info.Length() > 7 && !info[7].IsUndefined() ? napi::int_value(env, info[7], 1, 1000, where, "repeats") : 1;
  napi::check_elements(env, m * k, kMaxElements, where, "a");
  napi::check_elements(env, m * n, kMaxElements, where, "the result");
  napi::check_elements(env, n * k * copies, kMaxElements, where, "the weights (all copies)");

  const QGemmConfig& config = qgemm_config(isa, static_cast<size_t>(n));
  std::mt19937 rng(12345);
  const uint32_t qmax = (1u << (wbits - 1)) - 1;
  std::vector<QPackedWeights> weights;
  std::vector<int8_t> codes(static_cast<size_t>(n * k));
  for (int8_t& v : codes) v = static_cast<int8_t>(static_cast<int32_t>(rng() % (2 * qmax + 1) - qmax));
  std::vector<int8_t> w(codes.size());
  for (int64_t c = 0; c < copies; ++c) {
    // Distinct sets: the codes rotated by a different offset each.
    const size_t shift = static_cast<size_t>(c) * 7919 % codes.size();
    std::memcpy(w.data(), codes.data() + shift, codes.size() - shift);
    std::memcpy(w.data() + codes.size() - shift, codes.data(), shift);
    weights.push_back(
        qgemm_pack(config, w.data(), static_cast<size_t>(k), static_cast<size_t>(n), static_cast<size_t>(k), wbits));
  }
  const size_t kc = weights[0].kc;
  std::vector<uint8_t> a(static_cast<size_t>(m) * kc, 0);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t q = 0; q < k; ++q) a[static_cast<size_t>(i) * kc + static_cast<size_t>(q)] = rng() & 0xFF;
  }
  std::vector<float> multiplier(static_cast<size_t>(n), 1.0f / 4096.0f), bias(static_cast<size_t>(n), 128.0f);
  std::vector<int32_t> correction(static_cast<size_t>(n), 0);
  std::vector<uint8_t> out(static_cast<size_t>(m * n));
  Scratch scratch(qgemm_scratch_bytes(config, weights[0]));
  const RequantParams params{multiplier.data(), bias.data(), correction.data(), 0.0f, 255.0f};
  const auto run = [&](const QPackedWeights& pw) {
    qgemm(config, static_cast<size_t>(m), a.data(), kc, pw, out.data(), static_cast<size_t>(n), params, false,
          scratch.data());
  };
  for (const QPackedWeights& pw : weights) run(pw);  // warm-up
  double best = 0;
  for (int64_t r = 0; r < repeats; ++r) {
    const auto start = std::chrono::steady_clock::now();
    for (int64_t it = 0; it < iterations; ++it) run(weights[static_cast<size_t>(it % copies)]);
    const double elapsed = seconds_since(start);
    if (r == 0 || elapsed < best) best = elapsed;
  }
  return Napi::Number::New(env, best);
}

Napi::Value LutGemmTime(const Napi::CallbackInfo& info) {
  const std::string where = "_kernelTiming.lutgemmTime";
  Napi::Env env = info.Env();
  expect_args(info, 7, where);
  const Isa isa = isa_arg(info, 0, where);
  const GemmDims dims = gemm_dims(info, where);
  if (dims.wbits > kLutMaxWbits) napi::throw_range(env, where, "wbits must be 2..4");
  const int abits = static_cast<int>(napi::int_value(env, info[5], 1, kLutMaxAbits, where, "abits"));
  const int64_t iterations = napi::int_value(env, info[6], 1, 1000000, where, "iterations");
  const int64_t repeats =
      info.Length() > 7 && !info[7].IsUndefined() ? napi::int_value(env, info[7], 1, 1000, where, "repeats") : 1;
  napi::check_elements(env, dims.m * dims.k, kMaxElements, where, "a");
  napi::check_elements(env, dims.m * dims.n, kMaxElements, where, "the result");
  napi::check_elements(env, dims.n * dims.k, kMaxElements, where, "the weights");
  const size_t m = static_cast<size_t>(dims.m), n = static_cast<size_t>(dims.n), k = static_cast<size_t>(dims.k);
  std::mt19937 rng(12345);
  const uint32_t qmax = (1u << (dims.wbits - 1)) - 1;
  std::vector<int8_t> w(n * k);
  for (int8_t& v : w) v = static_cast<int8_t>(static_cast<int32_t>(rng() % (2 * qmax + 1) - qmax));
  std::vector<uint8_t> a(m * k);
  for (uint8_t& v : a) v = static_cast<uint8_t>(rng() % (1u << abits));
  const LutGemmConfig& config = lutgemm_config(isa);
  const bool pack = info.Length() > 8 && info[8].ToBoolean().Value();
  const LutWeights packed = lutgemm_pack_weights(config, w.data(), k, n, k, dims.wbits);
  std::vector<uint8_t> index(lutgemm_index_bytes(config, m, k, abits));
  lutgemm_pack_activations(config, a.data(), k, m, k, abits, index.data());
  std::vector<const uint8_t*> rows(m);
  for (size_t i = 0; i < m; ++i) rows[i] = a.data() + i * k;
  const ptrdiff_t whole_row = 0;
  std::vector<float> multiplier(n, 1.0f / 64.0f), bias(n, 128.0f);
  std::vector<int32_t> correction(n, 0);
  std::vector<uint8_t> out(m * n);
  const RequantParams params{multiplier.data(), bias.data(), correction.data(), 0.0f, 255.0f};
  const auto run = [&] {
    if (pack) lutgemm_pack_rows(config, rows.data(), m, &whole_row, 1, k, abits, index.data());
    lutgemm(config, m, abits, index.data(), packed, out.data(), n, params);
  };
  run();  // warm-up
  double best = 0;
  for (int64_t r = 0; r < repeats; ++r) {
    const auto start = std::chrono::steady_clock::now();
    for (int64_t it = 0; it < iterations; ++it) run();
    const double elapsed = seconds_since(start);
    if (r == 0 || elapsed < best) best = elapsed;
  }
  return Napi::Number::New(env, best);
}

// The seconds argument of the peak loops: (0, 60].
double peak_seconds(const Napi::CallbackInfo& info, const std::string& where) {
  const double seconds = napi::number_value(info.Env(), info[1], where, "seconds");
  if (!(seconds > 0 && seconds <= 60)) napi::throw_range(info.Env(), where, "seconds must be in (0, 60]");
  return seconds;
}

// Best rate of loop(iterations) -> operations over rounds of a few milliseconds for about `seconds` (a preempted
// round only lowers its own rate).
template <typename Loop>
double best_rate(double seconds, Loop&& loop) {
  uint64_t chunk = 1 << 14;
  double best = 0;
  const auto start = std::chrono::steady_clock::now();
  do {
    const auto round = std::chrono::steady_clock::now();
    const uint64_t ops = loop(chunk);
    const double elapsed = seconds_since(round);
    if (elapsed < 2e-3) {
      chunk *= 2;
      continue;
    }
    const double rate = static_cast<double>(ops) / elapsed;
    if (rate > best) best = rate;
  } while (seconds_since(start) < seconds);
  return best;
}

Napi::Value DotPeak(const Napi::CallbackInfo& info) {
  const std::string where = "_kernelTiming.dotPeak";
  expect_args(info, 2, where);
  const Isa isa = isa_arg(info, 0, where);
  const double seconds = peak_seconds(info, where);
  return Napi::Number::New(
      info.Env(), best_rate(seconds, [isa](uint64_t iterations) { return qu8_qs8_dot_peak(isa, iterations); }));
}

constexpr struct {
  const char* name;
  LowbitFamily family;
} kLowbitFamilies[] = {{"bitserial", LowbitFamily::kBitSerial}, {"lut", LowbitFamily::kLut}};

Napi::Value LowbitFamilies(const Napi::CallbackInfo& info) {
  expect_args(info, 0, "_kernelTiming.lowbitFamilies");
  Napi::Array names = Napi::Array::New(info.Env());
  for (const auto& f : kLowbitFamilies) {
    if (lowbit_family_supported(f.family)) names.Set(names.Length(), f.name);
  }
  return names;
}

Napi::Value LowbitPeak(const Napi::CallbackInfo& info) {
  const std::string where = "_kernelTiming.lowbitPeak";
  Napi::Env env = info.Env();
  expect_args(info, 2, where);
  if (!info[0].IsString()) napi::throw_type(env, where, "family must be a string");
  const std::string name = info[0].As<Napi::String>().Utf8Value();
  const auto* found = std::find_if(std::begin(kLowbitFamilies), std::end(kLowbitFamilies),
                                   [&](const auto& f) { return name == f.name; });
  if (found == std::end(kLowbitFamilies)) {
    napi::throw_range(env, where, "family must be bitserial or lut, got '" + name + "'");
  }
  if (!lowbit_family_supported(found->family)) {
    napi::throw_range(env, where, "family '" + name + "' is not supported by this CPU");
  }
  const double seconds = peak_seconds(info, where);
  const LowbitFamily family = found->family;
  return Napi::Number::New(
      env, best_rate(seconds, [family](uint64_t iterations) { return lowbit_peak(family, iterations); }));
}

}  // namespace

void register_timing_bindings(Napi::Env env, Napi::Object exports) {
  Napi::Object timing = Napi::Object::New(env);
  timing.Set("qgemmTime", napi::guarded_function<QGemmTime>(env, "qgemmTime", "_kernelTiming.qgemmTime"));
  timing.Set("lutgemmTime", napi::guarded_function<LutGemmTime>(env, "lutgemmTime", "_kernelTiming.lutgemmTime"));
  timing.Set("dotPeak", napi::guarded_function<DotPeak>(env, "dotPeak", "_kernelTiming.dotPeak"));
  timing.Set("lowbitFamilies",
             napi::guarded_function<LowbitFamilies>(env, "lowbitFamilies", "_kernelTiming.lowbitFamilies"));
  timing.Set("lowbitPeak", napi::guarded_function<LowbitPeak>(env, "lowbitPeak", "_kernelTiming.lowbitPeak"));
  exports.Set("_kernelTiming", timing);
}

}  // namespace arq::kernels
