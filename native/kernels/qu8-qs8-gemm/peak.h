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

// The inner steps of the two sub-byte GEMM families that could replace vpdpbusd at low widths, as register-resident
// loops on zmm (16 accumulators), for the bound bench/kernels.ts derives from them (docs/benchmarks.md). Each returns
// the bit-plane products done: one product of one activation bit by one weight bit (bit-serial), or of one activation
// bit by one weight code of up to 4 bits (table lookup). A W_w A_a multiply-add costs w * a bit-serial plane
// products or a table-lookup ones (the tables hold sums of weight codes, indexed by activation bits).
//   bitserial (AVX-512 VPOPCNTDQ): vpandq + vpopcntq + vpaddq: 8 columns x 64 k positions of one plane pair.
//   lut (AVX-512 VBMI): vpermb + vpaddb: 64 rows, each indexing a 64-entry table of one column by the 6 bits of 6
//       k positions of one activation plane.
enum class LowbitFamily { kBitSerial, kLut };
constexpr uint64_t kLowbitBitSerialPlaneProducts = 8 * 64;  // per vpopcntq
constexpr uint64_t kLowbitLutPlaneProducts = 64 * 6;        // per vpermb
// Whether this CPU runs the family's loop (AVX-512 VNNI level and the family's extension).
bool lowbit_family_supported(LowbitFamily family);
// Runs the family's loop (the caller checks lowbit_family_supported). Returns the plane products done.
uint64_t lowbit_peak(LowbitFamily family, uint64_t iterations);

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
