// qu8-qs8-lutgemm microkernel, AVX-512 VBMI (lutgemm.h, groups of 6): tiles.h over zmm, 64 rows per block, each group
// a 64-entry table looked up by vpermb; codes by the qu8-qs8-gemm fast path's arithmetic (pack_codes_clamp_below);
// and its packer.
#include <cstddef>
#include <cstdint>

#include "common/avx512-intrinsics.h"
#include "kernels/pack-avx512.h"
#include "kernels/qu8-qs8-lutgemm/lutgemm.h"
#include "kernels/qu8-qs8-lutgemm/pack-rows.h"
#include "kernels/qu8-qs8-lutgemm/tiles.h"

namespace arq::kernels {
namespace {

struct Vbmi {
  using Vec = __m512i;
  static constexpr size_t kRows = 64;
  static constexpr size_t kEntries = 64;
  static Vec zero() { return _mm512_setzero_si512(); }
  static Vec load(const uint8_t* p) { return _mm512_loadu_si512(p); }
  static void store(uint8_t* p, Vec v) { _mm512_storeu_si512(p, v); }
  // The first n (<= 16) of the 16 codes at src.
  static void store_row(uint8_t* dst, const uint8_t* src, size_t n) {
    _mm_mask_storeu_epi8(dst, static_cast<__mmask16>((1u << n) - 1),
                         _mm_loadu_si128(reinterpret_cast<const __m128i*>(src)));
  }
  static Vec table(const int8_t* p) { return _mm512_loadu_si512(p); }
  static Vec lookup(Vec table, Vec idx) { return _mm512_permutexvar_epi8(idx, table); }
  static Vec add8(Vec a, Vec b) { return _mm512_add_epi8(a, b); }
  static Vec add16(Vec a, Vec b) { return _mm512_add_epi16(a, b); }
  static Vec add32(Vec a, Vec b) { return _mm512_add_epi32(a, b); }
  static Vec shift32(Vec a, int p) { return _mm512_sll_epi32(a, _mm_cvtsi32_si128(p)); }
  // Half h (rows 32h .. 32h+31) of 64 bytes as int16; half h of 32 int16 as int32.
  static Vec widen8(Vec v, int h) {
    return _mm512_cvtepi8_epi16(h == 0 ? _mm512_castsi512_si256(v) : _mm512_extracti64x4_epi64(v, 1));
  }
  static Vec widen16(Vec v, int h) {
    return _mm512_cvtepi16_epi32(h == 0 ? _mm512_castsi512_si256(v) : _mm512_extracti64x4_epi64(v, 1));
  }
  static Vec unpacklo8(Vec a, Vec b) { return _mm512_unpacklo_epi8(a, b); }
  static Vec unpackhi8(Vec a, Vec b) { return _mm512_unpackhi_epi8(a, b); }
  static Vec unpacklo16(Vec a, Vec b) { return _mm512_unpacklo_epi16(a, b); }
  static Vec unpackhi16(Vec a, Vec b) { return _mm512_unpackhi_epi16(a, b); }
  static Vec unpacklo32(Vec a, Vec b) { return _mm512_unpacklo_epi32(a, b); }
  static Vec unpackhi32(Vec a, Vec b) { return _mm512_unpackhi_epi32(a, b); }
  static Vec unpacklo64(Vec a, Vec b) { return _mm512_unpacklo_epi64(a, b); }
  static Vec unpackhi64(Vec a, Vec b) { return _mm512_unpackhi_epi64(a, b); }
  // The 64 codes of one column from its int32 sums (acc[q]: rows 16q .. 16q+15).
  static Vec codes(const Vec (&acc)[4], int32_t correction, float multiplier, float bias, float min, float max) {
    const __m512i corr = _mm512_set1_epi32(correction);
    const __m512 vm = _mm512_set1_ps(multiplier);
    const __m512 vb = _mm512_set1_ps(bias);
    const __m512 vmax = _mm512_set1_ps(max);
    __m512i q[4];
    for (int v = 0; v < 4; ++v) {
      const __m512 y = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(acc[v], corr)), vm, vb);
      q[v] = _mm512_cvtps_epi32(_mm512_min_ps(vmax, y));  // (vmax, y): a NaN y ends at min, as in requant_code
    }
    return pack_codes_clamp_below(q, code_bytes(min));
  }
};

// The packer's chunk (pack-rows.h): 48 codes, 8 groups of 6, spread by vpermb to one group per 8 bytes (6 codes, 2
// zeros); per plane, vptestmb's mask has group q's 6 bits in its byte q.
struct VbmiPlanes : PlainStore64 {
  static void planes(const uint8_t* src, size_t count, int abits, uint64_t* words) {
    const __m512i codes = _mm512_maskz_loadu_epi8((__mmask64{1} << count) - 1, src);  // count <= 48
    alignas(64) static constexpr uint8_t kSpread[64] = {0,  1,  2,  3,  4,  5,  0, 0, 6,  7,  8,  9,  10, 11, 0, 0,
                                                        12, 13, 14, 15, 16, 17, 0, 0, 18, 19, 20, 21, 22, 23, 0, 0,
                                                        24, 25, 26, 27, 28, 29, 0, 0, 30, 31, 32, 33, 34, 35, 0, 0,
                                                        36, 37, 38, 39, 40, 41, 0, 0, 42, 43, 44, 45, 46, 47, 0, 0};
    const __m512i spread = _mm512_maskz_permutexvar_epi8(0x3F3F3F3F3F3F3F3Full, _mm512_load_si512(kSpread), codes);
    for (int p = 0; p < abits; ++p)
      words[p] = _mm512_test_epi8_mask(spread, _mm512_set1_epi8(static_cast<char>(1 << p)));
  }
};

}  // namespace

void qu8_qs8_lutgemm_pack_64__avx512vbmi(const uint8_t* const* rows, size_t m, const ptrdiff_t* tap_offsets,
                                         size_t taps, size_t tap_bytes, int abits, uint8_t* index) {
  pack_rows<VbmiPlanes>(rows, m, tap_offsets, taps, tap_bytes, abits, index);
}

void qu8_qs8_lutgemm_ukernel_64x16__avx512vbmi(size_t m, size_t n, size_t groups, int abits, int flush,
                                               const uint8_t* index, const int8_t* tables, uint8_t* out, size_t ldc,
                                               const RequantParams& params) {
  LutTiles<Vbmi>::ukernel(m, n, groups, abits, flush, index, tables, out, ldc, params);
}

}  // namespace arq::kernels
