// Timing loops for the kernel benchmarks (bench/kernels.ts, bench/profile.ts): `exports._kernelTiming` (absent from
// the public types). They run inside C++ on internal pseudo-random data, so a measurement times the kernel alone, not
// argument copies. Every function is [sync] and validates its arguments like the test bindings (TypeError/RangeError
// naming the function and the argument).
//
//   qgemmTime(isa, m, n, k, wbits, iterations, copies = 1, repeats = 1) -> seconds for `iterations` qgemm calls
//       (after one warm-up) on internal pseudo-random data, the shortest of `repeats` timed runs; `copies` distinct
//       weight sets are used in turn, so weights larger than the caches stream from memory as in a network.
//   dotPeak(isa, seconds) -> operations per second of a register-resident integer dot-product loop (peak.h; one
//       u8 x s8 multiply-add = 2 operations), run for about `seconds`.
//
// `isa` is "scalar" | "avx2" | "avx512vnni"; an unknown name, or a level above the CPU's (detected_isa()), throws a
// RangeError (the latter's message says "not supported by this CPU").
#include <napi.h>

#include <chrono>
#include <cstdint>
#include <cstring>
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

Napi::Value DotPeak(const Napi::CallbackInfo& info) {
  const std::string where = "_kernelTiming.dotPeak";
  Napi::Env env = info.Env();
  expect_args(info, 2, where);
  const Isa isa = isa_arg(info, 0, where);
  const double seconds = napi::number_value(env, info[1], where, "seconds");
  if (!(seconds > 0 && seconds <= 60)) napi::throw_range(env, where, "seconds must be in (0, 60]");
  // Rounds of a few milliseconds; the best round's rate is the peak (a preempted round only lowers its own rate).
  uint64_t chunk = 1 << 14;
  double best = 0;
  const auto start = std::chrono::steady_clock::now();
  do {
    const auto round = std::chrono::steady_clock::now();
    const uint64_t ops = qu8_qs8_dot_peak(isa, chunk);
    const double elapsed = seconds_since(round);
    if (elapsed < 2e-3) {
      chunk *= 2;
      continue;
    }
    const double rate = static_cast<double>(ops) / elapsed;
    if (rate > best) best = rate;
  } while (seconds_since(start) < seconds);
  return Napi::Number::New(env, best);
}

}  // namespace

void register_timing_bindings(Napi::Env env, Napi::Object exports) {
  Napi::Object timing = Napi::Object::New(env);
  timing.Set("qgemmTime", napi::guarded_function<QGemmTime>(env, "qgemmTime", "_kernelTiming.qgemmTime"));
  timing.Set("dotPeak", napi::guarded_function<DotPeak>(env, "dotPeak", "_kernelTiming.dotPeak"));
  exports.Set("_kernelTiming", timing);
}

}  // namespace arq::kernels
