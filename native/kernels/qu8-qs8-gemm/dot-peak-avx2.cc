// qu8-qs8 dot-product peak loop, AVX2 (see peak.h): the inner operation of the 6x8c4 microkernel, vpmaddwd on
// widened s16 pairs (16 products) plus vpaddd into int32, over 12 independent ymm accumulators. Written as inline
// asm so the compiler adds no register moves or spills to the measured loop.
#include <cstdint>

#include "kernels/qu8-qs8-gemm/peak.h"

namespace arq::kernels {

uint64_t qu8_qs8_dot_peak__avx2(uint64_t iterations) {
  if (iterations == 0) return 0;
  uint64_t count = iterations;
#define ARQ_MADD_ADD(T, ACC) \
  "vpmaddwd %%ymm15, %%ymm14, %%ymm" #T "\n\tvpaddd %%ymm" #T ", %%ymm" #ACC ", %%ymm" #ACC "\n\t"
  ARQ_DOT_PEAK_12(count, "vpcmpeqd %%ymm14, %%ymm14, %%ymm14\n\tvpabsw %%ymm14, %%ymm15\n\t", ARQ_MADD_ADD,
                  "vzeroupper\n\t");
#undef ARQ_MADD_ADD
  return iterations * 12 * 16 * 2;
}

}  // namespace arq::kernels
