#pragma once
#include <napi.h>

namespace arq::train {
// Adds `TrainNet`, the native trainer (bind.cc lists its methods).
void register_bindings(Napi::Env env, Napi::Object exports);
}  // namespace arq::train
