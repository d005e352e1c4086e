// qu8-qs8-lutgemm microkernel, AVX2 (lutgemm.h, groups of 4): tiles.h over ymm, 32 rows per block, each group a
// 16-entry table broadcast to both 128-bit lanes and looked up by vpshufb; codes by requant.h (acc - correction,
// cvtepi32_ps, fmadd, max/min clamp, cvtps_epi32 under the default MXCSR, saturating packs).
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/qu8-qs8-lutgemm/lutgemm.h"
#include "kernels/qu8-qs8-lutgemm/tiles.h"

namespace arq::kernels {
namespace {

struct Avx2 {
  using Vec = __m256i;
  static constexpr size_t kRows = 32;
  static constexpr size_t kEntries = 16;
  static Vec zero() { return _mm256_setzero_si256(); }
  static Vec load(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static void store(uint8_t* p, Vec v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); }
  // The first n (<= 16) of the 16 codes at src.
  static void store_row(uint8_t* dst, const uint8_t* src, size_t n) {
    if (n == 16) {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), _mm_loadu_si128(reinterpret_cast<const __m128i*>(src)));
    } else {
      std::memcpy(dst, src, n);
    }
  }
  static Vec table(const int8_t* p) {
    return _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  static Vec lookup(Vec table, Vec idx) { return _mm256_shuffle_epi8(table, idx); }
  static Vec add8(Vec a, Vec b) { return _mm256_add_epi8(a, b); }
  static Vec add16(Vec a, Vec b) { return _mm256_add_epi16(a, b); }
  static Vec add32(Vec a, Vec b) { return _mm256_add_epi32(a, b); }
  static Vec shift32(Vec a, int p) { return _mm256_sll_epi32(a, _mm_cvtsi32_si128(p)); }
  // Half h (rows 16h .. 16h+15) of 32 bytes as int16; half h of 16 int16 as int32.
  static Vec widen8(Vec v, int h) {
    return _mm256_cvtepi8_epi16(h == 0 ? _mm256_castsi256_si128(v) : _mm256_extracti128_si256(v, 1));
  }
  static Vec widen16(Vec v, int h) {
    return _mm256_cvtepi16_epi32(h == 0 ? _mm256_castsi256_si128(v) : _mm256_extracti128_si256(v, 1));
  }
  static Vec unpacklo8(Vec a, Vec b) { return _mm256_unpacklo_epi8(a, b); }
  static Vec unpackhi8(Vec a, Vec b) { return _mm256_unpackhi_epi8(a, b); }
  static Vec unpacklo16(Vec a, Vec b) { return _mm256_unpacklo_epi16(a, b); }
  static Vec unpackhi16(Vec a, Vec b) { return _mm256_unpackhi_epi16(a, b); }
  static Vec unpacklo32(Vec a, Vec b) { return _mm256_unpacklo_epi32(a, b); }
  static Vec unpackhi32(Vec a, Vec b) { return _mm256_unpackhi_epi32(a, b); }
  static Vec unpacklo64(Vec a, Vec b) { return _mm256_unpacklo_epi64(a, b); }
  static Vec unpackhi64(Vec a, Vec b) { return _mm256_unpackhi_epi64(a, b); }
  // The 32 codes of one column from its int32 sums (acc[q]: rows 8q .. 8q+7).
  static Vec codes(const Vec (&acc)[4], int32_t correction, float multiplier, float bias, float min, float max) {
    const __m256i corr = _mm256_set1_epi32(correction);
    const __m256 vm = _mm256_set1_ps(multiplier);
    const __m256 vb = _mm256_set1_ps(bias);
    const __m256 vmin = _mm256_set1_ps(min);
    const __m256 vmax = _mm256_set1_ps(max);
    __m256i q[4];
    for (int v = 0; v < 4; ++v) {
      const __m256 y = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(acc[v], corr)), vm, vb);
      q[v] = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(y, vmin), vmax));
    }
    // packus leaves each lane's dwords as (rows 0-3 of q0, q1, q2, q3 | rows 4-7 of each): back to row order.
    const __m256i bytes = _mm256_packus_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
    return _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
  }
};

}  // namespace

void qu8_qs8_lutgemm_ukernel_32x16__avx2(size_t m, size_t n, size_t groups, int abits, int flush, const uint8_t* index,
                                         const int8_t* tables, uint8_t* out, size_t ldc, const RequantParams& params) {
  LutTiles<Avx2>::ukernel(m, n, groups, abits, flush, index, tables, out, ldc, params);
}

}  // namespace arq::kernels
