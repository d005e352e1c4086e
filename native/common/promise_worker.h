// The one async pattern of the addon: a binding copies every JavaScript value into a plain job object, then
// queues it here and returns a Promise. execute() runs on a libuv thread and touches no JavaScript value (parallel
// work inside it goes to arq's own pool); result() builds the resolution value on the main thread. Any exception
// thrown by execute() or result() rejects the Promise with the error guard.h would throw (naming the operation:
// "out of memory" for bad_alloc, a RangeError for a memory limit), never escaping into libuv or node.
#pragma once

#include <napi.h>

#include <exception>
#include <memory>
#include <string>
#include <utility>

#include "common/guard.h"

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
    } catch (...) {
      failure_ = native_error(operation_, std::current_exception());
      SetError(failure_.message);
    }
  }
  void OnOK() override {
    Napi::HandleScope scope(Env());
    try {
      deferred_.Resolve(guard(Env(), operation_, [&] { return job_->result(Env()); }));
    } catch (const Napi::Error& error) {
      deferred_.Reject(error.Value());
    }
  }
  void OnError(const Napi::Error& error) override {
    Napi::HandleScope scope(Env());
    deferred_.Reject(failure_.range ? Napi::RangeError::New(Env(), failure_.message).Value() : error.Value());
  }

 private:
  PromiseWorker(Napi::Env env, std::string operation, std::unique_ptr<Job> job)
      : Napi::AsyncWorker(env, operation.c_str()),
        deferred_(Napi::Promise::Deferred::New(env)),
        operation_(std::move(operation)),
        job_(std::move(job)) {}

  Napi::Promise::Deferred deferred_;
  std::string operation_;
  std::unique_ptr<Job> job_;
  NativeError failure_;  // set by Execute() on failure
};

}  // namespace arq::napi
