#pragma once
#include <napi.h>

namespace arq::engine {
// Adds `IntPlan`.
void register_int_bindings(Napi::Env env, Napi::Object exports);
}  // namespace arq::engine
