// Bindings for the integer executor. IntPlan is an ObjectWrap (every entry inside common/guard.h's guard):
//   new IntPlan(spec)                  [sync]  validates, derives constants, packs weights; throws
//   TypeError/RangeError/Error,
//                                              RangeError when even one image would pass spec.maxMemory (bytes, default
//                                              2 GiB)
//   plan.run(input, batch, threads)    [async] -> Promise<Float32Array> logits [batch x classes]
//   plan.profile(input, batch, threads) [async] -> Promise<Float64Array> thread-seconds per step (IntPlan::run)
//   plan.sample(request), plan.sampleStreams(request) [async] the certification sampling loop (certify/bind.h)
//   plan._runReference(input, batch)   [async] the same through the plain reference (tests only; slow)
//   plan.checkMemory(batch, threads)   [sync] -> estimated bytes of a run (RangeError past the limit)
//   plan.intervalBounds(...), plan.verifyBoxes(...) [async] the verifier (verify/bind.h)
//   plan.classes, plan.kernels         [sync]
// run, profile, sample and _runReference check the memory estimate before copying their input.
// and the clip searches of engine/clip_search.h [sync]:
//   quantizeWeights(weight: Float32Array, channels, bits) -> { codes: Int8Array, scales: Float32Array }
//       (weight.length a positive multiple of channels; bits 2..8)
//   _setLutDispatch(mode) [sync]: "measured" | "always" | "never" (engine/lut_dispatch.h)
//   activationGrid(lo, hi, counts: Float64Array, bits) -> { scale, zero }  (lo <= hi within float32's finite range;
//       counts.length >= 1)
#include "engine/int_bind.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <memory>
#include <stdexcept>
#include <utility>

#include "common/guard.h"
#include "common/napi_args.h"
#include "common/promise_worker.h"
#include "engine/clip_search.h"
#include "engine/int_plan.h"
#include "engine/lut_dispatch.h"
#include "engine/run_job.h"
#include "engine/spec_reader.h"
#include "verify/bind.h"

namespace arq::engine {
namespace {

using arq::napi::field;
using arq::napi::float_array;

IntPlanSpec read_int_spec(const Napi::Object& o) {
  return read_quantized_plan(o, "IntPlan", [](size_t, const Napi::Object& op, IntOpSpec& s, const std::string& at) {
    s.weight = arq::napi::int8_array(op.Env(), field(op, "weight", at), at, "weight");
    s.weight_scales = float_array(op.Env(), field(op, "weightScales", at), s.out_channels, at, "weightScales");
  });
}

// plan.profile: a batch run that keeps IntPlan::run's per-step times instead of the logits.
struct ProfileJob {
  RunJob run;
  std::vector<double> seconds;
  void execute() { run.execute(); }
  Napi::Value result(Napi::Env env) {
    auto array = Napi::Float64Array::New(env, seconds.size());
    std::copy(seconds.begin(), seconds.end(), array.Data());
    return array;
  }
};

class IntPlanWrap : public arq::napi::GuardedWrap<IntPlanWrap> {
 public:
  static Napi::Function define(Napi::Env env) {
    return DefineClass(
        env, "IntPlan",
        {method<&IntPlanWrap::Run>("run", "IntPlan.run"), method<&IntPlanWrap::Profile>("profile", "IntPlan.profile"),
         method<&IntPlanWrap::Sample>("sample", "IntPlan.sample"),
         method<&IntPlanWrap::SampleStreams>("sampleStreams", "IntPlan.sampleStreams"),
         method<&IntPlanWrap::RunReference>("_runReference", "IntPlan._runReference"),
         method<&IntPlanWrap::CheckMemory>("checkMemory", "IntPlan.checkMemory"),
         method<&IntPlanWrap::IntervalBounds>("intervalBounds", "IntPlan.intervalBounds"),
         method<&IntPlanWrap::VerifyBoxes>("verifyBoxes", "IntPlan.verifyBoxes"),
         accessor<&IntPlanWrap::Classes>("classes", "IntPlan.classes"),
         accessor<&IntPlanWrap::Kernels>("kernels", "IntPlan.kernels")});
  }

