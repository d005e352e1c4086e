// Bindings for quantization-aware training (qat_net.h). QatNet is an ObjectWrap:
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
#include "common/promise_worker.h"
#include "engine/spec_reader.h"
#include "train/qat_net.h"

namespace arq::train {
namespace {

using arq::napi::field;
using arq::napi::float_array;
using arq::napi::int_field;
using arq::napi::number_field;
using arq::napi::throw_range;
using arq::napi::throw_type;

constexpr int64_t kMaxBatch = int64_t{1} << 20;

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

struct BusyRelease {
  std::shared_ptr<QatNet> net;
  ~BusyRelease() { net->busy = false; }
};

struct BatchJob {
  std::shared_ptr<QatNet> net;
  std::vector<float> input;
  std::vector<int32_t> labels;
  int64_t batch = 0;
  int threads = 1;
  bool update = false;
  SgdParams sgd;
  BatchResult out;

  void execute() {
    BusyRelease release{net};
    out = net->gradients(input.data(), labels.data(), batch, threads);
    if (update) net->sgd(sgd);
  }
  Napi::Value result(Napi::Env env) {
    Napi::Object object = Napi::Object::New(env);
    object.Set("loss", out.loss);
    object.Set("correct", static_cast<double>(out.correct));
    return object;
  }
};

struct PredictJob {
  std::shared_ptr<QatNet> net;
  std::vector<float> input;
  int64_t batch = 0;
  int threads = 1;
  std::vector<float> logits;

  void execute() {
    BusyRelease release{net};
    logits.resize(batch * net->classes());
    net->predict(input.data(), batch, logits.data(), threads);
  }
  Napi::Value result(Napi::Env env) {
    auto array = Napi::Float32Array::New(env, logits.size());
    std::copy(logits.begin(), logits.end(), array.Data());
    return array;
  }
};

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
    QatSpec spec = read_spec(arq::napi::object_arg(info, 0, "QatNet"));
    try {
      net_ = std::make_shared<QatNet>(std::move(spec));
    } catch (const std::exception& error) {
      throw Napi::Error::New(info.Env(), std::string("QatNet: ") + error.what());
    }
  }

 private:
  void claim(Napi::Env env, const std::string& where) {
    if (net_->busy.exchange(true)) throw Napi::Error::New(env, where + ": a job of this QatNet is still running");
  }
  void check_idle(Napi::Env env, const std::string& where) {
    if (net_->busy) throw Napi::Error::New(env, where + ": a job of this QatNet is still running");
  }

  Napi::Value queue_batch(const Napi::CallbackInfo& info, const std::string& where, bool update) {
    Napi::Env env = info.Env();
    const Napi::Object request = arq::napi::object_arg(info, 0, where);
    auto job = std::make_unique<BatchJob>();
    job->net = net_;
    job->batch = int_field(request, "batch", 1, kMaxBatch, where);
    job->threads = static_cast<int>(int_field(request, "threads", 1, 256, where));
    job->input = float_array(env, field(request, "input", where), job->batch * net_->input_shape().size(), where, "input");
    job->labels = arq::napi::typed_array<int32_t>(env, field(request, "labels", where), napi_int32_array, "Int32Array",
                                                  job->batch, where, "labels");
    for (int32_t label : job->labels) {
      if (label < 0 || label >= net_->classes()) throw_range(env, where, "labels must lie in [0, " + std::to_string(net_->classes()) + ")");
    }
    job->update = update;
    if (update) {
      job->sgd.lr = static_cast<float>(number_field(request, "lr", where));
      job->sgd.momentum = static_cast<float>(number_field(request, "momentum", where));
      job->sgd.weight_decay = static_cast<float>(number_field(request, "weightDecay", where));
      if (!(job->sgd.lr >= 0 && std::isfinite(job->sgd.lr))) throw_range(env, where, "lr must be finite and >= 0");
      if (!(job->sgd.momentum >= 0 && job->sgd.momentum < 1)) throw_range(env, where, "momentum must be in [0, 1)");
      if (!(job->sgd.weight_decay >= 0 && std::isfinite(job->sgd.weight_decay))) throw_range(env, where, "weightDecay must be finite and >= 0");
    }
    claim(env, where);
    return arq::napi::PromiseWorker<BatchJob>::queue(env, where, std::move(job));
  }

  Napi::Value Step(const Napi::CallbackInfo& info) { return queue_batch(info, "QatNet.step", true); }
  Napi::Value Gradients(const Napi::CallbackInfo& info) { return queue_batch(info, "QatNet.gradients", false); }

  Napi::Value Predict(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const std::string where = "QatNet.predict";
    if (info.Length() < 3) throw_type(env, where, "expected (input, batch, threads)");
    auto job = std::make_unique<PredictJob>();
    job->net = net_;
    job->batch = arq::napi::int_value(env, info[1], 1, kMaxBatch, where, "batch");
    job->threads = static_cast<int>(arq::napi::int_value(env, info[2], 1, 256, where, "threads"));
    job->input = float_array(env, info[0], job->batch * net_->input_shape().size(), where, "input");
    claim(env, where);
    return arq::napi::PromiseWorker<PredictJob>::queue(env, where, std::move(job));
  }

  template <typename Select>
  Napi::Value copies(const Napi::CallbackInfo& info, const std::string& where, Select select) {
    check_idle(info.Env(), where);
    Napi::Array out = Napi::Array::New(info.Env());
    uint32_t next = 0;
    for (const Tensor& tensor : net_->tensors()) {
      const std::vector<float>& data = select(tensor);
      auto array = Napi::Float32Array::New(info.Env(), data.size());
      std::copy(data.begin(), data.end(), array.Data());
      out.Set(next++, array);
    }
    return out;
  }
  Napi::Value Tensors(const Napi::CallbackInfo& info) {
    return copies(info, "QatNet.tensors", [](const Tensor& t) -> const std::vector<float>& { return t.value; });
  }
  Napi::Value Grads(const Napi::CallbackInfo& info) {
    return copies(info, "QatNet.grads", [](const Tensor& t) -> const std::vector<float>& { return t.grad; });
  }
  Napi::Value Codes(const Napi::CallbackInfo& info) {
    check_idle(info.Env(), "QatNet.codes");
    Napi::Array out = Napi::Array::New(info.Env());
    uint32_t next = 0;
    for (const WeightCodes& layer : net_->codes()) {
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
  Napi::Value Classes(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), static_cast<double>(net_->classes())); }

  std::shared_ptr<QatNet> net_;
};

}  // namespace

void register_qat_bindings(Napi::Env env, Napi::Object exports) { exports.Set("QatNet", QatNetWrap::define(env)); }

}  // namespace arq::train
