// CPU feature detection and the ISA level arq's kernels may use.
// The level is the best one the hardware supports, capped by the ARQ_ISA environment variable
// (scalar|avx2|avx512vnni) and by set_isa_cap() (tests and benchmarks compare levels in one process).
#pragma once

#include <string>

namespace arq {

enum class Isa : int { kScalar = 0, kAvx2 = 1, kAvx512Vnni = 2 };

// The best level this CPU and OS support (AVX2 means AVX2+FMA; AVX512VNNI means F, BW, VL, DQ and VNNI).
Isa detected_isa();
// detected_isa() capped by ARQ_ISA and set_isa_cap(): the level kernel configs are chosen for.
Isa active_isa();
void set_isa_cap(Isa cap);
// Whether the CPU has AVX-512 VBMI (byte permutes), an extension some kernels of the kAvx512Vnni level use when
// present (the level itself does not require it).
bool has_avx512_vbmi();
// Whether the CPU has AVX-512 VPOPCNTDQ (vector popcount of 32-/64-bit lanes), at the kAvx512Vnni level.
bool has_avx512_vpopcntdq();
const char* isa_name(Isa isa);
// Parses "scalar" | "avx2" | "avx512vnni"; returns false on anything else.
bool parse_isa(const std::string& text, Isa* out);

}  // namespace arq
