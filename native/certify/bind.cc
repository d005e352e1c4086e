#include "certify/bind.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <memory>
#include <string>
#include <utility>

#include "common/guard.h"
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

struct StreamsJob {
  StreamsRequest request;
  int64_t classes = 0;
  RunBatch run;
  std::vector<StreamCounts> outcome;

  void execute() { outcome = sample_streams(request, classes, run); }
  Napi::Value result(Napi::Env env) {
    Napi::Array out = Napi::Array::New(env, outcome.size());
    for (size_t i = 0; i < outcome.size(); ++i) {
      Napi::Object entry = Napi::Object::New(env);
      auto counts = Napi::Uint32Array::New(env, outcome[i].counts.size());
      std::copy(outcome[i].counts.begin(), outcome[i].counts.end(), counts.Data());
      entry.Set("counts", counts);
      entry.Set("drawn", static_cast<double>(outcome[i].drawn));
      out.Set(static_cast<uint32_t>(i), entry);
    }
    return out;
  }
};

// Tags CancelFlag objects so that a binding can tell one from any other object before unwrapping it.
constexpr napi_type_tag kCancelFlagTag = {0x6172712d63616e63ull, 0x656c2d666c616731ull};

// A cancellation flag a JavaScript AbortSignal sets and native loops poll between batches (any thread).
class CancelFlag : public napi::GuardedWrap<CancelFlag> {
 public:
  static Napi::Function define(Napi::Env env) {
    return DefineClass(env, "CancelFlag", {method<&CancelFlag::Cancel>("cancel", "CancelFlag.cancel"),
                                           accessor<&CancelFlag::Cancelled>("cancelled", "CancelFlag.cancelled")});
  }
  explicit CancelFlag(const Napi::CallbackInfo& info) : GuardedWrap<CancelFlag>(info) {
    construct(info, "CancelFlag", [&] { info.This().As<Napi::Object>().TypeTag(&kCancelFlagTag); });
  }
  std::shared_ptr<const std::atomic<bool>> flag() const { return flag_; }

 private:
  Napi::Value Cancel(const Napi::CallbackInfo& info) {
    flag_->store(true, std::memory_order_relaxed);
    return info.Env().Undefined();
  }
  Napi::Value Cancelled(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), flag_->load(std::memory_order_relaxed)); }

  std::shared_ptr<std::atomic<bool>> flag_ = std::make_shared<std::atomic<bool>>(false);
};

// The fields both sampling entries share: sigma, seed, batch, threads.
void read_common(const Napi::Object& o, const char* where, float* sigma, uint64_t* seed, int64_t* batch, int* threads) {
  *sigma = static_cast<float>(napi::number_field(o, "sigma", where));
  if (!(*sigma >= 0.0f) || !std::isfinite(*sigma)) napi::throw_range(o.Env(), where, "sigma must be finite and >= 0");
  const int64_t hi = napi::int_field(o, "seedHi", 0, kMaxU32, where);
  const int64_t lo = napi::int_field(o, "seedLo", 0, kMaxU32, where);
  *seed = (static_cast<uint64_t>(hi) << 32) | static_cast<uint64_t>(lo);
  *batch = napi::int_field(o, "batch", 1, 1 << 16, where);
  *threads = static_cast<int>(napi::int_field(o, "threads", 1, 256, where));
}

// The noise stream of a request or slice: imageIndex, firstSample and count, within the 2^32 samples a stream has.
void read_stream_range(const Napi::Object& o, const std::string& where, uint64_t* image_index, uint64_t* first_sample,
                       int64_t* count) {
  *image_index = static_cast<uint64_t>(napi::int_field(o, "imageIndex", 0, kMaxU32, where));
  *first_sample = static_cast<uint64_t>(napi::int_field(o, "firstSample", 0, kMaxU32, where));
  *count = napi::int_field(o, "count", 0, kMaxU32, where);
  if (*first_sample + static_cast<uint64_t>(*count) > (uint64_t{1} << 32)) {
    napi::throw_range(o.Env(), where, "firstSample + count must not exceed 2^32");
  }
}

}  // namespace

