// The binding scaffolding both executors' wrappers share (engine/bind.cc for FloatPlan, engine/int_bind.cc for
// IntPlan): the batch-inference job (the input copied on the JS thread, `run`, a closure that holds its plan alive,
// called on a libuv thread, logits handed back as a Float32Array) and the run / sample / sampleStreams entries built
// on it. Plan: any executor with run(input, batch, logits, threads), check_memory(batch, threads) (throws
// MemoryLimitError past the plan's limit) and classes().
#pragma once

#include <napi.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "certify/bind.h"
#include "common/napi_args.h"
#include "common/promise_worker.h"

namespace arq::engine {

struct RunJob {
  using Run = std::function<void(const float* input, int64_t batch, float* logits)>;
  Run run;
  std::vector<float> input;
  int64_t batch = 0;
  int64_t classes = 0;
  std::vector<float> logits;

  void execute() {
    logits.resize(static_cast<size_t>(batch * classes));
    run(input.data(), batch, logits.data());
  }
  Napi::Value result(Napi::Env env) {
    auto array = Napi::Float32Array::New(env, logits.size());
    std::copy(logits.begin(), logits.end(), array.Data());
    return array;
  }
};

// A closure running `plan` on `threads` threads; it holds the plan alive.
template <class Plan>
RunJob::Run run_on(const std::shared_ptr<const Plan>& plan, int threads) {
  return
      [plan, threads](const float* input, int64_t batch, float* logits) { plan->run(input, batch, logits, threads); };
}

// The threads argument of (input, batch, threads): an integer in 1..256.
inline int threads_arg(const Napi::CallbackInfo& info, const std::string& where) {
  if (info.Length() < 3) napi::throw_type(info.Env(), where, "expected (input, batch, threads)");
  return static_cast<int>(napi::int_value(info.Env(), info[2], 1, 256, where, "threads"));
}

// The job of a call (input, batch, ...) on `threads` threads, without its closure: the batch read and the memory
// checked before the input (batch x input_size floats) is copied.
template <class Plan>
std::unique_ptr<RunJob> read_run_job(const Napi::CallbackInfo& info, const std::string& where, const Plan& plan,
                                     int64_t input_size, int threads) {
  Napi::Env env = info.Env();
  if (info.Length() < 2) napi::throw_type(env, where, "expected (input, batch, ...)");
  auto job = std::make_unique<RunJob>();
  job->batch = napi::int_value(env, info[1], 1, int64_t{1} << 24, where, "batch");
  plan.check_memory(job->batch, threads);
  job->input = napi::float_array(env, info[0], job->batch * input_size, where, "input");
  job->classes = plan.classes();
  return job;
}

// plan.run(input, batch, threads) [async] -> Promise<Float32Array> logits [batch x classes].
template <class Plan>
Napi::Value queue_run(const Napi::CallbackInfo& info, const std::string& where, const std::shared_ptr<const Plan>& plan,
                      int64_t input_size) {
  const int threads = threads_arg(info, where);
  auto job = read_run_job(info, where, *plan, input_size, threads);
  job->run = run_on(plan, threads);
  return napi::PromiseWorker<RunJob>::queue(info.Env(), where, std::move(job));
}

// plan.sample(request) or, with `streams`, plan.sampleStreams(request) [async]: the certification sampling loop
// (certify/bind.h) over the plan, each batch's memory checked first.
template <class Plan>
Napi::Value queue_plan_sample(const Napi::CallbackInfo& info, const char* where,
                              const std::shared_ptr<const Plan>& plan, int64_t input_size, bool streams) {
  const auto bind_run = [plan](int64_t batch, int threads) {
    plan->check_memory(batch, threads);
    return run_on(plan, threads);
  };
  return streams ? certify::queue_sample_streams(info, where, input_size, plan->classes(), bind_run)
                 : certify::queue_sample(info, where, input_size, plan->classes(), bind_run);
}

}  // namespace arq::engine
