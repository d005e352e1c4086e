// Entry points of the Gaussian noise generator. Every function is [sync] and re-validates its arguments: TypeError for
// wrong types, RangeError for bad values or lengths, each message naming the function and the argument. The seed is
// passed as two uint32 halves, seed = seedHi * 2^32 + seedLo (exact in JavaScript numbers, unlike a 64-bit value).
//
// The one production entry, `exports.addGaussianNoise` (noisy copies on the TypeScript side: calibration, training,
// the ONNX Runtime sampler), at the active ISA level on the calling thread:
//
//   addGaussianNoise(seedHi, seedLo, image, firstSample, samples, imageData: Float32Array, sigma)
//       -> Float32Array[samples * imageData.length]: imageData[j] + sigma * n(seed, image, firstSample + s, j)
//
// Internal entry points for tests and benchmarks, `exports._noise` (any ISA level the CPU has, threads):
//
//   gaussian(isa, seedHi, seedLo, image, firstSample, samples, elements, sigma, threads = 1)
//       -> Float32Array[samples * elements], sample-major: sigma * n(seed, image, firstSample + s, j)
//   addGaussian(isa, seedHi, seedLo, image, firstSample, samples, imageData: Float32Array, sigma, threads = 1)
//       -> Float32Array[samples * imageData.length]: imageData[j] + sigma * n(seed, image, firstSample + s, j)
//   name(isa) -> the row variant chosen for that level, e.g. "gauss_row__avx512"
//   fillTime(isa, elements, iterations) -> seconds taken by `iterations` one-sample fills of `elements` values
//   philox(counter: number[4], key: number[2]) -> Uint32Array[4]: one Philox4x32-10 block (known-answer tests)
//
// Limits: image, firstSample < 2^32 and firstSample + samples <= 2^32 (the counter words, noise.h); samples *
// elements <= 2^28; sigma finite and >= 0; threads in [1, 256] (samples are split over arq's pool; the result does
// not depend on it). `isa` is "scalar" | "avx2" | "avx512vnni"; an unknown name, or a level above the CPU's,
// throws a RangeError (the latter's message says "not supported by this CPU").
#include "noise/bind.h"

#include <napi.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "common/cpu.h"
#include "common/guard.h"
#include "common/napi_args.h"
#include "common/thread_pool.h"
#include "noise/noise.h"
#include "noise/philox.h"

namespace arq::noise {
namespace {

using napi::expect_args;
using napi::isa_arg;

constexpr int64_t kMaxU32 = 0xFFFFFFFFll;
constexpr int64_t kMaxElements = int64_t(1) << 28;  // per result (1 GiB of floats)
constexpr int64_t kSamplesPerTask = 8;

// The arguments shared by gaussian and both addGaussian entries, seedHi .. samples read from index `at` on.
struct Stream {
  uint64_t seed;
  uint64_t image;
  uint64_t first_sample;
  int64_t samples;
};

Stream stream_args(const Napi::CallbackInfo& info, size_t at, const std::string& where) {
  Napi::Env env = info.Env();
  Stream s;
  const int64_t hi = napi::int_value(env, info[at], 0, kMaxU32, where, "seedHi");
  const int64_t lo = napi::int_value(env, info[at + 1], 0, kMaxU32, where, "seedLo");
  s.seed = (static_cast<uint64_t>(hi) << 32) | static_cast<uint64_t>(lo);
  s.image = static_cast<uint64_t>(napi::int_value(env, info[at + 2], 0, kMaxU32, where, "image"));
  const int64_t first = napi::int_value(env, info[at + 3], 0, kMaxU32, where, "firstSample");
  s.first_sample = static_cast<uint64_t>(first);
  s.samples =
      napi::int_value(env, info[at + 4], 0, kMaxU32 + 1 - first, where, "samples (firstSample + samples <= 2^32)");
  return s;
}

float sigma_arg(const Napi::CallbackInfo& info, size_t index, const std::string& where) {
  const double sigma = napi::number_value(info.Env(), info[index], where, "sigma");
  if (!std::isfinite(sigma) || sigma < 0) {
    napi::throw_range(info.Env(), where, "sigma must be finite and >= 0, got " + std::to_string(sigma));
  }
  return static_cast<float>(sigma);
}

int threads_arg(const Napi::CallbackInfo& info, size_t index, const std::string& where) {
  if (info.Length() <= index || info[index].IsUndefined()) return 1;
  return static_cast<int>(napi::int_value(info.Env(), info[index], 1, 256, where, "threads"));
}

void check_size(Napi::Env env, int64_t samples, int64_t elements, const std::string& where) {
  if (samples > 0 && elements > kMaxElements / samples) {
    napi::throw_range(env, where,
                      "samples * elements must be at most " + std::to_string(kMaxElements) + ", got " +
                          std::to_string(samples) + " * " + std::to_string(elements));
  }
}

// Runs fill(first, count, out) over chunks of samples, on `threads` threads of arq's pool when > 1.
template <class Fill>
void over_samples(int64_t samples, int64_t elements, int threads, float* out, const Fill& fill) {
  if (threads <= 1 || samples <= kSamplesPerTask) {
    fill(0, samples, out);
    return;
  }
  const int64_t tasks = (samples + kSamplesPerTask - 1) / kSamplesPerTask;
  global_pool().parallel_for(tasks, threads, [&](int64_t task, int) {
    const int64_t first = task * kSamplesPerTask;
    const int64_t count = samples - first < kSamplesPerTask ? samples - first : kSamplesPerTask;
    fill(first, count, out + first * elements);
  });
}

Napi::Value Gaussian(const Napi::CallbackInfo& info) {
  const std::string where = "_noise.gaussian";
  Napi::Env env = info.Env();
  expect_args(info, 8, where);
  const Isa isa = isa_arg(info, 0, where);
  const Stream s = stream_args(info, 1, where);
  const int64_t elements = napi::int_value(env, info[6], 1, kMaxElements, where, "elements");
  check_size(env, s.samples, elements, where);
  const float sigma = sigma_arg(info, 7, where);
  const int threads = threads_arg(info, 8, where);
  const NoiseConfig& config = noise_config(isa);
  Napi::Float32Array out = Napi::Float32Array::New(env, static_cast<size_t>(s.samples * elements));
  over_samples(s.samples, elements, threads, out.Data(), [&](int64_t first, int64_t count, float* dst) {
    gaussian_fill(config, s.seed, s.image, s.first_sample + static_cast<uint64_t>(first), static_cast<size_t>(count),
                  static_cast<size_t>(elements), sigma, dst);
  });
  return out;
}

// Noisy copies of imageData from the arguments seedHi .. sigma at index `at` on, as both addGaussian entries take them.
Napi::Value add_gaussian_from(const Napi::CallbackInfo& info, size_t at, Isa isa, int threads,
                              const std::string& where) {
  Napi::Env env = info.Env();
  const Stream s = stream_args(info, at, where);
  const std::vector<float> image = napi::float_array(env, info[at + 5], -1, where, "imageData");
  const auto elements = static_cast<int64_t>(image.size());
  if (elements < 1 || elements > kMaxElements) {
    napi::throw_range(
        env, where,
        "imageData must have 1 to " + std::to_string(kMaxElements) + " elements, got " + std::to_string(elements));
  }
  check_size(env, s.samples, elements, where);
  const float sigma = sigma_arg(info, at + 6, where);
  const NoiseConfig& config = noise_config(isa);
  Napi::Float32Array out = Napi::Float32Array::New(env, static_cast<size_t>(s.samples * elements));
  over_samples(s.samples, elements, threads, out.Data(), [&](int64_t first, int64_t count, float* dst) {
    add_gaussian(config, s.seed, s.image, s.first_sample + static_cast<uint64_t>(first), static_cast<size_t>(count),
                 image.data(), static_cast<size_t>(elements), sigma, dst);
  });
  return out;
}

Napi::Value AddGaussian(const Napi::CallbackInfo& info) {
  const std::string where = "_noise.addGaussian";
  expect_args(info, 8, where);
  const Isa isa = isa_arg(info, 0, where);
  const int threads = threads_arg(info, 8, where);
  return add_gaussian_from(info, 1, isa, threads, where);
}

Napi::Value AddGaussianNoise(const Napi::CallbackInfo& info) {
  const std::string where = "addGaussianNoise";
  expect_args(info, 7, where);
  return add_gaussian_from(info, 0, active_isa(), 1, where);
}

Napi::Value Name(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), noise_config(isa_arg(info, 0, "_noise.name")).name);
}

