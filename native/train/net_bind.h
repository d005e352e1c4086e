// The JavaScript class of a native net, shared by TrainNet (bind.cc) and QatNet (qat_bind.cc): NetWrap<Traits> is
// an ObjectWrap (every entry inside common/guard.h's guard) whose methods are the same for both nets except the one
// Traits adds (Traits::kExtra):
//   new <Name>(spec)            [sync]  Traits::read_spec, then the net's constructor; throws
//   TypeError/RangeError/Error net.step(request)           [async] -> Promise<{ loss, correct }>: forward, backward and
//   one SGD step.
//                               request: { input, labels, batch, threads, lr, momentum, weightDecay }
//   net.gradients(request)      [async] -> Promise<{ loss, correct }>: the same without the SGD step (read grads()).
//                               request: { input, labels, batch, threads }
//   net.predict(input, batch, threads) [async] -> Promise<Float32Array> logits
//   net.inputGradients(request) [async] -> Promise<{ logits, gradient }>: predict's logits and the gradient of each
//                               image's margin logit[target] - logit[label] with respect to its pixels (NCHW, like
//                               input). request: { input, labels, targets, batch, threads }; RangeError when a label
//                               or target lies outside [0, classes) or a target equals its label
//   net.tensors() / net.grads() [sync] -> Float32Array[] copies: every tensor / the gradients of the trainable ones
//   net.<Traits::kExtra>()      [sync] Traits::extra(env, net)
//   net.classes                 [sync]
// A call while a job of the same net is running throws Error: the job owns the net until it finishes.
//
// Traits: using Net (TrainNet or QatNet); static constexpr const char* kName (the class) and kExtra (the method);
//         static <Net's spec> read_spec(const Napi::Object&); static Napi::Value extra(Napi::Env, const Net&).
#pragma once

#include <napi.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "common/guard.h"
#include "common/napi_args.h"
#include "common/promise_worker.h"
#include "train/qat_net.h"
#include "train/train_net.h"

namespace arq::train {

// The gradient pass of a batch job; for the trainer a step (update) also moves the batch-norm running statistics.
inline BatchResult job_gradients(TrainNet& net, const float* input, const int32_t* labels, int64_t batch, int threads,
                                 bool update) {
  return net.gradients(input, labels, batch, threads, update);
}
inline BatchResult job_gradients(QatNet& net, const float* input, const int32_t* labels, int64_t batch, int threads,
                                 bool /*update*/) {
  return net.gradients(input, labels, batch, threads);
}

// Clears a net's busy flag when its job ends, however it ends (the job owns the net until then).
template <typename Net>
struct BusyRelease {
  std::shared_ptr<Net> net;
  ~BusyRelease() { net->busy = false; }
};

// Float32Array copies of select(tensor) for the tensors (the trainable ones only when trainable_only).
template <typename Select>
Napi::Array tensor_copies(Napi::Env env, const std::vector<Tensor>& tensors, bool trainable_only, Select select) {
  Napi::Array out = Napi::Array::New(env);
  uint32_t next = 0;
  for (const Tensor& tensor : tensors) {
    if (trainable_only && !tensor.trainable) continue;
    const std::vector<float>& data = select(tensor);
    auto array = Napi::Float32Array::New(env, data.size());
    std::copy(data.begin(), data.end(), array.Data());
    out.Set(next++, array);
  }
  return out;
}

template <typename Traits>
class NetWrap : public arq::napi::GuardedWrap<NetWrap<Traits>> {
  using Net = typename Traits::Net;
  using Guarded = arq::napi::GuardedWrap<NetWrap<Traits>>;

 public:
  static Napi::Function define(Napi::Env env) {
    // The guard's operation names ("TrainNet.step"), kept for the life of the process.
    static const std::string names[] = {qualified("step"),    qualified("gradients"),     qualified("predict"),
                                        qualified("tensors"), qualified("grads"),         qualified(Traits::kExtra),
                                        qualified("classes"), qualified("inputGradients")};
    return NetWrap::DefineClass(env, Traits::kName,
                                {Guarded::template method<&NetWrap::Step>("step", names[0].c_str()),
                                 Guarded::template method<&NetWrap::Gradients>("gradients", names[1].c_str()),
                                 Guarded::template method<&NetWrap::Predict>("predict", names[2].c_str()),
                                 Guarded::template method<&NetWrap::InputGradients>("inputGradients", names[7].c_str()),
                                 Guarded::template method<&NetWrap::Tensors>("tensors", names[3].c_str()),
                                 Guarded::template method<&NetWrap::Grads>("grads", names[4].c_str()),
                                 Guarded::template method<&NetWrap::Extra>(Traits::kExtra, names[5].c_str()),
                                 Guarded::template accessor<&NetWrap::Classes>("classes", names[6].c_str())});
  }

