// qu8-qs8-lutgemm microkernel, AVX2 (lutgemm.h, groups of 4): tiles.h over ymm, 32 rows per block, each group a
// 16-entry table broadcast to both 128-bit lanes and looked up by vpshufb; codes by requant.h (acc - correction,
// cvtepi32_ps, fmadd, max/min clamp, cvtps_epi32 under the default MXCSR, saturating packs); and its packer.
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/qu8-qs8-lutgemm/lutgemm.h"
#include "kernels/qu8-qs8-lutgemm/pack-rows.h"
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

// The packer's chunk (pack-rows.h): 32 codes, 8 groups of 4. Each half of 4 groups is broadcast to both 128-bit lanes
// and spread by vpshufb to one group per 8 bytes (4 codes, 4 zeros); per plane, a shift brings bit p of every byte
// to bit 7 and vpmovmskb collects them: byte q of the word is group q's 4 bits.
struct Avx2Planes {
  static constexpr size_t kGroup = 4;
  static constexpr size_t kRows = 32;
  static void planes(const uint8_t* src, size_t count, int abits, uint64_t* words) {
    alignas(32) uint8_t tail[32];
    if (count < 32) {  // a partial chunk: its codes, then zeros
      std::memset(tail, 0, sizeof tail);
      std::memcpy(tail, src, count);
      src = tail;
    }
    constexpr char z = -128;                                                                 // vpshufb writes 0
    const __m256i spread = _mm256_setr_epi8(0, 1, 2, 3, z, z, z, z, 4, 5, 6, 7, z, z, z, z,  //
                                            8, 9, 10, 11, z, z, z, z, 12, 13, 14, 15, z, z, z, z);
    const __m256i lo = _mm256_shuffle_epi8(
        _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src))), spread);
    const __m256i hi = _mm256_shuffle_epi8(
        _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 16))), spread);
    for (int p = 0; p < abits; ++p) {
      const __m128i shift = _mm_cvtsi32_si128(7 - p);
      const auto low = static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_sll_epi16(lo, shift)));
      const auto high = static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_sll_epi16(hi, shift)));
      words[p] = low | uint64_t{high} << 32;
    }
  }
};

}  // namespace

void qu8_qs8_lutgemm_pack_32__avx2(const uint8_t* const* rows, size_t m, const ptrdiff_t* tap_offsets, size_t taps,
                                   size_t tap_bytes, int abits, uint8_t* index) {
  pack_rows<Avx2Planes>(rows, m, tap_offsets, taps, tap_bytes, abits, index);
}

void qu8_qs8_lutgemm_ukernel_32x16__avx2(size_t m, size_t n, size_t groups, int abits, int flush, const uint8_t* index,
                                         const int8_t* tables, uint8_t* out, size_t ldc, const RequantParams& params) {
  LutTiles<Avx2>::ukernel(m, n, groups, abits, flush, index, tables, out, ldc, params);
}

}  // namespace arq::kernels
