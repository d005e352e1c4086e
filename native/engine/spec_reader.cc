// Reading plan descriptions from JavaScript (binding code): the fields the fp32 and integer plans share.
#include "engine/spec_reader.h"

#include <string>
#include <utility>

namespace arq::engine {
namespace {

using arq::napi::field;
using arq::napi::float_array;
using arq::napi::int_array;
using arq::napi::int_field;
using arq::napi::number_field;
using arq::napi::string_field;

constexpr int64_t kMaxDim = int64_t{1} << 24;

OpKind parse_kind(Napi::Env env, const std::string& name, const std::string& where) {
  static const std::pair<const char*, OpKind> kinds[] = {{"conv", OpKind::kConv},
                                                         {"gemm", OpKind::kGemm},
                                                         {"add", OpKind::kAdd},
                                                         {"clamp", OpKind::kClamp},
                                                         {"maxpool", OpKind::kMaxPool},
                                                         {"avgpool", OpKind::kAvgPool},
                                                         {"globalavgpool", OpKind::kGlobalAvgPool},
                                                         {"pad", OpKind::kPad},
                                                         {"elementwise", OpKind::kElementwise},
                                                         {"repeat", OpKind::kRepeat},
                                                         {"flatten", OpKind::kFlatten}};
  for (const auto& [text, kind] : kinds)
    if (name == text) return kind;
  arq::napi::throw_range(env, where, "unknown op '" + name + "'");
}

ElementwiseKind parse_elementwise(Napi::Env env, const std::string& name, const std::string& where) {
  if (name == "add") return ElementwiseKind::kAdd;
  if (name == "sub") return ElementwiseKind::kSub;
  if (name == "mul") return ElementwiseKind::kMul;
  if (name == "div") return ElementwiseKind::kDiv;
  arq::napi::throw_range(env, where, "unknown elementwise operation '" + name + "'");
}

void read_window(const Napi::Object& o, OpGeometry& s, const std::string& where, bool with_kernel) {
  Napi::Env env = o.Env();
  if (with_kernel) {
    const auto kernel = int_array(env, field(o, "kernel", where), 2, 1, 64, where, "kernel");
    s.kernel_h = kernel[0];
    s.kernel_w = kernel[1];
    const auto strides = int_array(env, field(o, "strides", where), 2, 1, 64, where, "strides");
    s.stride_h = strides[0];
    s.stride_w = strides[1];
  }
  const auto pads = int_array(env, field(o, "pads", where), 4, 0, 1024, where, "pads");
  std::copy(pads.begin(), pads.end(), s.pads);
}

void read_clamp(const Napi::Object& o, OpGeometry& s, const std::string& where) {
  if (!o.Has("clamp") || o.Get("clamp").IsUndefined() || o.Get("clamp").IsNull()) return;
  const Napi::Value value = o.Get("clamp");
  if (!value.IsArray() || value.As<Napi::Array>().Length() != 2)
    arq::napi::throw_type(o.Env(), where, "clamp must be [min, max]");
  const auto array = value.As<Napi::Array>();
  s.min = static_cast<float>(arq::napi::number_value(o.Env(), array.Get(0u), where, "clamp[0]"));
  s.max = static_cast<float>(arq::napi::number_value(o.Env(), array.Get(1u), where, "clamp[1]"));
}

}  // namespace

std::vector<float> optional_floats(const Napi::Object& o, const char* key, const std::string& where) {
  if (!o.Has(key) || o.Get(key).IsNull() || o.Get(key).IsUndefined()) return {};
  return float_array(o.Env(), o.Get(key), -1, where, key);
}

Napi::Array read_plan_header(const Napi::Object& o, const std::string& where, Shape* input, int* values, int* output) {
  Napi::Env env = o.Env();
  const auto dims = int_array(env, field(o, "input", where), 3, 1, kMaxDim, where, "input");
  *input = Shape{dims[0], dims[1], dims[2]};
  // The op count first, before any op (or the value count that follows from it) is read.
  const Napi::Value ops_value = field(o, "ops", where);
  if (!ops_value.IsArray()) arq::napi::throw_type(env, where, "ops must be an array");
  const Napi::Array ops = ops_value.As<Napi::Array>();
  if (ops.Length() > static_cast<uint32_t>(kMaxPlanOps)) {
    arq::napi::throw_range(env, where,
                           "the plan has " + std::to_string(ops.Length()) + " operators, more than the " +
                               std::to_string(kMaxPlanOps) + " arq supports");
  }
  *values = static_cast<int>(int_field(o, "values", 1, kMaxPlanOps + 1, where));
  *output = static_cast<int>(int_field(o, "output", 0, *values - 1, where));
  // Each op computes a new value.
  if (ops.Length() >= static_cast<uint32_t>(*values)) {
    arq::napi::throw_range(env, where,
                           "ops has " + std::to_string(ops.Length()) + " entries, more than the " +
                               std::to_string(*values - 1) + " values to compute");
  }
  return ops;
}

int64_t read_memory_limit(const Napi::Object& o, const std::string& where) {
  if (!o.Has("maxMemory") || o.Get("maxMemory").IsUndefined()) return kDefaultMemoryLimit;
  return arq::napi::int_value(o.Env(), o.Get("maxMemory"), int64_t{1} << 20, int64_t{1} << 53, where, "maxMemory");
}

Napi::Object read_geometry(const Napi::Value& value, OpGeometry& s, int values, const std::string& at) {
  Napi::Env env = value.Env();
  if (!value.IsObject()) arq::napi::throw_type(env, at, "must be an object");
  const auto op = value.As<Napi::Object>();
  s.kind = parse_kind(env, string_field(op, "op", at), at);
  if (op.Has("name") && !op.Get("name").IsUndefined()) s.name = string_field(op, "name", at);
  const Napi::Value inputs = field(op, "inputs", at);
  if (!inputs.IsArray()) arq::napi::throw_type(env, at, "inputs must be an array");
  const auto input_ids = int_array(env, inputs, inputs.As<Napi::Array>().Length(), 0, values - 1, at, "inputs");
  s.inputs.assign(input_ids.begin(), input_ids.end());
  s.output = static_cast<int>(int_field(op, "output", 1, values - 1, at));
  read_clamp(op, s, at);
  switch (s.kind) {
    case OpKind::kConv:
      read_window(op, s, at, true);
      s.group = int_field(op, "group", 1, kMaxDim, at);
      s.out_channels = int_field(op, "outChannels", 1, kMaxDim, at);
      break;
    case OpKind::kGemm:
      s.out_channels = int_field(op, "outFeatures", 1, kMaxDim, at);
      break;
    case OpKind::kMaxPool:
      read_window(op, s, at, true);
      break;
    case OpKind::kAvgPool: {
      read_window(op, s, at, true);
      const Napi::Value include = field(op, "countIncludePad", at);
      if (!include.IsBoolean()) arq::napi::throw_type(env, at, "countIncludePad must be a boolean");
      s.count_include_pad = include.As<Napi::Boolean>().Value();
      break;
    }
    case OpKind::kPad:
      read_window(op, s, at, false);
      s.pad_value = static_cast<float>(number_field(op, "value", at));
      break;
    case OpKind::kElementwise: {
      s.elementwise = parse_elementwise(env, string_field(op, "operation", at), at);
      s.constant = float_array(env, field(op, "constant", at), -1, at, "constant");
      const Napi::Value first = field(op, "constantFirst", at);
      if (!first.IsBoolean()) arq::napi::throw_type(env, at, "constantFirst must be a boolean");
      s.constant_first = first.As<Napi::Boolean>().Value();
      break;
    }
    case OpKind::kRepeat:
      s.repeat = int_field(op, "factor", 1, 4096, at);
      break;
    default:
      break;
  }
  return op;
}

Grid read_grid(const Napi::Value& value, const std::string& where, bool with_bits) {
  if (!value.IsObject())
    arq::napi::throw_type(value.Env(), where,
                          "a grid must be an object {scale, zero" + std::string(with_bits ? ", bits}" : "}"));
  const auto o = value.As<Napi::Object>();
  Grid grid;
  grid.scale = static_cast<float>(number_field(o, "scale", where));
  grid.bits = with_bits ? static_cast<int>(int_field(o, "bits", 2, 8, where)) : 8;
  grid.zero = static_cast<int32_t>(int_field(o, "zero", 0, (1 << grid.bits) - 1, where));
  return grid;
}

std::vector<std::optional<Grid>> read_value_grids(const Napi::Object& o, const std::string& where, int values) {
  const Napi::Value grids = field(o, "grids", where);
  if (!grids.IsArray() || grids.As<Napi::Array>().Length() != static_cast<uint32_t>(values)) {
    arq::napi::throw_type(o.Env(), where, "grids must be an array with one entry per value");
  }
  std::vector<std::optional<Grid>> out;
  for (uint32_t v = 0; v < static_cast<uint32_t>(values); ++v) {
    const Napi::Value grid = grids.As<Napi::Array>().Get(v);
    if (grid.IsNull() || grid.IsUndefined()) {
      out.emplace_back();
    } else {
      out.emplace_back(read_grid(grid, where + " grids[" + std::to_string(v) + "]", false));
    }
  }
  return out;
}

PlanSpec read_float_plan(const Napi::Object& o, const std::string& where) {
  PlanSpec spec;
  const Napi::Array ops = read_plan_header(o, where, &spec.input, &spec.values, &spec.output);
  spec.memory_limit = read_memory_limit(o, where);
  for (uint32_t i = 0; i < ops.Length(); ++i) {
    const std::string at = where + " op #" + std::to_string(i);
    OpSpec s;
    const Napi::Object op = read_geometry(ops.Get(i), s, spec.values, at);
    if (s.kind == OpKind::kConv || s.kind == OpKind::kGemm) {
      s.weight = arq::napi::float_array(o.Env(), arq::napi::field(op, "weight", at), -1, at, "weight");
      s.bias = optional_floats(op, "bias", at);
    }
    spec.ops.push_back(std::move(s));
  }
  return spec;
}

IntPlanSpec read_quantized_plan(const Napi::Object& o, const std::string& where, const LayerWeightsReader& weights) {
  IntPlanSpec spec;
  const Napi::Array ops = read_plan_header(o, where, &spec.input, &spec.values, &spec.output);
  spec.memory_limit = read_memory_limit(o, where);
  spec.grids = read_value_grids(o, where, spec.values);
  for (uint32_t i = 0; i < ops.Length(); ++i) {
    const std::string at = where + " op #" + std::to_string(i);
    IntOpSpec s;
    const Napi::Object op = read_geometry(ops.Get(i), s, spec.values, at);
    if (s.kind == OpKind::kConv || s.kind == OpKind::kGemm) {
      weights(i, op, s, at);
      s.wbits = static_cast<int>(int_field(op, "wbits", 2, 8, at));
      s.bias = optional_floats(op, "bias", at);
      s.input_grid = read_grid(field(op, "inputGrid", at), at + " inputGrid", true);
    }
    spec.ops.push_back(std::move(s));
  }
  return spec;
}

}  // namespace arq::engine
