// Register-resident loops of the inner steps of the two sub-byte GEMM families that could take the place of vpdpbusd
// at low widths (see peak.h: the bound they put on such kernels). Inline asm, as dot-peak-avx512vnni.cc, so the
// compiler adds no moves or spills; the assembler accepts the VPOPCNTDQ and VBMI instructions without ISA flags, and
// the caller runs each loop only where the CPU has its extension.
#include <cstdint>

#include "kernels/qu8-qs8-gemm/peak.h"

namespace arq::kernels {

// One step of an accumulator: TMP = op(zmm17, zmm16), then ACC += TMP; 16 accumulators (zmm0-15), the temporaries
// alternate between zmm20 and zmm21 so consecutive steps do not wait on one register.
#define ARQ_LOWBIT_PEAK_16(count, STEP) \
  asm volatile(                                                                                                   \
      "vpternlogd $0xff, %%zmm16, %%zmm16, %%zmm16\n\t"                                                           \
      "vpabsb %%zmm16, %%zmm17\n\t"                                                                               \
      "1:\n\t" STEP(20, 0) STEP(21, 1) STEP(20, 2) STEP(21, 3) STEP(20, 4) STEP(21, 5) STEP(20, 6) STEP(21, 7)   \
          STEP(20, 8) STEP(21, 9) STEP(20, 10) STEP(21, 11) STEP(20, 12) STEP(21, 13) STEP(20, 14) STEP(21, 15) \
      "dec %0\n\t"                                                                                                \
      "jnz 1b\n\t"                                                                                                \
      "vzeroupper\n\t"                                                                                            \
      : "+r"(count)                                                                                               \
      :                                                                                                           \
      : "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11",    \
        "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm20", "xmm21")

uint64_t lowbit_peak_bitserial__avx512(uint64_t iterations) {
  if (iterations == 0) return 0;
  uint64_t count = iterations;
  // Bit-serial: AND of an activation plane word with 8 columns' weight plane words, popcount per 64-bit lane, add.
#define ARQ_AND_POPCNT_ADD(T, ACC)    \
  "vpandq %%zmm17, %%zmm16, %%zmm" #T \
  "\n\t"                              \
  "vpopcntq %%zmm" #T ", %%zmm" #T    \
  "\n\t"                              \
  "vpaddq %%zmm" #T ", %%zmm" #ACC ", %%zmm" #ACC "\n\t"
  ARQ_LOWBIT_PEAK_16(count, ARQ_AND_POPCNT_ADD);
#undef ARQ_AND_POPCNT_ADD
  return iterations * 16 * kLowbitBitSerialPlaneProducts;
}

uint64_t lowbit_peak_lut__avx512(uint64_t iterations) {
  if (iterations == 0) return 0;
  uint64_t count = iterations;
  // Table lookup: 64 byte lanes index one 64-entry table by 6 bits each, and add the entries to byte accumulators.
#define ARQ_PERMB_ADD(T, ACC)         \
  "vpermb %%zmm17, %%zmm16, %%zmm" #T \
  "\n\t"                              \
  "vpaddb %%zmm" #T ", %%zmm" #ACC ", %%zmm" #ACC "\n\t"
  ARQ_LOWBIT_PEAK_16(count, ARQ_PERMB_ADD);
#undef ARQ_PERMB_ADD
  return iterations * 16 * kLowbitLutPlaneProducts;
}

#undef ARQ_LOWBIT_PEAK_16

}  // namespace arq::kernels
