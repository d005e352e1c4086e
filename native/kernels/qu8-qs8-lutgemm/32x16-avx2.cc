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
  // words[p][slot(r)]: row r's plane p word. store's three unpack stages leave the row pair held at input pair
  // position P (rows 2P, 2P + 1 of words) at output pair 8 (P & 1) + (P >> 1); placing row pair R at position
  // 2 (R & 7) + (R >> 3) makes the output pairs come out in row order.
  static size_t slot(size_t r) {
    const size_t pair = r >> 1;
    return 2 * (2 * (pair & 7) + (pair >> 3)) + (r & 1);
  }
  // Per plane, a 32 x 8 byte transpose of the block's words: vpshufb interleaves each lane's two words byte by byte
  // (group q of both rows in word q), then 16-, 32- and 64-bit unpacks gather each group's 32 rows into one vector.
  static void store(const uint64_t (*words)[kRows], size_t planes, size_t groups, uint8_t* dst) {
    const __m256i pair_bytes = _mm256_setr_epi8(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15,  //
                                                0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15);
    for (size_t p = 0; p < planes; ++p) {
      __m256i a[8];
      for (int i = 0; i < 8; ++i) {
        a[i] = _mm256_shuffle_epi8(_mm256_load_si256(reinterpret_cast<const __m256i*>(words[p] + 4 * i)), pair_bytes);
      }
      __m256i s[2][4];  // [groups 0-3 / 4-7][j]
      for (int j = 0; j < 4; ++j) {
        s[0][j] = _mm256_unpacklo_epi16(a[2 * j], a[2 * j + 1]);
        s[1][j] = _mm256_unpackhi_epi16(a[2 * j], a[2 * j + 1]);
      }
      __m256i out[8];  // out[q]: group q's 32 rows
      for (int x = 0; x < 2; ++x) {
        const __m256i t00 = _mm256_unpacklo_epi32(s[x][0], s[x][1]), t01 = _mm256_unpacklo_epi32(s[x][2], s[x][3]);
        const __m256i t10 = _mm256_unpackhi_epi32(s[x][0], s[x][1]), t11 = _mm256_unpackhi_epi32(s[x][2], s[x][3]);
        out[4 * x + 0] = _mm256_unpacklo_epi64(t00, t01);
        out[4 * x + 1] = _mm256_unpackhi_epi64(t00, t01);
        out[4 * x + 2] = _mm256_unpacklo_epi64(t10, t11);
        out[4 * x + 3] = _mm256_unpackhi_epi64(t10, t11);
      }
      for (size_t q = 0; q < groups; ++q) {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + (q * planes + p) * kRows), out[q]);
      }
    }
  }
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