Napi::Value FillTime(const Napi::CallbackInfo& info) {
  const std::string where = "_noise.fillTime";
  Napi::Env env = info.Env();
  expect_args(info, 3, where);
  const Isa isa = isa_arg(info, 0, where);
  const int64_t elements = napi::int_value(env, info[1], 1, kMaxElements, where, "elements");
  const int64_t iterations = napi::int_value(env, info[2], 1, kMaxU32, where, "iterations");
  const NoiseConfig& config = noise_config(isa);
  std::vector<float> buffer(static_cast<size_t>(elements));
  const auto start = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < iterations; ++i) {
    gaussian_fill(config, 0x0123456789ABCDEFull, 0, static_cast<uint64_t>(i), 1, buffer.size(), 1.0f, buffer.data());
  }
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  return Napi::Number::New(env, elapsed.count());
}

Napi::Value Philox(const Napi::CallbackInfo& info) {
  const std::string where = "_noise.philox";
  Napi::Env env = info.Env();
  expect_args(info, 2, where);
  const std::vector<int64_t> counter = napi::int_array(env, info[0], 4, 0, kMaxU32, where, "counter");
  const std::vector<int64_t> key = napi::int_array(env, info[1], 2, 0, kMaxU32, where, "key");
  uint32_t ctr[4];
  for (int i = 0; i < 4; ++i) ctr[i] = static_cast<uint32_t>(counter[i]);
  philox4x32_10(ctr, static_cast<uint32_t>(key[0]), static_cast<uint32_t>(key[1]));
  Napi::Uint32Array out = Napi::Uint32Array::New(env, 4);
  for (int i = 0; i < 4; ++i) out[i] = ctr[i];
  return out;
}

}  // namespace

void register_bindings(Napi::Env env, Napi::Object exports) {
  Napi::Object noise = Napi::Object::New(env);
  noise.Set("gaussian", napi::guarded_function<Gaussian>(env, "gaussian", "_noise.gaussian"));
  noise.Set("addGaussian", napi::guarded_function<AddGaussian>(env, "addGaussian", "_noise.addGaussian"));
  noise.Set("name", napi::guarded_function<Name>(env, "name", "_noise.name"));
  noise.Set("fillTime", napi::guarded_function<FillTime>(env, "fillTime", "_noise.fillTime"));
  noise.Set("philox", napi::guarded_function<Philox>(env, "philox", "_noise.philox"));
  exports.Set("_noise", noise);
  exports.Set("addGaussianNoise",
              napi::guarded_function<AddGaussianNoise>(env, "addGaussianNoise", "addGaussianNoise"));
}

}  // namespace arq::noise
