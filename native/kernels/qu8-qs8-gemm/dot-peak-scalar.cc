// qu8-qs8 dot-product peak loop, scalar (see peak.h), and the dispatch over ISA levels and sub-byte families.
#include <cstdint>

#include "kernels/qu8-qs8-gemm/peak.h"

namespace arq::kernels {

uint64_t qu8_qs8_dot_peak__avx2(uint64_t iterations);
uint64_t qu8_qs8_dot_peak__avx512vnni(uint64_t iterations);
uint64_t lowbit_peak_bitserial__avx512(uint64_t iterations);
uint64_t lowbit_peak_lut__avx512(uint64_t iterations);

namespace {

#if defined(__x86_64__)
// The scalar level is the baseline x86-64 target, which includes SSE2, and the compiler vectorises the reference
// kernel's loops with it; so its peak is pmaddwd + paddd on xmm (8 pair products each), 12 accumulators.
uint64_t dot_peak_scalar(uint64_t iterations) {
  if (iterations == 0) return 0;
  uint64_t count = iterations;
#define ARQ_MADD_ADD(T, ACC) \
  "movdqa %%xmm14, %%xmm" #T "\n\tpmaddwd %%xmm15, %%xmm" #T "\n\tpaddd %%xmm" #T ", %%xmm" #ACC "\n\t"
  ARQ_DOT_PEAK_12(count, "pcmpeqd %%xmm14, %%xmm14\n\tmovdqa %%xmm14, %%xmm15\n\tpsrlw $1, %%xmm15\n\t", ARQ_MADD_ADD,
                  "");
#undef ARQ_MADD_ADD
  return iterations * 12 * 8 * 2;
}
#else
uint64_t dot_peak_scalar(uint64_t iterations) {
  constexpr int kAcc = 8;
  int32_t acc[kAcc];
  for (int j = 0; j < kAcc; ++j) acc[j] = j;
  int32_t a = 200, b = -100;
  // The empty asm keeps the operands opaque, so the loop is neither folded nor vectorised.
  asm volatile("" : "+r"(a), "+r"(b));
  for (uint64_t it = 0; it < iterations; ++it) {
    // One multiply-add per accumulator and round (modulo 2^32), 8 independent chains.
    for (int j = 0; j < kAcc; ++j) {
      const uint32_t v = static_cast<uint32_t>(acc[j]) * static_cast<uint32_t>(a) + static_cast<uint32_t>(b);
      acc[j] = static_cast<int32_t>(v);
    }
    asm volatile(""
                 : "+r"(acc[0]), "+r"(acc[1]), "+r"(acc[2]), "+r"(acc[3]), "+r"(acc[4]), "+r"(acc[5]), "+r"(acc[6]),
                   "+r"(acc[7]));
  }
  int32_t sum = 0;
  for (int j = 0; j < kAcc; ++j) sum ^= acc[j];
  asm volatile("" : : "r"(sum));
  return iterations * kAcc * 2;
}
#endif

}  // namespace

uint64_t qu8_qs8_dot_peak(Isa isa, uint64_t iterations) {
  switch (isa) {
    case Isa::kAvx512Vnni:
      return qu8_qs8_dot_peak__avx512vnni(iterations);
    case Isa::kAvx2:
      return qu8_qs8_dot_peak__avx2(iterations);
    case Isa::kScalar:
      break;
  }
  return dot_peak_scalar(iterations);
}

bool lowbit_family_supported(LowbitFamily family) {
  return family == LowbitFamily::kBitSerial ? has_avx512_vpopcntdq() : has_avx512_vbmi();
}

uint64_t lowbit_peak(LowbitFamily family, uint64_t iterations) {
  return family == LowbitFamily::kBitSerial ? lowbit_peak_bitserial__avx512(iterations)
                                            : lowbit_peak_lut__avx512(iterations);
}

}  // namespace arq::kernels
