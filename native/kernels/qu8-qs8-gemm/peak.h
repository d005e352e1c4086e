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

#if defined(__x86_64__)
// The 12-accumulator loop of the scalar (SSE2) and AVX2 levels as one inline-asm statement: SETUP sets the operands
// up, then each of `count` rounds runs STEP(T, ACC) for accumulators ACC = 0..11 (temporaries T = 12 and 13 in turn),
// and EXIT runs once at the end; xmm0-15 (and their ymm halves) are clobbered. Only the statement's frame is here:
// the instructions (SETUP, STEP, EXIT) stay in the file built for their level.
#define ARQ_DOT_PEAK_12(count, SETUP, STEP, EXIT)                                                                 \
  asm volatile(SETUP "1:\n\t" STEP(12, 0) STEP(13, 1) STEP(12, 2) STEP(13, 3) STEP(12, 4) STEP(13, 5) STEP(12, 6) \
                   STEP(13, 7) STEP(12, 8) STEP(13, 9) STEP(12, 10) STEP(13, 11) "dec %0\n\tjnz 1b\n\t" EXIT      \
               : "+r"(count)                                                                                      \
               :                                                                                                  \
               : "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",   \
                 "xmm11", "xmm12", "xmm13", "xmm14", "xmm15")
#endif
