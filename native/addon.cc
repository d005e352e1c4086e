// Module registration only: each concern binds its own functions (engine/bind.cc, kernels/bind.cc).
#include <napi.h>

#include "certify/bind.h"
#include "common/cpu.h"
#include "common/guard.h"
#include "common/memory_limit.h"
#include "common/napi_args.h"
#include "common/thread_pool.h"
#include "engine/bind.h"
#include "engine/int_bind.h"
#include "kernels/bind.h"
#include "noise/bind.h"
#include "train/bind.h"
#include "train/ibp_bind.h"
#include "train/qat_bind.h"

namespace {

// [sync] cpuInfo() -> { detected, active, threads }: ISA levels by name and the default thread count.
Napi::Value CpuInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("detected", arq::isa_name(arq::detected_isa()));
  out.Set("active", arq::isa_name(arq::active_isa()));
  out.Set("threads", arq::default_threads());
  return out;
}

// [sync] _setIsaCap(name): caps the ISA level for kernel configs chosen afterwards (tests, benchmarks).
// Throws TypeError on a non-string, RangeError on an unknown level.
Napi::Value SetIsaCap(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsString()) arq::napi::throw_type(info.Env(), "_setIsaCap", "expected a string");
  arq::Isa isa;
  if (!arq::parse_isa(info[0].As<Napi::String>().Utf8Value(), &isa)) {
    arq::napi::throw_range(info.Env(), "_setIsaCap", "expected scalar, avx2 or avx512vnni");
  }
  arq::set_isa_cap(isa);
  return info.Env().Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("cpuInfo", arq::napi::guarded_function<CpuInfo>(env, "cpuInfo", "cpuInfo"));
  exports.Set("defaultMaxMemory", Napi::Number::New(env, static_cast<double>(arq::kDefaultMemoryLimit)));
  exports.Set("_setIsaCap", arq::napi::guarded_function<SetIsaCap>(env, "_setIsaCap", "_setIsaCap"));
  arq::certify::register_bindings(env, exports);
  arq::engine::register_bindings(env, exports);
  arq::engine::register_int_bindings(env, exports);
  arq::kernels::register_f32_bindings(env, exports);
  arq::kernels::register_qu8_bindings(env, exports);
  arq::kernels::register_timing_bindings(env, exports);
  arq::noise::register_bindings(env, exports);
  arq::train::register_bindings(env, exports);
  arq::train::register_qat_bindings(env, exports);
  arq::train::register_ibp_bindings(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(arq, Init)
