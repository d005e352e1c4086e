#pragma once
#include <napi.h>

#include "engine/clip_search.h"

namespace arq::engine {
// Adds `IntPlan`, `quantizeWeights` and `activationGrid`.
void register_int_bindings(Napi::Env env, Napi::Object exports);
// { codes: Int8Array, scales: Float32Array } of one layer's weight codes (quantizeWeights, QatNet.codes).
Napi::Object weight_codes_object(Napi::Env env, const WeightCodes& codes);
}  // namespace arq::engine
