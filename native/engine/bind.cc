// Bindings for the fp32 executor. FloatPlan is an ObjectWrap:
//   new FloatPlan(spec)            [sync]  builds and validates a plan; throws TypeError/RangeError/Error
//   plan.run(input, batch, threads) [async] -> Promise<Float32Array> logits [batch x classes]
//   plan.classes, plan.inputShape, plan.kernels   [sync] read-only facts
#include "engine/bind.h"

#include <memory>
#include <stdexcept>
#include <utility>

#include "common/napi_args.h"
#include "common/promise_worker.h"
#include "engine/float_plan.h"

namespace arq::engine {
namespace {

using arq::napi::field;
using arq::napi::float_array;
using arq::napi::int_array;
using arq::napi::int_field;
using arq::napi::number_field;
using arq::napi::string_field;

constexpr int64_t kMaxDim = int64_t{1} << 24;

OpKind parse_kind(Napi::Env env, const std::string& name, const std::string& where) {
  static const std::pair<const char*, OpKind> kinds[] = {
      {"conv", OpKind::kConv},       {"gemm", OpKind::kGemm},       {"add", OpKind::kAdd},
      {"clamp", OpKind::kClamp},     {"maxpool", OpKind::kMaxPool}, {"avgpool", OpKind::kAvgPool},
      {"globalavgpool", OpKind::kGlobalAvgPool}, {"pad", OpKind::kPad}, {"elementwise", OpKind::kElementwise},
      {"repeat", OpKind::kRepeat},   {"flatten", OpKind::kFlatten}};
  for (const auto& [text, kind] : kinds) if (name == text) return kind;
  arq::napi::throw_range(env, where, "unknown op '" + name + "'");
}

ElementwiseKind parse_elementwise(Napi::Env env, const std::string& name, const std::string& where) {
  if (name == "add") return ElementwiseKind::kAdd;
  if (name == "sub") return ElementwiseKind::kSub;
  if (name == "mul") return ElementwiseKind::kMul;
  if (name == "div") return ElementwiseKind::kDiv;
  arq::napi::throw_range(env, where, "unknown elementwise operation '" + name + "'");
}

void read_window(const Napi::Object& o, OpSpec& s, const std::string& where, bool with_kernel) {
  Napi::Env env = o.Env();
  if (with_kernel) {
    const auto kernel = int_array(env, field(o, "kernel", where), 2, 1, 64, where, "kernel");
    s.kernel_h = kernel[0];
    s.kernel_w = kernel[1];
    const auto strides = int_array(env, field(o, "strides", where), 2, 1, 64, where, "strides");
    s.stride_h = strides[0];
    s.stride_w = strides[1];
  }
  const auto pads = int_array(env, field(o, "pads", where), 4, 0, 1024, where, "pads");
  std::copy(pads.begin(), pads.end(), s.pads);
}

void read_clamp(const Napi::Object& o, OpSpec& s, const std::string& where) {
  if (!o.Has("clamp") || o.Get("clamp").IsUndefined() || o.Get("clamp").IsNull()) return;
  const Napi::Value value = o.Get("clamp");
  if (!value.IsArray() || value.As<Napi::Array>().Length() != 2) arq::napi::throw_type(o.Env(), where, "clamp must be [min, max]");
  const auto array = value.As<Napi::Array>();
  s.min = static_cast<float>(arq::napi::number_value(o.Env(), array.Get(0u), where, "clamp[0]"));
  s.max = static_cast<float>(arq::napi::number_value(o.Env(), array.Get(1u), where, "clamp[1]"));
}

std::vector<float> optional_floats(const Napi::Object& o, const char* key, const std::string& where) {
  if (!o.Has(key) || o.Get(key).IsNull() || o.Get(key).IsUndefined()) return {};
  return float_array(o.Env(), o.Get(key), -1, where, key);
}

PlanSpec read_spec(const Napi::Object& o) {
  Napi::Env env = o.Env();
  const std::string where = "FloatPlan";
  PlanSpec spec;
  const auto input = int_array(env, field(o, "input", where), 3, 1, kMaxDim, where, "input");
  spec.input = Shape{input[0], input[1], input[2]};
  spec.values = static_cast<int>(int_field(o, "values", 1, 1 << 20, where));
  spec.output = static_cast<int>(int_field(o, "output", 0, spec.values - 1, where));
  const Napi::Value ops = field(o, "ops", where);
  if (!ops.IsArray()) arq::napi::throw_type(env, where, "ops must be an array");
  const auto array = ops.As<Napi::Array>();
  for (uint32_t i = 0; i < array.Length(); ++i) {
    const std::string at = where + " op #" + std::to_string(i);
    if (!array.Get(i).IsObject()) arq::napi::throw_type(env, at, "must be an object");
    const auto op = array.Get(i).As<Napi::Object>();
    OpSpec s;
    s.kind = parse_kind(env, string_field(op, "op", at), at);
    const Napi::Value inputs = field(op, "inputs", at);
    if (!inputs.IsArray()) arq::napi::throw_type(env, at, "inputs must be an array");
    const auto input_ids = int_array(env, inputs, inputs.As<Napi::Array>().Length(), 0, spec.values - 1, at, "inputs");
    s.inputs.assign(input_ids.begin(), input_ids.end());
    s.output = static_cast<int>(int_field(op, "output", 1, spec.values - 1, at));
    read_clamp(op, s, at);
    switch (s.kind) {
      case OpKind::kConv:
        read_window(op, s, at, true);
        s.group = int_field(op, "group", 1, kMaxDim, at);
        s.out_channels = int_field(op, "outChannels", 1, kMaxDim, at);
        s.weight = float_array(env, field(op, "weight", at), -1, at, "weight");
        s.bias = optional_floats(op, "bias", at);
        break;
      case OpKind::kGemm:
        s.out_channels = int_field(op, "outFeatures", 1, kMaxDim, at);
        s.weight = float_array(env, field(op, "weight", at), -1, at, "weight");
        s.bias = optional_floats(op, "bias", at);
        break;
      case OpKind::kMaxPool: read_window(op, s, at, true); break;
      case OpKind::kAvgPool: {
        read_window(op, s, at, true);
        const Napi::Value include = field(op, "countIncludePad", at);
        if (!include.IsBoolean()) arq::napi::throw_type(env, at, "countIncludePad must be a boolean");
        s.count_include_pad = include.As<Napi::Boolean>().Value();
        break;
      }
      case OpKind::kPad:
        read_window(op, s, at, false);
        s.pad_value = static_cast<float>(number_field(op, "value", at));
        break;
      case OpKind::kElementwise: {
        s.elementwise = parse_elementwise(env, string_field(op, "operation", at), at);
        s.constant = float_array(env, field(op, "constant", at), -1, at, "constant");
        const Napi::Value first = field(op, "constantFirst", at);
        if (!first.IsBoolean()) arq::napi::throw_type(env, at, "constantFirst must be a boolean");
        s.constant_first = first.As<Napi::Boolean>().Value();
        break;
      }
      case OpKind::kRepeat: s.repeat = int_field(op, "factor", 1, 4096, at); break;
      default: break;
    }
    spec.ops.push_back(std::move(s));
  }
  return spec;
}

struct RunJob {
  std::shared_ptr<const FloatPlan> plan;
  std::vector<float> input;
  int64_t batch = 0;
  int threads = 1;
  std::vector<float> logits;

