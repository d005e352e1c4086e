#pragma once
#include <napi.h>

namespace arq::train {
// Adds `IbpNet`, IBP and QA-IBP training (ibp_bind.cc lists its methods).
void register_ibp_bindings(Napi::Env env, Napi::Object exports);
}  // namespace arq::train