  explicit NetWrap(const Napi::CallbackInfo& info) : Guarded(info) {
    Guarded::construct(info, Traits::kName, [&] {
      net_ = std::make_shared<Net>(Traits::read_spec(arq::napi::object_arg(info, 0, Traits::kName)));
    });
  }

 private:
  static constexpr int64_t kMaxBatch = int64_t{1} << 20;

  Napi::Value Step(const Napi::CallbackInfo& info) { return queue_batch(info, "step", true); }
  Napi::Value Gradients(const Napi::CallbackInfo& info) { return queue_batch(info, "gradients", false); }
  Napi::Value Tensors(const Napi::CallbackInfo& info) {
    check_idle(info.Env(), "tensors");
    return tensor_copies(info.Env(), net_->tensors(), false,
                         [](const Tensor& t) -> const std::vector<float>& { return t.value; });
  }
  Napi::Value Grads(const Napi::CallbackInfo& info) {
    check_idle(info.Env(), "grads");
    return tensor_copies(info.Env(), net_->tensors(), true,
                         [](const Tensor& t) -> const std::vector<float>& { return t.grad; });
  }
  Napi::Value Extra(const Napi::CallbackInfo& info) {
    check_idle(info.Env(), Traits::kExtra);
    return Traits::extra(info.Env(), *net_);
  }
  Napi::Value Classes(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(net_->classes()));
  }

  // Throws while a job of this net is running (the synchronous readers).
  void check_idle(Napi::Env env, const char* method) const {
    if (net_->busy)
      throw Napi::Error::New(env, qualified(method) + ": a job of this " + Traits::kName + " is still running");
  }
  static std::string qualified(const char* method) { return std::string(Traits::kName) + "." + method; }

  // step (update) or gradients.
  Napi::Value queue_batch(const Napi::CallbackInfo& info, const char* method, bool update) {
    using arq::napi::field;
    using arq::napi::int_field;
    using arq::napi::number_field;
    using arq::napi::throw_range;
    Napi::Env env = info.Env();
    const std::string where = qualified(method);
    const Napi::Object request = arq::napi::object_arg(info, 0, where);
    auto job = std::make_unique<BatchJob>();
    job->net = net_;
    job->batch = int_field(request, "batch", 1, kMaxBatch, where);
    job->threads = static_cast<int>(int_field(request, "threads", 1, 256, where));
    job->input = arq::napi::float_array(env, field(request, "input", where), job->batch * net_->input_shape().size(),
                                        where, "input");
    job->labels = read_classes(env, request, "labels", job->batch, where);
    job->update = update;
    if (update) {
      job->sgd.lr = static_cast<float>(number_field(request, "lr", where));
      job->sgd.momentum = static_cast<float>(number_field(request, "momentum", where));
      job->sgd.weight_decay = static_cast<float>(number_field(request, "weightDecay", where));
      if (!(job->sgd.lr >= 0 && std::isfinite(job->sgd.lr))) throw_range(env, where, "lr must be finite and >= 0");
      if (!(job->sgd.momentum >= 0 && job->sgd.momentum < 1)) throw_range(env, where, "momentum must be in [0, 1)");
      if (!(job->sgd.weight_decay >= 0 && std::isfinite(job->sgd.weight_decay)))
        throw_range(env, where, "weightDecay must be finite and >= 0");
    }
    claim(env, where);
    return arq::napi::PromiseWorker<BatchJob>::queue(env, where, std::move(job));
  }

