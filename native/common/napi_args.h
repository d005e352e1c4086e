// Argument readers for binding code (never included by cores). Every native entry re-checks what JavaScript hands
// it, because the addon can be called directly: wrong types throw TypeError, out-of-range values RangeError, and
// each message names the operation and the argument.
#pragma once

#include <napi.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "common/cpu.h"

namespace arq::napi {

[[noreturn]] inline void throw_type(Napi::Env env, const std::string& where, const std::string& what) {
  throw Napi::TypeError::New(env, where + ": " + what);
}
[[noreturn]] inline void throw_range(Napi::Env env, const std::string& where, const std::string& what) {
  throw Napi::RangeError::New(env, where + ": " + what);
}

inline void expect_args(const Napi::CallbackInfo& info, size_t count, const std::string& where) {
  if (info.Length() < count) {
    throw_type(info.Env(), where, "expected " + std::to_string(count) + " arguments, got " + std::to_string(info.Length()));
  }
}

// An ISA level by name; a level above the CPU's throws RangeError "... not supported by this CPU ..." so tests can
// report it as skipped.
inline Isa isa_arg(const Napi::CallbackInfo& info, size_t index, const std::string& where) {
  if (info.Length() <= index || !info[index].IsString()) throw_type(info.Env(), where, "isa must be a string");
  const std::string text = info[index].As<Napi::String>().Utf8Value();
  Isa isa;
  if (!parse_isa(text, &isa)) throw_range(info.Env(), where, "isa must be scalar, avx2 or avx512vnni, got '" + text + "'");
  if (static_cast<int>(isa) > static_cast<int>(detected_isa())) {
    throw_range(info.Env(), where, "isa " + text + " is not supported by this CPU (detected " + isa_name(detected_isa()) + ")");
  }
  return isa;
}

// Rejects arrays larger than `max_elements` before anything is allocated.
inline void check_elements(Napi::Env env, int64_t count, int64_t max_elements, const std::string& where, const std::string& name) {
  if (count > max_elements) {
    throw_range(env, where, name + " would have " + std::to_string(count) + " elements, more than " + std::to_string(max_elements));
  }
}

inline Napi::Object object_arg(const Napi::CallbackInfo& info, size_t index, const std::string& where) {
  if (info.Length() <= index || !info[index].IsObject()) {
    throw_type(info.Env(), where, "argument " + std::to_string(index) + " must be an object");
  }
  return info[index].As<Napi::Object>();
}

inline Napi::Value field(const Napi::Object& object, const char* key, const std::string& where) {
  if (!object.Has(key)) throw_type(object.Env(), where, std::string("missing field '") + key + "'");
  return object.Get(key);
}

inline int64_t int_value(Napi::Env env, const Napi::Value& value, int64_t min, int64_t max, const std::string& where,
                         const std::string& name) {
  if (!value.IsNumber()) throw_type(env, where, name + " must be a number");
  const double number = value.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(number) || std::floor(number) != number) throw_type(env, where, name + " must be an integer");
  if (number < static_cast<double>(min) || number > static_cast<double>(max)) {
    throw_range(env, where, name + " must be in [" + std::to_string(min) + ", " + std::to_string(max) + "], got " +
                                std::to_string(static_cast<int64_t>(number)));
  }
  return static_cast<int64_t>(number);
}

inline int64_t int_field(const Napi::Object& object, const char* key, int64_t min, int64_t max,
                         const std::string& where) {
  return int_value(object.Env(), field(object, key, where), min, max, where, key);
}

inline double number_value(Napi::Env env, const Napi::Value& value, const std::string& where,
                           const std::string& name) {
  if (!value.IsNumber()) throw_type(env, where, name + " must be a number");
  const double number = value.As<Napi::Number>().DoubleValue();
  if (std::isnan(number)) throw_range(env, where, name + " must not be NaN");
  return number;
}

inline double number_field(const Napi::Object& object, const char* key, const std::string& where) {
  return number_value(object.Env(), field(object, key, where), where, key);
}

inline std::string string_field(const Napi::Object& object, const char* key, const std::string& where) {
  const Napi::Value value = field(object, key, where);
  if (!value.IsString()) throw_type(object.Env(), where, std::string(key) + " must be a string");
  return value.As<Napi::String>().Utf8Value();
}

// Copies a Float32Array into an owned vector, checking its length when `expected` >= 0.
inline std::vector<float> float_array(Napi::Env env, const Napi::Value& value, int64_t expected,
                                      const std::string& where, const std::string& name) {
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    throw_type(env, where, name + " must be a Float32Array");
  }
  const auto array = value.As<Napi::Float32Array>();
  if (expected >= 0 && static_cast<int64_t>(array.ElementLength()) != expected) {
    throw_range(env, where, name + " must have " + std::to_string(expected) + " elements, got " +
                                std::to_string(array.ElementLength()));
  }
  return std::vector<float>(array.Data(), array.Data() + array.ElementLength());
}

// Copies an Int8Array into an owned vector.
inline std::vector<int8_t> int8_array(Napi::Env env, const Napi::Value& value, const std::string& where,
                                      const std::string& name) {
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_int8_array) {
    throw_type(env, where, name + " must be an Int8Array");
  }
  const auto array = value.As<Napi::Int8Array>();
  return std::vector<int8_t>(array.Data(), array.Data() + array.ElementLength());
}

inline std::vector<int64_t> int_array(Napi::Env env, const Napi::Value& value, size_t expected, int64_t min,
                                      int64_t max, const std::string& where, const std::string& name) {
  if (!value.IsArray()) throw_type(env, where, name + " must be an array");
  const auto array = value.As<Napi::Array>();
  if (array.Length() != expected) {
    throw_range(env, where, name + " must have " + std::to_string(expected) + " entries, got " +
                                std::to_string(array.Length()));
  }
  std::vector<int64_t> out(expected);
  for (uint32_t i = 0; i < expected; ++i) {
    out[i] = int_value(env, array.Get(i), min, max, where, name + "[" + std::to_string(i) + "]");
  }
  return out;
}

}  // namespace arq::napi
