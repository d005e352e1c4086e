// Bindings for quantization-aware training (qat_net.h). QatNet is an ObjectWrap (the methods it shares with
// TrainNet are net_bind.h's):
//   new QatNet(spec)            [sync]  spec: an IntPlan description whose conv/gemm ops carry float `weight`
//                               (Float32Array) instead of codes and no weightScales; validates it (build_network on
//                               the initial codes); throws TypeError/RangeError/Error
//   net.step(request)           [async] -> Promise<{ loss, correct }>: fake-quantized forward, straight-through
//                               backward, one SGD step. request: { input, labels, batch, threads, lr, momentum, weightDecay }
//   net.gradients(request)      [async] -> Promise<{ loss, correct }>: the same without the SGD step (read grads())
//   net.predict(input, batch, threads) [async] -> Promise<Float32Array> the fake-quantized logits, which are the
//                               integer engine's logits for the current weight codes
//   net.tensors() / net.grads() [sync] -> Float32Array[]: each layer's weight, then its bias when it has one
//   net.codes()                 [sync] -> { codes: Int8Array, scales: Float32Array }[] per layer: the current codes
//   net.classes                 [sync]
// A call while a job of the same net is running throws Error: the job owns the net until it finishes.
#include "train/qat_bind.h"

#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

#include "common/napi_args.h"
#include "engine/spec_reader.h"
#include "train/net_bind.h"

namespace arq::train {
namespace {

using arq::napi::field;
using arq::napi::float_array;
using arq::napi::int_field;
using arq::napi::number_field;
using arq::napi::throw_range;
using arq::napi::throw_type;

engine::Grid read_grid(const Napi::Value& value, const std::string& where, bool with_bits) {
  if (!value.IsObject()) throw_type(value.Env(), where, "a grid must be an object {scale, zero" + std::string(with_bits ? ", bits}" : "}"));
  const auto o = value.As<Napi::Object>();
  engine::Grid grid;
  grid.scale = static_cast<float>(number_field(o, "scale", where));
  grid.bits = with_bits ? static_cast<int>(int_field(o, "bits", 2, 8, where)) : 8;
  grid.zero = static_cast<int32_t>(int_field(o, "zero", 0, (1 << grid.bits) - 1, where));
  return grid;
}

QatSpec read_spec(const Napi::Object& o) {
  const std::string where = "QatNet";
  Napi::Env env = o.Env();
  QatSpec spec;
  engine::IntPlanSpec& plan = spec.plan;
  const Napi::Array ops = engine::read_plan_header(o, where, &plan.input, &plan.values, &plan.output);
  const Napi::Value grids = field(o, "grids", where);
  if (!grids.IsArray() || grids.As<Napi::Array>().Length() != static_cast<uint32_t>(plan.values)) {
    throw_type(env, where, "grids must be an array with one entry per value");
  }
  for (uint32_t v = 0; v < static_cast<uint32_t>(plan.values); ++v) {
    const Napi::Value grid = grids.As<Napi::Array>().Get(v);
    if (grid.IsNull() || grid.IsUndefined()) {
      plan.grids.emplace_back();
    } else {
      plan.grids.emplace_back(read_grid(grid, where + " grids[" + std::to_string(v) + "]", false));
    }
  }
  for (uint32_t i = 0; i < ops.Length(); ++i) {
    const std::string at = where + " op #" + std::to_string(i);
    engine::IntOpSpec s;
    const Napi::Object op = engine::read_geometry(ops.Get(i), s, plan.values, at);
    std::vector<float> weight;
    if (s.kind == engine::OpKind::kConv || s.kind == engine::OpKind::kGemm) {
      weight = float_array(env, field(op, "weight", at), -1, at, "weight");
      s.wbits = static_cast<int>(int_field(op, "wbits", 2, 8, at));
      s.bias = engine::optional_floats(op, "bias", at);
      s.input_grid = read_grid(field(op, "inputGrid", at), at + " inputGrid", true);
    }
    plan.ops.push_back(std::move(s));
    spec.weights.push_back(std::move(weight));
  }
  return spec;
}

class QatNetWrap : public Napi::ObjectWrap<QatNetWrap> {
 public:
  static Napi::Function define(Napi::Env env) {
    return DefineClass(env, "QatNet",
                       {InstanceMethod<&QatNetWrap::Step>("step"),
                        InstanceMethod<&QatNetWrap::Gradients>("gradients"),
                        InstanceMethod<&QatNetWrap::Predict>("predict"),
                        InstanceMethod<&QatNetWrap::Tensors>("tensors"),
                        InstanceMethod<&QatNetWrap::Grads>("grads"),
                        InstanceMethod<&QatNetWrap::Codes>("codes"),
                        InstanceAccessor<&QatNetWrap::Classes>("classes")});
  }

  explicit QatNetWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<QatNetWrap>(info) {
    net_.create(info.Env(), read_spec(arq::napi::object_arg(info, 0, "QatNet")));
  }

 private:
  Napi::Value Step(const Napi::CallbackInfo& info) { return net_.queue_batch(info, "step", true); }
  Napi::Value Gradients(const Napi::CallbackInfo& info) { return net_.queue_batch(info, "gradients", false); }
  Napi::Value Predict(const Napi::CallbackInfo& info) { return net_.predict(info); }
  Napi::Value Tensors(const Napi::CallbackInfo& info) {
    return net_.copies(info, "tensors", false, [](const Tensor& t) -> const std::vector<float>& { return t.value; });
  }
  Napi::Value Grads(const Napi::CallbackInfo& info) {
    return net_.copies(info, "grads", false, [](const Tensor& t) -> const std::vector<float>& { return t.grad; });
  }
  Napi::Value Codes(const Napi::CallbackInfo& info) {
    net_.check_idle(info.Env(), "QatNet.codes");
    Napi::Array out = Napi::Array::New(info.Env());
    uint32_t next = 0;
    for (const WeightCodes& layer : net_.net().codes()) {
      Napi::Object o = Napi::Object::New(info.Env());
      auto codes = Napi::Int8Array::New(info.Env(), layer.codes.size());
      std::copy(layer.codes.begin(), layer.codes.end(), codes.Data());
      auto scales = Napi::Float32Array::New(info.Env(), layer.scales.size());
      std::copy(layer.scales.begin(), layer.scales.end(), scales.Data());
      o.Set("codes", codes);
      o.Set("scales", scales);
      out.Set(next++, o);
    }
    return out;
  }
  Napi::Value Classes(const Napi::CallbackInfo& info) { return net_.classes(info); }

  NetBinding<QatNet> net_{"QatNet"};
};

}  // namespace

void register_qat_bindings(Napi::Env env, Napi::Object exports) { exports.Set("QatNet", QatNetWrap::define(env)); }

}  // namespace arq::train