  // An Int32Array field of `batch` class indices in [0, classes).
  std::vector<int32_t> read_classes(Napi::Env env, const Napi::Object& request, const char* key, int64_t batch,
                                    const std::string& where) const {
    std::vector<int32_t> values = arq::napi::typed_array<int32_t>(env, arq::napi::field(request, key, where),
                                                                  napi_int32_array, "Int32Array", batch, where, key);
    for (int32_t value : values) {
      if (value < 0 || value >= net_->classes()) {
        arq::napi::throw_range(env, where,
                               std::string(key) + " must lie in [0, " + std::to_string(net_->classes()) + ")");
      }
    }
    return values;
  }

  Napi::Value InputGradients(const Napi::CallbackInfo& info) {
    using arq::napi::field;
    using arq::napi::int_field;
    Napi::Env env = info.Env();
    const std::string where = qualified("inputGradients");
    const Napi::Object request = arq::napi::object_arg(info, 0, where);
    auto job = std::make_unique<InputGradientJob>();
    job->net = net_;
    job->batch = int_field(request, "batch", 1, kMaxBatch, where);
    job->threads = static_cast<int>(int_field(request, "threads", 1, 256, where));
    job->input = arq::napi::float_array(env, field(request, "input", where), job->batch * net_->input_shape().size(),
                                        where, "input");
    job->labels = read_classes(env, request, "labels", job->batch, where);
    job->targets = read_classes(env, request, "targets", job->batch, where);
    for (int64_t b = 0; b < job->batch; ++b) {
      if (job->labels[b] == job->targets[b])
        arq::napi::throw_range(env, where, "targets[" + std::to_string(b) + "] equals its label");
    }
    claim(env, where);
    return arq::napi::PromiseWorker<InputGradientJob>::queue(env, where, std::move(job));
  }

  Napi::Value Predict(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const std::string where = qualified("predict");
    if (info.Length() < 3) arq::napi::throw_type(env, where, "expected (input, batch, threads)");
    auto job = std::make_unique<PredictJob>();
    job->net = net_;
    job->batch = arq::napi::int_value(env, info[1], 1, kMaxBatch, where, "batch");
    job->threads = static_cast<int>(arq::napi::int_value(env, info[2], 1, 256, where, "threads"));
    job->input = arq::napi::float_array(env, info[0], job->batch * net_->input_shape().size(), where, "input");
    claim(env, where);
    return arq::napi::PromiseWorker<PredictJob>::queue(env, where, std::move(job));
  }

  struct BatchJob {
    std::shared_ptr<Net> net;
    std::vector<float> input;
    std::vector<int32_t> labels;
    int64_t batch = 0;
    int threads = 1;
    bool update = false;  // step: SGD (and the trainer's running statistics)
    SgdParams sgd;
    BatchResult out;

    void execute() {
      BusyRelease<Net> release{net};
      out = job_gradients(*net, input.data(), labels.data(), batch, threads, update);
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
    std::shared_ptr<Net> net;
    std::vector<float> input;
    int64_t batch = 0;
    int threads = 1;
    std::vector<float> logits;

    void execute() {
      BusyRelease<Net> release{net};
      logits.resize(batch * net->classes());
      net->predict(input.data(), batch, logits.data(), threads);
    }
    Napi::Value result(Napi::Env env) {
      auto array = Napi::Float32Array::New(env, logits.size());
      std::copy(logits.begin(), logits.end(), array.Data());
      return array;
    }
  };

  struct InputGradientJob {
    std::shared_ptr<Net> net;
    std::vector<float> input;
    std::vector<int32_t> labels, targets;
    int64_t batch = 0;
    int threads = 1;
    std::vector<float> logits, gradient;

    void execute() {
      BusyRelease<Net> release{net};
      logits.resize(batch * net->classes());
      gradient.resize(input.size());
      net->input_gradients(input.data(), labels.data(), targets.data(), batch, threads, logits.data(), gradient.data());
    }
    Napi::Value result(Napi::Env env) {
      auto copy = [&](const std::vector<float>& data) {
        auto array = Napi::Float32Array::New(env, data.size());
        std::copy(data.begin(), data.end(), array.Data());
        return array;
      };
      Napi::Object object = Napi::Object::New(env);
      object.Set("logits", copy(logits));
      object.Set("gradient", copy(gradient));
      return object;
    }
  };

  void claim(Napi::Env env, const std::string& where) {
    if (net_->busy.exchange(true))
      throw Napi::Error::New(env, where + ": a job of this " + Traits::kName + " is still running");
  }

  std::shared_ptr<Net> net_;
};

}  // namespace arq::train
