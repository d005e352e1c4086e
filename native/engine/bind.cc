// Bindings for the fp32 executor. FloatPlan is an ObjectWrap (every entry inside common/guard.h's guard):
//   new FloatPlan(spec)            [sync]  builds and validates a plan; throws TypeError/RangeError/Error, and
//                                          RangeError when even one image would pass spec.maxMemory (bytes,
//                                          default 2 GiB)
//   plan.run(input, batch, threads) [async] -> Promise<Float32Array> logits [batch x classes]
//   plan.sample(request), plan.sampleStreams(request) [async] the certification sampling loop (certify/bind.h)
//   plan.observeRanges(input, batch, threads) [async] -> Promise<Float32Array> [min, max] per plan value
//   plan.observeHistograms(input, batch, threads, ranges, bins) [async] -> Promise<Float64Array> values x bins
//   plan.checkMemory(batch, threads, bins) [sync] -> estimated bytes of such a call (bins 0: run/observeRanges)
//   plan.classes, plan.values, plan.inputShape, plan.kernels   [sync] read-only facts
// Every call checks its memory estimate (FloatPlan::check_memory) before copying its input: RangeError naming the
// largest item. observeRanges/observeHistograms reject with an Error naming the first plan value holding a NaN or
// an infinity.
#include "engine/bind.h"

#include <memory>
#include <stdexcept>
#include <utility>

#include "common/guard.h"
#include "common/napi_args.h"
#include "common/promise_worker.h"
#include "engine/float_plan.h"
#include "engine/run_job.h"
#include "engine/spec_reader.h"

namespace arq::engine {
namespace {

using arq::napi::float_array;

struct ObserveJob {
  std::shared_ptr<const FloatPlan> plan;
  std::vector<float> input;
  int64_t batch = 0;
  int threads = 1;
  std::vector<float> ranges;  // histograms: the input ranges; ranges pass: the result
  int bins = 0;               // 0: ranges pass
  std::vector<double> counts;

  void execute() {
    if (bins == 0) {
      ranges = plan->observe_ranges(input.data(), batch, threads);
    } else {
      counts = plan->observe_histograms(input.data(), batch, threads, ranges, bins);
    }
  }
  Napi::Value result(Napi::Env env) {
    if (bins == 0) {
      auto array = Napi::Float32Array::New(env, ranges.size());
      std::copy(ranges.begin(), ranges.end(), array.Data());
      return array;
    }
    auto array = Napi::Float64Array::New(env, counts.size());
    std::copy(counts.begin(), counts.end(), array.Data());
    return array;
  }
};

class FloatPlanWrap : public arq::napi::GuardedWrap<FloatPlanWrap> {
 public:
  static Napi::Function define(Napi::Env env) {
    return DefineClass(env, "FloatPlan",
                       {method<&FloatPlanWrap::Run>("run", "FloatPlan.run"),
                        method<&FloatPlanWrap::Sample>("sample", "FloatPlan.sample"),
                        method<&FloatPlanWrap::SampleStreams>("sampleStreams", "FloatPlan.sampleStreams"),
                        method<&FloatPlanWrap::ObserveRanges>("observeRanges", "FloatPlan.observeRanges"),
                        method<&FloatPlanWrap::ObserveHistograms>("observeHistograms", "FloatPlan.observeHistograms"),
                        method<&FloatPlanWrap::CheckMemory>("checkMemory", "FloatPlan.checkMemory"),
                        accessor<&FloatPlanWrap::Values>("values", "FloatPlan.values"),
                        accessor<&FloatPlanWrap::Classes>("classes", "FloatPlan.classes"),
                        accessor<&FloatPlanWrap::InputShape>("inputShape", "FloatPlan.inputShape"),
                        accessor<&FloatPlanWrap::Kernels>("kernels", "FloatPlan.kernels")});
  }

