// qu8 byte lookup y[i] = table[x[i]] with AVX-512 VBMI: the 256-byte table in four zmm registers, two vpermi2b (each
// indexes 128 entries by bits 0-6 of the code) and a blend on bit 7 per 64 codes. It replaces the float conversion
// of a carrier onto a layer's input grid (qu8_convert, about ten float operations per 16 codes) where the engine holds
// that conversion as a table (engine::conversion_table, equal to it by construction). Built with -mavx512vbmi and
// chosen only where the CPU has VBMI (elementwise_config).
#include <cstddef>
#include <cstdint>

#include "common/avx512-intrinsics.h"

namespace arq::kernels {

void qu8_lookup__avx512vbmi(size_t n, const uint8_t* x, uint8_t* y, const uint8_t* table) {
  const __m512i t0 = _mm512_loadu_si512(table);
  const __m512i t1 = _mm512_loadu_si512(table + 64);
  const __m512i t2 = _mm512_loadu_si512(table + 128);
  const __m512i t3 = _mm512_loadu_si512(table + 192);
  for (size_t i = 0; i < n; i += 64) {
    const __mmask64 mask = n - i >= 64 ? ~__mmask64{0} : (__mmask64{1} << (n - i)) - 1;
    const __m512i codes = _mm512_maskz_loadu_epi8(mask, x + i);
    const __m512i low = _mm512_permutex2var_epi8(t0, codes, t1);   // table[code] for codes 0..127
    const __m512i high = _mm512_permutex2var_epi8(t2, codes, t3);  // table[code] for codes 128..255
    _mm512_mask_storeu_epi8(y + i, mask, _mm512_mask_blend_epi8(_mm512_movepi8_mask(codes), low, high));
  }
}

}  // namespace arq::kernels
