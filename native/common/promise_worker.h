// The one async pattern of the addon: a binding copies every JavaScript value into a plain job object, then
// queues it here and returns a Promise. execute() runs on a libuv thread and touches no JavaScript value (parallel
// work inside it goes to arq's own pool); result() builds the resolution value on the main thread. A
// std::exception thrown by execute() rejects the Promise with an Error naming the operation.
#pragma once

#include <napi.h>

#include <memory>
#include <string>
#include <utility>

namespace arq::napi {

template <typename Job>
class PromiseWorker : public Napi::AsyncWorker {
 public:
  static Napi::Promise queue(Napi::Env env, std::string operation, std::unique_ptr<Job> job) {
    auto* worker = new PromiseWorker(env, std::move(operation), std::move(job));  // owned by libuv's queue
    Napi::Promise promise = worker->deferred_.Promise();
    worker->Queue();
    return promise;
  }

 protected:
  void Execute() override {
    try {
      job_->execute();
    } catch (const std::exception& error) {
      SetError(operation_ + ": " + error.what());
    }
  }
  void OnOK() override {
    Napi::HandleScope scope(Env());
    try {
      deferred_.Resolve(job_->result(Env()));
    } catch (const Napi::Error& error) {
      deferred_.Reject(error.Value());
    }
  }
  void OnError(const Napi::Error& error) override { deferred_.Reject(error.Value()); }

 private:
  PromiseWorker(Napi::Env env, std::string operation, std::unique_ptr<Job> job)
      : Napi::AsyncWorker(env, operation.c_str()),
        deferred_(Napi::Promise::Deferred::New(env)),
        operation_(std::move(operation)),
        job_(std::move(job)) {}

  Napi::Promise::Deferred deferred_;
  std::string operation_;
  std::unique_ptr<Job> job_;
};

}  // namespace arq::napi