Napi::Value queue_sample(const Napi::CallbackInfo& info, const char* where, int64_t input_size, int64_t classes,
                         const std::function<RunBatch(int64_t batch, int threads)>& bind_run) {
  Napi::Env env = info.Env();
  const Napi::Object o = napi::object_arg(info, 0, where);
  auto job = std::make_unique<SampleJob>();
  SampleRequest& r = job->request;
  int threads = 1;
  read_common(o, where, &r.sigma, &r.seed, &r.batch, &threads);
  r.threads = threads;
  read_stream_range(o, where, &r.image_index, &r.first_sample, &r.count);
  const Napi::Value record = napi::field(o, "record", where);
  if (!record.IsBoolean()) napi::throw_type(env, where, "record must be a boolean");
  r.record = record.As<Napi::Boolean>().Value();
  if (r.record && classes > 256) napi::throw_range(env, where, "recording predictions needs at most 256 classes");
  job->classes = classes;
  job->run = bind_run(std::min(r.batch, std::max<int64_t>(r.count, 1)), threads);  // the batch sample() runs
  r.image = napi::float_array(env, napi::field(o, "image", where), input_size, where, "image");
  return napi::PromiseWorker<SampleJob>::queue(env, where, std::move(job));
}

Napi::Value queue_sample_streams(const Napi::CallbackInfo& info, const char* where, int64_t input_size, int64_t classes,
                                 const std::function<RunBatch(int64_t batch, int threads)>& bind_run) {
  Napi::Env env = info.Env();
  const Napi::Object o = napi::object_arg(info, 0, where);
  auto job = std::make_unique<StreamsJob>();
  StreamsRequest& r = job->request;
  read_common(o, where, &r.sigma, &r.seed, &r.batch, &r.threads);
  const Napi::Value streams = napi::field(o, "streams", where);
  if (!streams.IsArray()) napi::throw_type(env, where, "streams must be an array");
  const Napi::Array list = streams.As<Napi::Array>();
  if (list.Length() > 65536) napi::throw_range(env, where, "streams must hold at most 65536 entries");
  uint64_t total = 0;
  for (uint32_t i = 0; i < list.Length(); ++i) {
    const std::string at = std::string(where) + " streams[" + std::to_string(i) + "]";
    const Napi::Value entry = list.Get(i);
    if (!entry.IsObject()) napi::throw_type(env, at, "must be an object");
    const Napi::Object s = entry.As<Napi::Object>();
    StreamSlice slice;
    slice.image = napi::float_array(env, napi::field(s, "image", at), input_size, at, "image");
    read_stream_range(s, at, &slice.image_index, &slice.first_sample, &slice.count);
    total += static_cast<uint64_t>(slice.count);
    if (total > (uint64_t{1} << 32)) napi::throw_range(env, where, "the streams' counts must not exceed 2^32 in all");
    if (s.Has("cancel") && !s.Get("cancel").IsUndefined()) slice.cancelled = cancel_flag(env, s.Get("cancel"), at);
    r.streams.push_back(std::move(slice));
  }
  job->classes = classes;
  job->run = bind_run(std::min(r.batch, std::max<int64_t>(static_cast<int64_t>(total), 1)), r.threads);
  return napi::PromiseWorker<StreamsJob>::queue(env, where, std::move(job));
}

std::shared_ptr<const std::atomic<bool>> cancel_flag(Napi::Env env, const Napi::Value& value, const std::string& where) {
  if (!value.IsObject() || !value.As<Napi::Object>().CheckTypeTag(&kCancelFlagTag)) {
    napi::throw_type(env, where, "cancel must be a CancelFlag");
  }
  return CancelFlag::Unwrap(value.As<Napi::Object>())->flag();
}

void register_bindings(Napi::Env env, Napi::Object exports) {
  exports.Set("CancelFlag", CancelFlag::define(env));
}

}  // namespace arq::certify