  explicit IntPlanWrap(const Napi::CallbackInfo& info) : GuardedWrap(info) {
    construct(info, "IntPlan", [&] {
      plan_ = std::make_shared<const IntPlan>(read_int_spec(arq::napi::object_arg(info, 0, "IntPlan")));
    });
  }

 private:
  int64_t input_size() const { return plan_->network().input.size(); }
  Napi::Value Run(const Napi::CallbackInfo& info) { return queue_run(info, "IntPlan.run", plan_, input_size()); }
  Napi::Value Profile(const Napi::CallbackInfo& info) {
    const std::string where = "IntPlan.profile";
    auto profile = std::make_unique<ProfileJob>();
    const int threads = threads_arg(info, where);
    profile->run = std::move(*read_run_job(info, where, *plan_, input_size(), threads));
    profile->run.run = [plan = plan_, threads, seconds = &profile->seconds](const float* input, int64_t batch,
                                                                            float* logits) {
      plan->run(input, batch, logits, threads, seconds);
    };
    return arq::napi::PromiseWorker<ProfileJob>::queue(info.Env(), where, std::move(profile));
  }
  Napi::Value Sample(const Napi::CallbackInfo& info) {
    return queue_plan_sample(info, "IntPlan.sample", plan_, input_size(), false);
  }
  Napi::Value SampleStreams(const Napi::CallbackInfo& info) {
    return queue_plan_sample(info, "IntPlan.sampleStreams", plan_, input_size(), true);
  }
  Napi::Value RunReference(const Napi::CallbackInfo& info) {
    const std::string where = "IntPlan._runReference";
    auto run = read_run_job(info, where, *plan_, input_size(), 1);
    run->run = [plan = plan_](const float* input, int64_t batch, float* logits) {
      run_reference(plan->network(), input, batch, logits);
    };
    return arq::napi::PromiseWorker<RunJob>::queue(info.Env(), where, std::move(run));
  }
  Napi::Value CheckMemory(const Napi::CallbackInfo& info) {
    const std::string where = "IntPlan.checkMemory";
    Napi::Env env = info.Env();
    arq::napi::expect_args(info, 2, where);
    const int64_t batch = arq::napi::int_value(env, info[0], 1, int64_t{1} << 24, where, "batch");
    const int threads = static_cast<int>(arq::napi::int_value(env, info[1], 1, 256, where, "threads"));
    return Napi::Number::New(env, plan_->check_memory(batch, threads));
  }
  Napi::Value IntervalBounds(const Napi::CallbackInfo& info) {
    return verify::queue_interval_bounds(info, "IntPlan.intervalBounds", plan_, bounds_);
  }
  Napi::Value VerifyBoxes(const Napi::CallbackInfo& info) {
    return verify::queue_verify_boxes(info, "IntPlan.verifyBoxes", plan_, bounds_);
  }
  Napi::Value Classes(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(plan_->classes()));
  }
  Napi::Value Kernels(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), plan_->kernels()); }

  std::shared_ptr<const IntPlan> plan_;
  verify::PropagatorCache bounds_;  // the verifier's propagator, packed once per plan
};

Napi::Value QuantizeWeights(const Napi::CallbackInfo& info) {
  const std::string where = "quantizeWeights";
  Napi::Env env = info.Env();
  if (info.Length() < 3) arq::napi::throw_type(env, where, "expected (weight, channels, bits)");
  const int64_t channels = arq::napi::int_value(env, info[1], 1, int64_t{1} << 24, where, "channels");
  const int bits = static_cast<int>(arq::napi::int_value(env, info[2], 2, 8, where, "bits"));
  const std::vector<float> weight = float_array(env, info[0], -1, where, "weight");
  if (weight.empty() || weight.size() % static_cast<size_t>(channels) != 0) {
    arq::napi::throw_range(env, where, "weight length must be a positive multiple of channels");
  }
  return weight_codes_object(
      env, quantize_weights(weight.data(), channels, static_cast<int64_t>(weight.size()) / channels, bits));
}

