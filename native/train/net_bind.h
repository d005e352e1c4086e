// What the TrainNet and QatNet bindings share (bind.cc, qat_bind.cc): NetBinding<Net> holds the native net and
// implements the methods both classes expose to JavaScript with the same arguments and results:
//   step(request)               [async] -> Promise<{ loss, correct }>: forward, backward and one SGD step.
//                               request: { input, labels, batch, threads, lr, momentum, weightDecay }
//   gradients(request)          [async] -> Promise<{ loss, correct }>: the same without the SGD step.
//                               request: { input, labels, batch, threads }
//   predict(input, batch, threads) [async] -> Promise<Float32Array> logits
//   tensor copies (tensors(), grads(), ...) [sync] -> Float32Array[]
//   classes                     [sync]
// A call while a job of the same net is running throws Error: the job owns the net until it finishes.
#pragma once

#include <napi.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

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

template <typename Net>
class NetBinding {
 public:
  static constexpr int64_t kMaxBatch = int64_t{1} << 20;

  // name: the JavaScript class, which prefixes every message.
  explicit NetBinding(std::string name) : name_(std::move(name)) {}

  // Builds the net; its std::exception becomes an Error "<name>: <what>".
  template <typename Spec>
  void create(Napi::Env env, Spec spec) {
    try {
      net_ = std::make_shared<Net>(std::move(spec));
    } catch (const std::exception& error) {
      throw Napi::Error::New(env, name_ + ": " + error.what());
    }
  }

  const Net& net() const { return *net_; }

  // Throws while a job of this net is running (synchronous readers).
  void check_idle(Napi::Env env, const std::string& where) const {
    if (net_->busy) throw Napi::Error::New(env, where + ": a job of this " + name_ + " is still running");
  }

  // step (update) or gradients.
  Napi::Value queue_batch(const Napi::CallbackInfo& info, const char* method, bool update) {
    using arq::napi::field;
    using arq::napi::int_field;
    using arq::napi::number_field;
    using arq::napi::throw_range;
    Napi::Env env = info.Env();
    const std::string where = name_ + "." + method;
    const Napi::Object request = arq::napi::object_arg(info, 0, where);
    auto job = std::make_unique<BatchJob>();
    job->net = net_;
    job->batch = int_field(request, "batch", 1, kMaxBatch, where);
    job->threads = static_cast<int>(int_field(request, "threads", 1, 256, where));
    job->input = arq::napi::float_array(env, field(request, "input", where), job->batch * net_->input_shape().size(),
                                        where, "input");
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

  Napi::Value predict(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const std::string where = name_ + ".predict";
    if (info.Length() < 3) arq::napi::throw_type(env, where, "expected (input, batch, threads)");
    auto job = std::make_unique<PredictJob>();
    job->net = net_;
    job->batch = arq::napi::int_value(env, info[1], 1, kMaxBatch, where, "batch");
    job->threads = static_cast<int>(arq::napi::int_value(env, info[2], 1, 256, where, "threads"));
    job->input = arq::napi::float_array(env, info[0], job->batch * net_->input_shape().size(), where, "input");
    claim(env, where);
    return arq::napi::PromiseWorker<PredictJob>::queue(env, where, std::move(job));
  }

  // Float32Array copies of select(tensor) for every tensor of the net (the trainable ones only when trainable_only).
  template <typename Select>
  Napi::Value copies(const Napi::CallbackInfo& info, const char* method, bool trainable_only, Select select) const {
    check_idle(info.Env(), name_ + "." + method);
    Napi::Array out = Napi::Array::New(info.Env());
    uint32_t next = 0;
    for (const Tensor& tensor : net_->tensors()) {
      if (trainable_only && !tensor.trainable) continue;
      const std::vector<float>& data = select(tensor);
      auto array = Napi::Float32Array::New(info.Env(), data.size());
      std::copy(data.begin(), data.end(), array.Data());
      out.Set(next++, array);
    }
    return out;
  }

  Napi::Value classes(const Napi::CallbackInfo& info) const {
    return Napi::Number::New(info.Env(), static_cast<double>(net_->classes()));
  }

 private:
  // Clears the net's busy flag when a job ends, however it ends.
  struct BusyRelease {
    std::shared_ptr<Net> net;
    ~BusyRelease() { net->busy = false; }
  };

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
      BusyRelease release{net};
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

  void claim(Napi::Env env, const std::string& where) {
    if (net_->busy.exchange(true)) throw Napi::Error::New(env, where + ": a job of this " + name_ + " is still running");
  }

  std::string name_;
  std::shared_ptr<Net> net_;
};

}  // namespace arq::train
