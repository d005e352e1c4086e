// The one guard of the addon's entry points. Every function and every ObjectWrap method, accessor and constructor
// is registered through it (guarded_function, GuardedWrap::method/accessor/construct), so argument copies and the
// work they feed run inside one try block: a C++ exception that is not already a JavaScript error becomes one that
// names the operation, instead of std::terminate taking the process down.
//   std::bad_alloc                        -> Error      "<operation>: out of memory"
//   arq::MemoryLimitError, std::length_error, std::out_of_range -> RangeError "<operation>: <what>"
//   std::invalid_argument                 -> Error      "<operation>: <what>"   (a plan or spec the core rejects)
//   any other std::exception              -> Error      "<operation>: <what>"
//   anything else                         -> Error      "<operation>: unknown native error"
// Napi::Error (TypeError/RangeError thrown by the argument readers) passes through unchanged. Async jobs get the same
// translation on their libuv thread (promise_worker.h uses native_error).
// In a stopping environment (a worker thread being terminated, the process exiting) Node-API calls fail and no
// JavaScript error can be thrown at all: the addon is built with NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS
// (CMakeLists.txt, binding.gyp), so node-addon-api drops that error instead of rethrowing it out of node's callback
// into std::terminate (test/native/stopping-env.test.ts).
#pragma once

#include <napi.h>

#include <exception>
#include <new>
#include <stdexcept>
#include <string>

#include "common/memory_limit.h"

namespace arq::napi {

// The message and kind of a C++ exception, for guard() and the async worker.
struct NativeError {
  std::string message;
  bool range = false;  // a RangeError (a size or a limit), else an Error
};

inline NativeError native_error(const std::string& operation, std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::bad_alloc&) {
    return {operation + ": out of memory", false};
  } catch (const MemoryLimitError& e) {
    return {operation + ": " + e.what(), true};
  } catch (const std::length_error& e) {
    return {operation + ": too large (" + e.what() + ")", true};
  } catch (const std::out_of_range& e) {
    return {operation + ": out of range (" + e.what() + ")", true};
  } catch (const std::exception& e) {
    return {operation + ": " + e.what(), false};
  } catch (...) {
    return {operation + ": unknown native error", false};
  }
}

// Runs body() and rethrows any C++ exception but a Napi::Error as a JavaScript error naming `operation`.
template <typename Body>
auto guard(Napi::Env env, const std::string& operation, Body&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    const NativeError error = native_error(operation, std::current_exception());
    if (error.range) throw Napi::RangeError::New(env, error.message);
    throw Napi::Error::New(env, error.message);
  }
}

using Binding = Napi::Value (*)(const Napi::CallbackInfo&);

template <Binding Fn>
Napi::Value guarded_call(const Napi::CallbackInfo& info) {
  return guard(info.Env(), static_cast<const char*>(info.Data()), [&] { return Fn(info); });
}

// A JavaScript function `name` running Fn inside the guard; `operation` (a string literal) names it in errors.
template <Binding Fn>
Napi::Function guarded_function(Napi::Env env, const char* name, const char* operation) {
  return Napi::Function::New<guarded_call<Fn>>(env, name, const_cast<char*>(operation));
}

// Base of every ObjectWrap of the addon: its methods and accessors are declared through method/accessor, and its
// constructor runs its body through construct, so no entry point of the class bypasses the guard.
template <typename T>
class GuardedWrap : public Napi::ObjectWrap<T> {
 public:
  using Method = Napi::Value (T::*)(const Napi::CallbackInfo&);

 protected:
  explicit GuardedWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<T>(info) {}

  // `operation` (a string literal, e.g. "FloatPlan.run") names the method in errors.
  template <Method M>
  static Napi::ClassPropertyDescriptor<T> method(const char* name, const char* operation) {
    return Napi::ObjectWrap<T>::InstanceMethod(name, &GuardedWrap::call<M>, napi_default, const_cast<char*>(operation));
  }
  template <Method M>
  static Napi::ClassPropertyDescriptor<T> accessor(const char* name, const char* operation) {
    return Napi::ObjectWrap<T>::InstanceAccessor(name, &GuardedWrap::call<M>, nullptr, napi_default,
                                                 const_cast<char*>(operation));
  }
  // The constructor's body (reading the spec, building the core object) inside the guard.
  template <typename Body>
  static void construct(const Napi::CallbackInfo& info, const std::string& operation, Body&& body) {
    guard(info.Env(), operation, [&] {
      body();
      return 0;
    });
  }

 private:
  template <Method M>
  Napi::Value call(const Napi::CallbackInfo& info) {
    return guard(info.Env(), static_cast<const char*>(info.Data()), [&] { return (static_cast<T*>(this)->*M)(info); });
  }
};

}  // namespace arq::napi
