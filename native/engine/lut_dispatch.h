// Which conv/gemm layers of an integer plan run on the table-lookup GEMM (qu8-qs8-lutgemm) instead of the int8
// qu8-qs8-gemm: the same codes either way (both compute sum A * W - correction exactly, then the same requant), so
// the choice is speed alone. The rule is a table measured with `npm run bench -- kernels --sections lowbit` (the
// lookup GEMM with its index packing against the int8 GEMM of the same level on the same shapes, docs/benchmarks.md
// "Table lookup in the integer plan"; `bench profile --lookup` shows it per layer in a network): per ISA level, the
// width pairs and the smallest output channels and depth at which lookup ran faster than the int8 path on every
// measured shape from there up; elsewhere the int8 path runs, so no layer is slower than it.
#pragma once

#include <cstddef>

#include "common/cpu.h"
#include "kernels/qu8-qs8-lutgemm/lutgemm.h"

namespace arq::engine {

// kMeasured: the table's rule. kAlways: every eligible layer (tests of the lookup path on every ISA level, and the
// benchmark that measures the table). kNever: the int8 path everywhere (the benchmark's other side).
enum class LutDispatch : int { kMeasured = 0, kAlways = 1, kNever = 2 };

// For plans built afterwards (a process-wide setting, as set_isa_cap).
void set_lut_dispatch(LutDispatch mode);
LutDispatch lut_dispatch();

// Whether a layer of a plan at ISA level `isa` (whose lookup kernel is lutgemm_config(isa)) with these widths, n
// output channels and depth k runs on the lookup GEMM under the current setting: false for widths the kernel lacks
// (wbits 2..kLutMaxWbits, abits 1..kLutMaxAbits), else per the setting (the scalar level has no table entries: it
// keeps the int8 reference path unless forced).
bool use_lookup(Isa isa, int wbits, int abits, size_t n, size_t k);

}  // namespace arq::engine
