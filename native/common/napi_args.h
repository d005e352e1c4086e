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
    throw_type(info.Env(), where,
               "expected " + std::to_string(count) + " arguments, got " + std::to_string(info.Length()));
  }
}

// An ISA level by name; a level above the CPU's throws RangeError "... not supported by this CPU ..." so tests can
// report it as skipped.
inline Isa isa_arg(const Napi::CallbackInfo& info, size_t index, const std::string& where) {
  if (info.Length() <= index || !info[index].IsString()) throw_type(info.Env(), where, "isa must be a string");
  const std::string text = info[index].As<Napi::String>().Utf8Value();
  Isa isa;
  if (!parse_isa(text, &isa))
    throw_range(info.Env(), where, "isa must be scalar, avx2 or avx512vnni, got '" + text + "'");
  if (static_cast<int>(isa) > static_cast<int>(detected_isa())) {
    throw_range(info.Env(), where,
                "isa " + text + " is not supported by this CPU (detected " + isa_name(detected_isa()) + ")");
  }
  return isa;
}

// Rejects arrays larger than `max_elements` before anything is allocated.
inline void check_elements(Napi::Env env, int64_t count, int64_t max_elements, const std::string& where,
                           const std::string& name) {
  if (count > max_elements) {
    throw_range(env, where,
                name + " would have " + std::to_string(count) + " elements, more than " + std::to_string(max_elements));
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
    throw_range(env, where,
                name + " must be in [" + std::to_string(min) + ", " + std::to_string(max) + "], got " +
                    std::to_string(static_cast<int64_t>(number)));
  }
  return static_cast<int64_t>(number);
}

inline int64_t int_field(const Napi::Object& object, const char* key, int64_t min, int64_t max,
                         const std::string& where) {
  return int_value(object.Env(), field(object, key, where), min, max, where, key);
}

inline double number_value(Napi::Env env, const Napi::Value& value, const std::string& where, const std::string& name) {
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

// Copies a typed array of element type T (napi type `type`, named `type_name` in messages) into an owned vector,
// checking its length when `expected` >= 0.
template <typename T>
std::vector<T> typed_array(Napi::Env env, const Napi::Value& value, napi_typedarray_type type, const char* type_name,
                           int64_t expected, const std::string& where, const std::string& name) {
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != type) {
    throw_type(env, where, name + " must be a " + type_name);
  }
  const auto array = value.As<Napi::TypedArrayOf<T>>();
  if (expected >= 0 && static_cast<int64_t>(array.ElementLength()) != expected) {
    throw_range(
        env, where,
        name + " must have " + std::to_string(expected) + " elements, got " + std::to_string(array.ElementLength()));
  }
  return std::vector<T>(array.Data(), array.Data() + array.ElementLength());
}

// Copies a Float32Array into an owned vector, checking its length when `expected` >= 0.
inline std::vector<float> float_array(Napi::Env env, const Napi::Value& value, int64_t expected,
                                      const std::string& where, const std::string& name) {
  return typed_array<float>(env, value, napi_float32_array, "Float32Array", expected, where, name);
}

// Copies an Int8Array into an owned vector.
inline std::vector<int8_t> int8_array(Napi::Env env, const Napi::Value& value, const std::string& where,
                                      const std::string& name) {
  return typed_array<int8_t>(env, value, napi_int8_array, "Int8Array", -1, where, name);
}

inline bool bool_arg(const Napi::CallbackInfo& info, size_t index, const std::string& where, const std::string& name) {
  if (info.Length() <= index || !info[index].IsBoolean()) throw_type(info.Env(), where, name + " must be a boolean");
  return info[index].As<Napi::Boolean>().Value();
}

