// Bindings for IBP / QA-IBP training (ibp_net.h):
//   new IbpNet(spec)        spec: { mode: 'float', plan } with an fp32 plan description (FloatPlan's), or
//                           { mode: 'quantized', plan } with a QAT description (QatNet's); conv, gemm, clamp and
//                           flatten only. Throws TypeError/RangeError/Error naming the field or op.
//   net.step(request)       [async] -> Promise<{ loss, ce, hinge, width, correct, certified }>: forward on the points
//                           and boxes, backward, one Adam step. request: { input, labels, batch, threads, eps, kappa,
//                           delta, lambda, lr, beta1, beta2, epsilon, weightDecay }
//   net.gradients(request)  [async] the same without the Adam step (read grads()); no Adam fields
//   net.bounds(request)     [async] -> Promise<{ logits, lower, upper }> (Float32Array, batch x classes): the point
//                           logits and the ends of the box logits. request: { input, batch, threads, eps }
//   net.tensors() / net.grads() / net.moments()  [sync] -> Float32Array[] copies (moments: Adam's m, then v)
//   net.setMoments(moments, step)                [sync] resume Adam's state
//   net.adamStep / net.classes / net.quantized   [sync]
// A call while a job of the net is running throws Error: the job owns the net until it finishes.
#include "train/ibp_bind.h"

#include <cmath>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/guard.h"
#include "common/napi_args.h"
#include "common/promise_worker.h"
#include "engine/spec_reader.h"
#include "train/ibp_net.h"
#include "train/net_bind.h"

namespace arq::train {
namespace {

using arq::napi::field;
using arq::napi::float_array;
using arq::napi::int_field;
using arq::napi::number_field;
using arq::napi::throw_range;

constexpr int64_t kMaxBatch = int64_t{1} << 20;

std::shared_ptr<IbpNet> make_net(const Napi::Object& o) {
  const std::string where = "IbpNet";
  const std::string name = arq::napi::string_field(o, "mode", where);
  const Napi::Value value = field(o, "plan", where);
  if (!value.IsObject()) arq::napi::throw_type(o.Env(), where, "plan must be an object");
  const Napi::Object plan = value.As<Napi::Object>();
  if (name == "float") return std::make_shared<IbpNet>(engine::read_float_plan(plan, where));
  if (name != "quantized") arq::napi::throw_type(o.Env(), where, "mode must be 'float' or 'quantized'");
  QatSpec spec;
  spec.plan = engine::read_quantized_plan(
      plan, where, [&](size_t index, const Napi::Object& op, engine::IntOpSpec&, const std::string& at) {
        spec.weights.resize(index + 1);
        spec.weights[index] = float_array(op.Env(), field(op, "weight", at), -1, at, "weight");
      });
  spec.weights.resize(spec.plan.ops.size());
  return std::make_shared<IbpNet>(std::move(spec));
}

// A finite number field in [min, max].
float bounded(const Napi::Object& o, const char* key, double min, double max, const std::string& where) {
  const double value = number_field(o, key, where);
  if (!(std::isfinite(value) && value >= min && value <= max))
    throw_range(o.Env(), where,
                std::string(key) + " must be in [" + std::to_string(min) + ", " + std::to_string(max) + "]");
  return static_cast<float>(value);
}

struct StepJob {
  std::shared_ptr<IbpNet> net;
  std::vector<float> input;
  std::vector<int32_t> labels;
  int64_t batch = 0;
  int threads = 1;
  IbpLossParams loss;
  bool update = false;
  AdamParams adam;
  IbpBatchResult out;

  void execute() {
    BusyRelease<IbpNet> release{net};
    out = net->gradients(input.data(), labels.data(), batch, threads, loss);
    if (update) net->adam(adam);
  }
  Napi::Value result(Napi::Env env) {
    Napi::Object object = Napi::Object::New(env);
    object.Set("loss", out.loss);
    object.Set("ce", out.ce);
    object.Set("hinge", out.hinge);
    object.Set("width", out.width);
    object.Set("correct", static_cast<double>(out.correct));
    object.Set("certified", static_cast<double>(out.certified));
    return object;
  }
};

struct BoundsJob {
  std::shared_ptr<IbpNet> net;
  std::vector<float> input;
  int64_t batch = 0;
  int threads = 1;
  float eps = 0;
  std::vector<float> logits, lower, upper;

