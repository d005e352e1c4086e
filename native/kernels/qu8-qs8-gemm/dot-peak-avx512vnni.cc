// qu8-qs8 dot-product peak loop, AVX-512 VNNI (see peak.h): vpdpbusd on zmm (64 u8 x s8 products each) over 16
// independent accumulators, enough to cover its latency on every port that executes it. Written as inline asm so
// the compiler adds no register moves or spills to the measured loop.
#include <cstdint>

namespace arq::kernels {

uint64_t qu8_qs8_dot_peak__avx512vnni(uint64_t iterations) {
  if (iterations == 0) return 0;
  uint64_t count = iterations;
  asm volatile(
      "vpternlogd $0xff, %%zmm16, %%zmm16, %%zmm16\n\t"
      "vpabsb %%zmm16, %%zmm17\n\t"
      "1:\n\t"
      "vpdpbusd %%zmm17, %%zmm16, %%zmm0\n\t"
      "vpdpbusd %%zmm17, %%zmm16, %%zmm1\n\t"
      "vpdpbusd %%zmm17, %%zmm16, %%zmm2\n\t"
      "vpdpbusd %%zmm17, %%zmm16, %%zmm3\n\t"
      "vpdpbusd %%zmm17, %%zmm16, %%zmm4\n\t"
      "vpdpbusd %%zmm17, %%zmm16, %%zmm5\n\t"
      "vpdpbusd %%zmm17, %%zmm16, %%zmm6\n\t"
      "vpdpbusd %%zmm17, %%zmm16, %%zmm7\n\t"
      "vpdpbusd %%zmm17, %%zmm16, %%zmm8\n\t"
      "vpdpbusd %%zmm17, %%zmm16, %%zmm9\n\t"
      "vpdpbusd %%zmm17, %%zmm16, %%zmm10\n\t"
      "vpdpbusd %%zmm17, %%zmm16, %%zmm11\n\t"
      "vpdpbusd %%zmm17, %%zmm16, %%zmm12\n\t"
      "vpdpbusd %%zmm17, %%zmm16, %%zmm13\n\t"
      "vpdpbusd %%zmm17, %%zmm16, %%zmm14\n\t"
      "vpdpbusd %%zmm17, %%zmm16, %%zmm15\n\t"
      "dec %0\n\t"
      "jnz 1b\n\t"
      "vzeroupper\n\t"
      : "+r"(count)
      :
      : "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12",
        "xmm13", "xmm14", "xmm15", "xmm16", "xmm17");
  return iterations * 16 * 64 * 2;
}

}  // namespace arq::kernels