  explicit FloatPlanWrap(const Napi::CallbackInfo& info) : GuardedWrap(info) {
    construct(info, "FloatPlan", [&] {
      plan_ =
          std::make_shared<const FloatPlan>(read_float_plan(arq::napi::object_arg(info, 0, "FloatPlan"), "FloatPlan"));
    });
  }

 private:
  Napi::Value Run(const Napi::CallbackInfo& info) {
    return queue_run(info, "FloatPlan.run", plan_, plan_->input_shape().size());
  }
  Napi::Value Sample(const Napi::CallbackInfo& info) {
    return queue_plan_sample(info, "FloatPlan.sample", plan_, plan_->input_shape().size(), false);
  }
  Napi::Value SampleStreams(const Napi::CallbackInfo& info) {
    return queue_plan_sample(info, "FloatPlan.sampleStreams", plan_, plan_->input_shape().size(), true);
  }
  // The job of observeRanges (bins 0) or observeHistograms: arguments read and the memory checked before the input
  // is copied.
  std::unique_ptr<ObserveJob> observe_job(const Napi::CallbackInfo& info, const std::string& where, bool histograms) {
    Napi::Env env = info.Env();
    if (info.Length() < (histograms ? 5u : 3u)) {
      arq::napi::throw_type(
          env, where,
          histograms ? "expected (input, batch, threads, ranges, bins)" : "expected (input, batch, threads)");
    }
    auto job = std::make_unique<ObserveJob>();
    job->plan = plan_;
    job->batch = arq::napi::int_value(env, info[1], 1, int64_t{1} << 24, where, "batch");
    job->threads = static_cast<int>(arq::napi::int_value(env, info[2], 1, 256, where, "threads"));
    if (histograms) {
      job->bins = static_cast<int>(arq::napi::int_value(env, info[4], 1, 1 << 16, where, "bins"));
      job->ranges = float_array(env, info[3], 2 * int64_t{plan_->values()}, where, "ranges");
    }
    plan_->check_memory(job->batch, job->threads, job->bins);
    job->input = float_array(env, info[0], job->batch * plan_->input_shape().size(), where, "input");
    return job;
  }
  Napi::Value ObserveRanges(const Napi::CallbackInfo& info) {
    const std::string where = "FloatPlan.observeRanges";
    return arq::napi::PromiseWorker<ObserveJob>::queue(info.Env(), where, observe_job(info, where, false));
  }
  Napi::Value ObserveHistograms(const Napi::CallbackInfo& info) {
    const std::string where = "FloatPlan.observeHistograms";
    return arq::napi::PromiseWorker<ObserveJob>::queue(info.Env(), where, observe_job(info, where, true));
  }
  Napi::Value CheckMemory(const Napi::CallbackInfo& info) {
    const std::string where = "FloatPlan.checkMemory";
    Napi::Env env = info.Env();
    arq::napi::expect_args(info, 3, where);
    const int64_t batch = arq::napi::int_value(env, info[0], 1, int64_t{1} << 24, where, "batch");
    const int threads = static_cast<int>(arq::napi::int_value(env, info[1], 1, 256, where, "threads"));
    const int bins = static_cast<int>(arq::napi::int_value(env, info[2], 0, 1 << 16, where, "bins"));
    return Napi::Number::New(env, plan_->check_memory(batch, threads, bins));
  }
  Napi::Value Values(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), plan_->values()); }
  Napi::Value Classes(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(plan_->classes()));
  }
  Napi::Value InputShape(const Napi::CallbackInfo& info) {
    const Shape& s = plan_->input_shape();
    auto array = Napi::Array::New(info.Env(), 3);
    array.Set(0u, static_cast<double>(s.c));
    array.Set(1u, static_cast<double>(s.h));
    array.Set(2u, static_cast<double>(s.w));
    return array;
  }
  Napi::Value Kernels(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), plan_->kernels()); }

  std::shared_ptr<const FloatPlan> plan_;
};

}  // namespace

void register_bindings(Napi::Env env, Napi::Object exports) { exports.Set("FloatPlan", FloatPlanWrap::define(env)); }

}  // namespace arq::engine