  void execute() {
    BusyRelease<IbpNet> release{net};
    const size_t n = static_cast<size_t>(batch * net->classes());
    logits.resize(n);
    lower.resize(n);
    upper.resize(n);
    net->bounds(input.data(), batch, eps, threads, logits.data(), lower.data(), upper.data());
  }
  Napi::Value result(Napi::Env env) {
    auto copy = [&](const std::vector<float>& data) {
      auto array = Napi::Float32Array::New(env, data.size());
      std::copy(data.begin(), data.end(), array.Data());
      return array;
    };
    Napi::Object object = Napi::Object::New(env);
    object.Set("logits", copy(logits));
    object.Set("lower", copy(lower));
    object.Set("upper", copy(upper));
    return object;
  }
};

class IbpWrap : public arq::napi::GuardedWrap<IbpWrap> {
  using Guarded = arq::napi::GuardedWrap<IbpWrap>;

 public:
  static Napi::Function define(Napi::Env env) {
    return DefineClass(env, "IbpNet",
                       {Guarded::method<&IbpWrap::Step>("step", "IbpNet.step"),
                        Guarded::method<&IbpWrap::Gradients>("gradients", "IbpNet.gradients"),
                        Guarded::method<&IbpWrap::Bounds>("bounds", "IbpNet.bounds"),
                        Guarded::method<&IbpWrap::Tensors>("tensors", "IbpNet.tensors"),
                        Guarded::method<&IbpWrap::Grads>("grads", "IbpNet.grads"),
                        Guarded::method<&IbpWrap::Moments>("moments", "IbpNet.moments"),
                        Guarded::method<&IbpWrap::SetMoments>("setMoments", "IbpNet.setMoments"),
                        Guarded::accessor<&IbpWrap::AdamStep>("adamStep", "IbpNet.adamStep"),
                        Guarded::accessor<&IbpWrap::Classes>("classes", "IbpNet.classes"),
                        Guarded::accessor<&IbpWrap::Quantized>("quantized", "IbpNet.quantized")});
  }

  explicit IbpWrap(const Napi::CallbackInfo& info) : Guarded(info) {
    Guarded::construct(info, "IbpNet", [&] { net_ = make_net(arq::napi::object_arg(info, 0, "IbpNet")); });
  }

 private:
  Napi::Value Step(const Napi::CallbackInfo& info) { return queue_step(info, "IbpNet.step", true); }
  Napi::Value Gradients(const Napi::CallbackInfo& info) { return queue_step(info, "IbpNet.gradients", false); }

  Napi::Value queue_step(const Napi::CallbackInfo& info, const std::string& where, bool update) {
    Napi::Env env = info.Env();
    const Napi::Object request = arq::napi::object_arg(info, 0, where);
    auto job = std::make_unique<StepJob>();
    job->net = net_;
    job->batch = int_field(request, "batch", 1, kMaxBatch, where);
    job->threads = static_cast<int>(int_field(request, "threads", 1, 256, where));
    job->input =
        float_array(env, field(request, "input", where), job->batch * net_->input_shape().size(), where, "input");
    job->labels = arq::napi::typed_array<int32_t>(env, field(request, "labels", where), napi_int32_array, "Int32Array",
                                                  job->batch, where, "labels");
    for (int32_t label : job->labels) {
      if (label < 0 || label >= net_->classes())
        throw_range(env, where, "labels must lie in [0, " + std::to_string(net_->classes()) + ")");
    }
    job->loss.eps = bounded(request, "eps", 0, 1, where);
    job->loss.kappa = bounded(request, "kappa", 0, 1e6, where);
    job->loss.delta = bounded(request, "delta", 0, 1e6, where);
    job->loss.lambda = bounded(request, "lambda", 0, 1e6, where);
    job->update = update;
    if (update) {
      job->adam.lr = bounded(request, "lr", 0, 100, where);
      job->adam.beta1 = bounded(request, "beta1", 0, 0.999999, where);
      job->adam.beta2 = bounded(request, "beta2", 0, 0.999999, where);
      job->adam.epsilon = bounded(request, "epsilon", 1e-30, 1, where);
      job->adam.weight_decay = bounded(request, "weightDecay", 0, 1, where);
    }
    claim(env, where);
    return arq::napi::PromiseWorker<StepJob>::queue(env, where, std::move(job));
  }

