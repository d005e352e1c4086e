// qu8 residual add with AVX-512 VBMI, equal to scalar.cc bit for bit: 64 codes of each operand per step, each group
// of 16 widened to floats by one vpermt2b instead of a zero extension and a conversion. The permute places code q in
// the low byte of a dword whose other bytes come from 0x4B000000, which is the float 2^23 + q (exact below 2^23);
// subtracting 2^23 + zero point then gives float(q - zero) exactly, as the scalar form's conversion does. Per 16 codes
// that is 2 operations fewer of the 13 the AVX-512 kernel spends (docs/benchmarks.md). The tail (under 64 codes) runs
// the AVX-512 kernel. Built with -mavx512vbmi and chosen only where the CPU has
// VBMI (elementwise_config).
#include <cstddef>
#include <cstdint>

#include "common/avx512-intrinsics.h"
#include "kernels/pack-avx512.h"
#include "kernels/qu8-elementwise/elementwise.h"

namespace arq::kernels {

void qu8_vadd__avx512(size_t n, const uint8_t* a, const uint8_t* b, uint8_t* y, const VaddParams& p);

namespace {
// vpermt2b indices for codes 16k .. 16k + 15 of the first source: byte 0 of each dword the code, bytes 1 and 2 byte 0
// of the second source (0x00), byte 3 its byte 3 (0x4B).
__m512i widen_index(int k) {
  alignas(64) uint8_t index[64];
  for (int j = 0; j < 16; ++j) {
    index[4 * j] = static_cast<uint8_t>(16 * k + j);
    index[4 * j + 1] = index[4 * j + 2] = 64;
    index[4 * j + 3] = 67;
  }
  return _mm512_load_si512(index);
}
}  // namespace

void qu8_vadd__avx512vbmi(size_t n, const uint8_t* a, const uint8_t* b, uint8_t* y, const VaddParams& p) {
  constexpr float kTwo23 = 8388608.0f;
  const __m512i magic = _mm512_set1_epi32(0x4B000000);  // the float 2^23
  const __m512 as = _mm512_set1_ps(p.a_scale), a_off = _mm512_set1_ps(kTwo23 + p.a_zero);
  const __m512 bs = _mm512_set1_ps(p.b_scale), b_off = _mm512_set1_ps(kTwo23 + p.b_zero);
  const __m512 inv = _mm512_set1_ps(p.inv_scale), zero = _mm512_set1_ps(p.zero);
  const __m512 hi = _mm512_set1_ps(p.max);
  const __m512i min_bytes = code_bytes(p.min);
  const __m512i index[4] = {widen_index(0), widen_index(1), widen_index(2), widen_index(3)};
  size_t i = 0;
  for (; n - i >= 64; i += 64) {
    const __m512i va = _mm512_loadu_si512(a + i), vb = _mm512_loadu_si512(b + i);
    __m512i q[4];
    for (size_t k = 0; k < 4; ++k) {
      const __m512 fa = _mm512_sub_ps(_mm512_castsi512_ps(_mm512_permutex2var_epi8(va, index[k], magic)), a_off);
      const __m512 fb = _mm512_sub_ps(_mm512_castsi512_ps(_mm512_permutex2var_epi8(vb, index[k], magic)), b_off);
      const __m512 sum = _mm512_fmadd_ps(_mm512_add_ps(_mm512_mul_ps(as, fa), _mm512_mul_ps(bs, fb)), inv, zero);
      q[k] = _mm512_cvtps_epi32(_mm512_min_ps(hi, sum));
    }
    _mm512_storeu_si512(y + i, pack_codes_clamp_below(q, min_bytes));
  }
  if (i < n) qu8_vadd__avx512(n - i, a + i, b + i, y + i, p);
}

}  // namespace arq::kernels
