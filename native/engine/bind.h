#pragma once
#include <napi.h>

namespace arq::engine {
// Adds `FloatPlan`.
void register_bindings(Napi::Env env, Napi::Object exports);
}  // namespace arq::engine