  Napi::Value Bounds(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const std::string where = "IbpNet.bounds";
    const Napi::Object request = arq::napi::object_arg(info, 0, where);
    auto job = std::make_unique<BoundsJob>();
    job->net = net_;
    job->batch = int_field(request, "batch", 1, kMaxBatch, where);
    job->threads = static_cast<int>(int_field(request, "threads", 1, 256, where));
    job->input =
        float_array(env, field(request, "input", where), job->batch * net_->input_shape().size(), where, "input");
    job->eps = bounded(request, "eps", 0, 1, where);
    claim(env, where);
    return arq::napi::PromiseWorker<BoundsJob>::queue(env, where, std::move(job));
  }

  Napi::Value Tensors(const Napi::CallbackInfo& info) {
    check_idle(info.Env(), "IbpNet.tensors");
    return tensor_copies(info.Env(), net_->tensors(), false,
                         [](const Tensor& t) -> const std::vector<float>& { return t.value; });
  }
  Napi::Value Grads(const Napi::CallbackInfo& info) {
    check_idle(info.Env(), "IbpNet.grads");
    return tensor_copies(info.Env(), net_->tensors(), false,
                         [](const Tensor& t) -> const std::vector<float>& { return t.grad; });
  }
  Napi::Value Moments(const Napi::CallbackInfo& info) {
    check_idle(info.Env(), "IbpNet.moments");
    Napi::Array out = Napi::Array::New(info.Env());
    uint32_t next = 0;
    for (const std::vector<float>& m : net_->moments()) {
      auto array = Napi::Float32Array::New(info.Env(), m.size());
      std::copy(m.begin(), m.end(), array.Data());
      out.Set(next++, array);
    }
    return out;
  }
  Napi::Value SetMoments(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const std::string where = "IbpNet.setMoments";
    check_idle(env, where);
    if (info.Length() < 2 || !info[0].IsArray()) arq::napi::throw_type(env, where, "expected (moments[], step)");
    const Napi::Array list = info[0].As<Napi::Array>();
    std::vector<std::vector<float>> moments;
    for (uint32_t i = 0; i < list.Length(); ++i)
      moments.push_back(float_array(env, list.Get(i), -1, where, "moments[" + std::to_string(i) + "]"));
    net_->set_moments(moments, arq::napi::int_value(env, info[1], 0, int64_t{1} << 50, where, "step"));
    return env.Undefined();
  }
  Napi::Value AdamStep(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(net_->adam_step()));
  }
  Napi::Value Classes(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(net_->classes()));
  }
  Napi::Value Quantized(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), net_->quantized()); }

  void check_idle(Napi::Env env, const std::string& where) const {
    if (net_->busy) throw Napi::Error::New(env, where + ": a job of this IbpNet is still running");
  }
  void claim(Napi::Env env, const std::string& where) {
    if (net_->busy.exchange(true)) throw Napi::Error::New(env, where + ": a job of this IbpNet is still running");
  }

  std::shared_ptr<IbpNet> net_;
};

}  // namespace

void register_ibp_bindings(Napi::Env env, Napi::Object exports) { exports.Set("IbpNet", IbpWrap::define(env)); }

}  // namespace arq::train
