#include "common/cpu.h"

#include <atomic>
#include <cstdlib>

namespace arq {
namespace {

Isa probe() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  // libgcc's probe also checks that the OS saves the wider register state (XGETBV).
  const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
                      __builtin_cpu_supports("avx512vnni");
  if (avx512) return Isa::kAvx512Vnni;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::kAvx2;
#endif
  return Isa::kScalar;
}

Isa env_cap() {
  const char* text = std::getenv("ARQ_ISA");
  Isa cap = Isa::kAvx512Vnni;
  if (text != nullptr && *text != '\0') parse_isa(text, &cap);
  return cap;
}

std::atomic<int> g_cap{static_cast<int>(Isa::kAvx512Vnni)};

}  // namespace

Isa detected_isa() {
  static const Isa isa = probe();
  return isa;
}

Isa active_isa() {
  static const Isa env = env_cap();
  int level = static_cast<int>(detected_isa());
  if (static_cast<int>(env) < level) level = static_cast<int>(env);
  const int cap = g_cap.load(std::memory_order_relaxed);
  if (cap < level) level = cap;
  return static_cast<Isa>(level);
}

bool has_avx512_vbmi() {
#if defined(__x86_64__) || defined(__i386__)
  static const bool vbmi = detected_isa() == Isa::kAvx512Vnni && __builtin_cpu_supports("avx512vbmi");
  return vbmi;
#else
  return false;
#endif
}

bool has_avx512_vpopcntdq() {
#if defined(__x86_64__) || defined(__i386__)
  static const bool vpopcntdq = detected_isa() == Isa::kAvx512Vnni && __builtin_cpu_supports("avx512vpopcntdq");
  return vpopcntdq;
#else
  return false;
#endif
}

void set_isa_cap(Isa cap) { g_cap.store(static_cast<int>(cap), std::memory_order_relaxed); }

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::kScalar:
      return "scalar";
    case Isa::kAvx2:
      return "avx2";
    case Isa::kAvx512Vnni:
      return "avx512vnni";
  }
  return "unknown";
}

bool parse_isa(const std::string& text, Isa* out) {
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512Vnni}) {
    if (text == isa_name(isa)) {
      *out = isa;
      return true;
    }
  }
  return false;
}

}  // namespace arq
