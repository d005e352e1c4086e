// Narrowing of requantized codes, AVX-512 (shared by the VNNI GEMM epilogue and the residual add). Include only from
// files built with the AVX-512 flags.
#pragma once

#include <cstdint>

#include "common/avx512-intrinsics.h"

namespace arq::kernels {

// An integer code bound (a clamp of requant.h or VaddParams, 0..255, held as a float) in every byte. Callers build it
// once, outside their loops: their stores may alias the parameters, so the compiler would convert it again per step.
inline __m512i code_bytes(float code) { return _mm512_set1_epi8(static_cast<char>(static_cast<uint8_t>(code))); }

// Four vectors of 16 codes each, rounded to int32 after the upper clamp in float (which also keeps cvtps_epi32 in
// range), as 64 bytes in memory order: two saturating packs, the dword transpose that undoes their per-lane
// interleave, and the lower clamp on bytes (min_bytes: code_bytes of the lower bound). The clamp bounds are integer
// codes, so max(round(y), min) is round(max(y, min)); a value below 0 saturates to 0 and then rises to min, as the
// float clamp would.
inline __m512i pack_codes_clamp_below(const __m512i (&q)[4], __m512i min_bytes) {
  const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  const __m512i bytes = _mm512_packus_epi16(_mm512_packs_epi32(q[0], q[1]), _mm512_packs_epi32(q[2], q[3]));
  return _mm512_max_epu8(_mm512_permutexvar_epi32(order, bytes), min_bytes);
}

}  // namespace arq::kernels