  void execute() {
    logits.resize(static_cast<size_t>(batch * plan->classes()));
    plan->run(input.data(), batch, logits.data(), threads);
  }
  Napi::Value result(Napi::Env env) {
    auto array = Napi::Float32Array::New(env, logits.size());
    std::copy(logits.begin(), logits.end(), array.Data());
    return array;
  }
};

class FloatPlanWrap : public Napi::ObjectWrap<FloatPlanWrap> {
 public:
  static Napi::Function define(Napi::Env env) {
    return DefineClass(env, "FloatPlan",
                       {InstanceMethod<&FloatPlanWrap::Run>("run"),
                        InstanceAccessor<&FloatPlanWrap::Classes>("classes"),
                        InstanceAccessor<&FloatPlanWrap::InputShape>("inputShape"),
                        InstanceAccessor<&FloatPlanWrap::Kernels>("kernels")});
  }

  explicit FloatPlanWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<FloatPlanWrap>(info) {
    PlanSpec spec = read_spec(arq::napi::object_arg(info, 0, "FloatPlan"));
    try {
      plan_ = std::make_shared<const FloatPlan>(std::move(spec));
    } catch (const std::exception& error) {
      throw Napi::Error::New(info.Env(), std::string("FloatPlan: ") + error.what());
    }
  }

 private:
  Napi::Value Run(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const std::string where = "FloatPlan.run";
    if (info.Length() < 3) arq::napi::throw_type(env, where, "expected (input, batch, threads)");
    auto job = std::make_unique<RunJob>();
    job->plan = plan_;
    job->batch = arq::napi::int_value(env, info[1], 1, int64_t{1} << 24, where, "batch");
    job->threads = static_cast<int>(arq::napi::int_value(env, info[2], 1, 256, where, "threads"));
    job->input = float_array(env, info[0], job->batch * plan_->input_shape().size(), where, "input");
    return arq::napi::PromiseWorker<RunJob>::queue(env, where, std::move(job));
  }
  Napi::Value Classes(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), static_cast<double>(plan_->classes())); }
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