// min and max of an output clamp at arguments `index` and `index + 1`: numbers (not NaN) with min <= max, integers
// within [0, 255] when `codes` (uint8 outputs; see RequantParams).
inline void min_max_args(const Napi::CallbackInfo& info, size_t index, const std::string& where, float* min, float* max,
                         bool codes = false) {
  const double lo = number_value(info.Env(), info[index], where, "min");
  const double hi = number_value(info.Env(), info[index + 1], where, "max");
  if (lo > hi) throw_range(info.Env(), where, "min must not exceed max");
  if (codes && (lo < 0 || hi > 255 || lo != std::floor(lo) || hi != std::floor(hi))) {
    throw_range(info.Env(), where, "min and max must be integer codes within [0, 255] for uint8 outputs");
  }
  *min = static_cast<float>(lo);
  *max = static_cast<float>(hi);
}

// The depthwise-convolution shape object {channels, inH, inW, outH, outW, kernelH, kernelW, strideH, strideW, padTop,
// padLeft} at argument `index`, read into a struct with the same fields in snake_case (kernels' DwconvShape and
// QDwconvShape): sizes in [1, max_dim], kernel and stride in [1, 1024], pads in [0, 1023] and smaller than the kernel,
// kernelH * kernelW <= max_taps, and every output window overlapping the image (as ONNX shape inference guarantees
// for pads < kernel).
template <typename Shape>
Shape dwconv_shape_arg(const Napi::CallbackInfo& info, size_t index, int64_t max_dim, int64_t max_taps,
                       const std::string& where) {
  Napi::Env env = info.Env();
  const Napi::Object shape_arg = object_arg(info, index, where + " shape");
  Shape s;
  s.channels = static_cast<size_t>(int_field(shape_arg, "channels", 1, max_dim, where));
  s.in_h = static_cast<size_t>(int_field(shape_arg, "inH", 1, max_dim, where));
  s.in_w = static_cast<size_t>(int_field(shape_arg, "inW", 1, max_dim, where));
  s.out_h = static_cast<size_t>(int_field(shape_arg, "outH", 1, max_dim, where));
  s.out_w = static_cast<size_t>(int_field(shape_arg, "outW", 1, max_dim, where));
  s.kernel_h = static_cast<size_t>(int_field(shape_arg, "kernelH", 1, 1024, where));
  s.kernel_w = static_cast<size_t>(int_field(shape_arg, "kernelW", 1, 1024, where));
  s.stride_h = static_cast<size_t>(int_field(shape_arg, "strideH", 1, 1024, where));
  s.stride_w = static_cast<size_t>(int_field(shape_arg, "strideW", 1, 1024, where));
  s.pad_top = static_cast<size_t>(int_field(shape_arg, "padTop", 0, 1023, where));
  s.pad_left = static_cast<size_t>(int_field(shape_arg, "padLeft", 0, 1023, where));
  if (s.pad_top >= s.kernel_h || s.pad_left >= s.kernel_w) {
    throw_range(env, where, "padTop/padLeft must be smaller than kernelH/kernelW");
  }
  if (static_cast<int64_t>(s.kernel_h * s.kernel_w) > max_taps) {
    throw_range(env, where, "kernelH * kernelW must not exceed " + std::to_string(max_taps));
  }
  if ((s.out_h - 1) * s.stride_h >= s.in_h + s.pad_top || (s.out_w - 1) * s.stride_w >= s.in_w + s.pad_left) {
    throw_range(env, where, "outH/outW too large for inH/inW, stride and padding");
  }
  return s;
}

inline std::vector<int64_t> int_array(Napi::Env env, const Napi::Value& value, size_t expected, int64_t min,
                                      int64_t max, const std::string& where, const std::string& name) {
  if (!value.IsArray()) throw_type(env, where, name + " must be an array");
  const auto array = value.As<Napi::Array>();
  if (array.Length() != expected) {
    throw_range(env, where,
                name + " must have " + std::to_string(expected) + " entries, got " + std::to_string(array.Length()));
  }
  std::vector<int64_t> out(expected);
  for (uint32_t i = 0; i < expected; ++i) {
    out[i] = int_value(env, array.Get(i), min, max, where, name + "[" + std::to_string(i) + "]");
  }
  return out;
}

}  // namespace arq::napi
