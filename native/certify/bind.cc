#include "certify/bind.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <utility>

#include "common/napi_args.h"
#include "common/promise_worker.h"

namespace arq::certify {
namespace {

constexpr int64_t kMaxU32 = 0xFFFFFFFFll;

struct SampleJob {
  SampleRequest request;
  int64_t classes = 0;
  RunBatch run;
  SampleResult outcome;

  void execute() { outcome = sample(request, classes, run); }
  Napi::Value result(Napi::Env env) {
    Napi::Object out = Napi::Object::New(env);
    auto counts = Napi::Uint32Array::New(env, outcome.counts.size());
    std::copy(outcome.counts.begin(), outcome.counts.end(), counts.Data());
    out.Set("counts", counts);
    if (request.record) {
      auto predictions = Napi::Uint8Array::New(env, outcome.predictions.size());
      std::copy(outcome.predictions.begin(), outcome.predictions.end(), predictions.Data());
      out.Set("predictions", predictions);
    } else {
      out.Set("predictions", env.Null());
    }
    return out;
  }
};

}  // namespace

Napi::Value queue_sample(const Napi::CallbackInfo& info, const char* where, int64_t input_size, int64_t classes,
                         const std::function<RunBatch(int64_t batch, int threads)>& bind_run) {
  Napi::Env env = info.Env();
  const Napi::Object o = napi::object_arg(info, 0, where);
  auto job = std::make_unique<SampleJob>();
  SampleRequest& r = job->request;
  r.sigma = static_cast<float>(napi::number_field(o, "sigma", where));
  if (!(r.sigma >= 0.0f) || !std::isfinite(r.sigma)) napi::throw_range(env, where, "sigma must be finite and >= 0");
  const int64_t hi = napi::int_field(o, "seedHi", 0, kMaxU32, where);
  const int64_t lo = napi::int_field(o, "seedLo", 0, kMaxU32, where);
  r.seed = (static_cast<uint64_t>(hi) << 32) | static_cast<uint64_t>(lo);
  r.image_index = static_cast<uint64_t>(napi::int_field(o, "imageIndex", 0, kMaxU32, where));
  r.first_sample = static_cast<uint64_t>(napi::int_field(o, "firstSample", 0, kMaxU32, where));
  r.count = napi::int_field(o, "count", 0, kMaxU32, where);
  r.batch = napi::int_field(o, "batch", 1, 1 << 16, where);
  const int threads = static_cast<int>(napi::int_field(o, "threads", 1, 256, where));
  r.threads = threads;
  const Napi::Value record = napi::field(o, "record", where);
  if (!record.IsBoolean()) napi::throw_type(env, where, "record must be a boolean");
  r.record = record.As<Napi::Boolean>().Value();
  if (r.first_sample + static_cast<uint64_t>(r.count) > (uint64_t{1} << 32)) {
    napi::throw_range(env, where, "firstSample + count must not exceed 2^32");
  }
  if (r.record && classes > 256) napi::throw_range(env, where, "recording predictions needs at most 256 classes");
  job->classes = classes;
  job->run = bind_run(std::min(r.batch, std::max<int64_t>(r.count, 1)), threads);  // the batch sample() runs
  r.image = napi::float_array(env, napi::field(o, "image", where), input_size, where, "image");
  return napi::PromiseWorker<SampleJob>::queue(env, where, std::move(job));
}

}  // namespace arq::certify
