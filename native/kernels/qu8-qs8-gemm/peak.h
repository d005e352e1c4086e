// Register-resident integer dot-product loops that measure the peak a qu8-qs8-gemm microkernel could reach on this
// core (for the kernel benchmark; not used by the engine). Each runs `iterations` rounds over independent
// accumulators with no memory traffic and returns the operations done, counting one multiply-add of a u8 x s8 pair
// as 2 operations:
//   scalar: on x86-64, the baseline SSE2 pmaddwd + paddd on xmm (8 pair products each; 12 accumulators), since
//           the compiler vectorises the reference kernel with it; elsewhere 8 chains of int32 multiply-adds
//   avx2: vpmaddwd + vpaddd on ymm (16 pair products each; 12 accumulators)
//   avx512vnni: vpdpbusd on zmm (64 u8 x s8 products each; 16 accumulators)
#pragma once

#include <cstdint>

#include "common/cpu.h"

namespace arq::kernels {

// Runs the loop for `isa` (the caller checks the CPU supports it). Returns the operation count.
uint64_t qu8_qs8_dot_peak(Isa isa, uint64_t iterations);

}  // namespace arq::kernels
