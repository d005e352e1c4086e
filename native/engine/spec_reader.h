// Reading plan descriptions from JavaScript (binding code only): the header and per-op fields the fp32 and
// integer plans share. Every reader throws TypeError/RangeError naming the plan, the op and the field.
#pragma once

#include <napi.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/napi_args.h"
#include "engine/float_plan.h"
#include "engine/geometry.h"
#include "engine/int_plan.h"
#include "engine/int_semantics.h"

namespace arq::engine {

// Reads input [c, h, w], values and output; returns the ops array. Refuses more than kMaxPlanOps ops, or more ops
// than values to compute, before any op is read.
Napi::Array read_plan_header(const Napi::Object& o, const std::string& where, Shape* input, int* values, int* output);
// The optional `maxMemory` field (bytes a single call of the plan may allocate, an integer >= 1 MiB), else
// kDefaultMemoryLimit.
int64_t read_memory_limit(const Napi::Object& o, const std::string& where);
// Reads one op's kind, inputs, output, clamp and structural fields; returns the op object for kind-specific reads.
Napi::Object read_geometry(const Napi::Value& value, OpGeometry& s, int values, const std::string& at);
// An integer plan's grid {scale, zero} (carrier, 8 bits) or {scale, zero, bits} (a layer's input grid).
Grid read_grid(const Napi::Value& value, const std::string& where, bool with_bits);
// The `grids` field: one carrier grid per plan value, null/undefined for float values.
std::vector<std::optional<Grid>> read_value_grids(const Napi::Object& o, const std::string& where, int values);
// A Float32Array field that may be absent or null (empty result).
std::vector<float> optional_floats(const Napi::Object& o, const char* key, const std::string& where);
// An fp32 plan's description as FloatPlan and the float IbpNet read it: the header, `maxMemory`, every op's geometry
// and, on conv/gemm ops, `weight` and the optional `bias`.
PlanSpec read_float_plan(const Napi::Object& o, const std::string& where);
// An integer plan's description as IntPlan and QatNet read it: the header, the value grids, every op's geometry and,
// on conv/gemm ops, `wbits`, `bias` and `inputGrid`. `weights(index, op, spec, at)` reads a conv/gemm op's weights
// first, which the two hold differently (codes and scales, or float weights to train).
using LayerWeightsReader =
    std::function<void(size_t index, const Napi::Object& op, IntOpSpec& spec, const std::string& at)>;
IntPlanSpec read_quantized_plan(const Napi::Object& o, const std::string& where, const LayerWeightsReader& weights);

}  // namespace arq::engine
