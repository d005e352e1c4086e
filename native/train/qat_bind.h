#pragma once
#include <napi.h>

namespace arq::train {
// Adds `QatNet`, quantization-aware training (qat_bind.cc lists its methods).
void register_qat_bindings(Napi::Env env, Napi::Object exports);
}  // namespace arq::train
