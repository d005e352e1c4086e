// Narrowing of requantized codes, AVX-512 (shared by the VNNI GEMM epilogue and the residual add). Include only from
// files built with the AVX-512 flags.
#pragma once

// GCC 12 flags _mm512_undefined_* inside its own intrinsics as maybe-uninitialized (GCC bug 105593).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <cstdint>

namespace arq::kernels {

// Four vectors of 16 codes each, rounded to int32 after the upper clamp in float (which also keeps cvtps_epi32 in
// range), as 64 bytes in memory order: two saturating packs, the dword transpose that undoes their per-lane
// interleave, and the lower clamp on bytes. The clamp bounds are integer codes (requant.h), so max(round(y), min) is
// round(max(y, min)); a value below 0 saturates to 0 and then rises to min, as the float clamp would.
inline __m512i pack_codes_clamp_below(const __m512i (&q)[4], uint8_t min) {
  const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  const __m512i bytes = _mm512_packus_epi16(_mm512_packs_epi32(q[0], q[1]), _mm512_packs_epi32(q[2], q[3]));
  return _mm512_max_epu8(_mm512_permutexvar_epi32(order, bytes), _mm512_set1_epi8(static_cast<char>(min)));
}

}  // namespace arq::kernels
