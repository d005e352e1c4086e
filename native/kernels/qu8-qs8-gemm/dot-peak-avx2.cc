// qu8-qs8 dot-product peak loop, AVX2 (see peak.h): the inner operation of the 6x8c4 microkernel, vpmaddwd on
// widened s16 pairs (16 products) plus vpaddd into int32, over 12 independent ymm accumulators. Written as inline
// asm so the compiler adds no register moves or spills to the measured loop.
#include <cstdint>

namespace arq::kernels {

uint64_t qu8_qs8_dot_peak__avx2(uint64_t iterations) {
  if (iterations == 0) return 0;
  uint64_t count = iterations;
#define ARQ_MADD_ADD(T, ACC) \
  "vpmaddwd %%ymm15, %%ymm14, %%ymm" #T "\n\tvpaddd %%ymm" #T ", %%ymm" #ACC ", %%ymm" #ACC "\n\t"
  asm volatile(
      "vpcmpeqd %%ymm14, %%ymm14, %%ymm14\n\t"
      "vpabsw %%ymm14, %%ymm15\n\t"
      "1:\n\t"
      ARQ_MADD_ADD(12, 0) ARQ_MADD_ADD(13, 1) ARQ_MADD_ADD(12, 2) ARQ_MADD_ADD(13, 3)
      ARQ_MADD_ADD(12, 4) ARQ_MADD_ADD(13, 5) ARQ_MADD_ADD(12, 6) ARQ_MADD_ADD(13, 7)
      ARQ_MADD_ADD(12, 8) ARQ_MADD_ADD(13, 9) ARQ_MADD_ADD(12, 10) ARQ_MADD_ADD(13, 11)
      "dec %0\n\t"
      "jnz 1b\n\t"
      "vzeroupper\n\t"
      : "+r"(count)
      :
      : "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11",
        "xmm12", "xmm13", "xmm14", "xmm15");
#undef ARQ_MADD_ADD
  return iterations * 12 * 16 * 2;
}

}  // namespace arq::kernels