Napi::Value ActivationGridOf(const Napi::CallbackInfo& info) {
  const std::string where = "activationGrid";
  Napi::Env env = info.Env();
  if (info.Length() < 4) arq::napi::throw_type(env, where, "expected (lo, hi, counts, bits)");
  const double lo = arq::napi::number_value(env, info[0], where, "lo");
  const double hi = arq::napi::number_value(env, info[1], where, "hi");
  // Within float32's range (they are a float tensor's range): the grid's float scale then stays finite.
  if (!(std::fabs(lo) <= FLT_MAX) || !(std::fabs(hi) <= FLT_MAX) || lo > hi) {
    arq::napi::throw_range(env, where, "lo and hi must be finite float32 values with lo <= hi");
  }
  const std::vector<double> counts =
      arq::napi::typed_array<double>(env, info[2], napi_float64_array, "Float64Array", -1, where, "counts");
  if (counts.empty()) arq::napi::throw_range(env, where, "counts must not be empty");
  const int bits = static_cast<int>(arq::napi::int_value(env, info[3], 2, 8, where, "bits"));
  const ActivationGrid grid = activation_grid(lo, hi, counts.data(), static_cast<int64_t>(counts.size()), bits);
  Napi::Object out = Napi::Object::New(env);
  out.Set("scale", Napi::Number::New(env, grid.scale));
  out.Set("zero", Napi::Number::New(env, grid.zero));
  return out;
}

// [sync] _setLutDispatch(mode): "measured" | "always" | "never", for plans built afterwards (lut_dispatch.h; tests
// and benchmarks). Throws TypeError on a non-string, RangeError on another string.
Napi::Value SetLutDispatch(const Napi::CallbackInfo& info) {
  const std::string where = "_setLutDispatch";
  if (info.Length() < 1 || !info[0].IsString()) arq::napi::throw_type(info.Env(), where, "expected a string");
  const std::string mode = info[0].As<Napi::String>().Utf8Value();
  if (mode == "measured") {
    set_lut_dispatch(LutDispatch::kMeasured);
  } else if (mode == "always") {
    set_lut_dispatch(LutDispatch::kAlways);
  } else if (mode == "never") {
    set_lut_dispatch(LutDispatch::kNever);
  } else {
    arq::napi::throw_range(info.Env(), where, "expected measured, always or never, got '" + mode + "'");
  }
  return info.Env().Undefined();
}

}  // namespace

Napi::Object weight_codes_object(Napi::Env env, const WeightCodes& codes) {
  Napi::Object out = Napi::Object::New(env);
  auto code_array = Napi::Int8Array::New(env, codes.codes.size());
  std::copy(codes.codes.begin(), codes.codes.end(), code_array.Data());
  auto scale_array = Napi::Float32Array::New(env, codes.scales.size());
  std::copy(codes.scales.begin(), codes.scales.end(), scale_array.Data());
  out.Set("codes", code_array);
  out.Set("scales", scale_array);
  return out;
}

void register_int_bindings(Napi::Env env, Napi::Object exports) {
  exports.Set("IntPlan", IntPlanWrap::define(env));
  exports.Set("quantizeWeights",
              arq::napi::guarded_function<QuantizeWeights>(env, "quantizeWeights", "quantizeWeights"));
  exports.Set("activationGrid", arq::napi::guarded_function<ActivationGridOf>(env, "activationGrid", "activationGrid"));
  exports.Set("_setLutDispatch",
              arq::napi::guarded_function<SetLutDispatch>(env, "_setLutDispatch", "_setLutDispatch"));
}

}  // namespace arq::engine
