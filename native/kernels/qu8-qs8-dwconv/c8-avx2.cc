// qu8-qs8-dwconv kernel, 8-channel tiles, AVX2: widening.h over 256-bit vectors (vpmulld on int32 lanes). Epilogue =
// requant.h: cvtepi32_ps, _mm256_fmadd_ps, max/min clamp, cvtps_epi32 (default MXCSR, nearest even), int32 -> uint8.
// The last tile covers channels % 8 with partial copies, so nothing past `channels` is read or written.
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/qu8-qs8-dwconv/qdwconv.h"
#include "kernels/qu8-qs8-dwconv/widening.h"

namespace arq::kernels {
namespace {

struct Avx2 {
  using I = __m256i;
  using F = __m256;
  using Mask = size_t;  // channels of the tile: kTile, or fewer in the last tile
  static constexpr size_t kTile = 8;
  static Mask lanes(size_t rest) { return rest < kTile ? rest : kTile; }
  static I load_x(const uint8_t* p, Mask count, bool masked) {
    uint64_t bytes = 0;
    std::memcpy(&bytes, p, masked ? count : sizeof(bytes));
    return _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(static_cast<long long>(bytes)));
  }
  static I load_w(const int8_t* p) {
    return _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
  }
  static F load_params(const float* p, Mask count) {
    const I mask =
        _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(count)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    return _mm256_maskload_ps(p, mask);
  }
  static void store(I acc, F m, F b, F lo, F hi, uint8_t* out, Mask count) {
    const F y = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc), m, b);
    const I q = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(y, lo), hi));
    const __m128i q16 = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
    const uint64_t bytes = static_cast<uint64_t>(_mm_cvtsi128_si64(_mm_packus_epi16(q16, q16)));
    std::memcpy(out, &bytes, count);
  }
  static I zero() { return _mm256_setzero_si256(); }
  static I add(I a, I b) { return _mm256_add_epi32(a, b); }
  static I sub(I a, I b) { return _mm256_sub_epi32(a, b); }
  static I mullo(I a, I b) { return _mm256_mullo_epi32(a, b); }
  static I set1_i(int32_t v) { return _mm256_set1_epi32(v); }
  static F set1_f(float v) { return _mm256_set1_ps(v); }
};

using Widening = QDwconvWidening<Avx2>;

}  // namespace

void qu8_qs8_dwconv_c8__avx2(const QDwconvShape& s, const uint8_t* input, size_t stride_in, uint8_t input_zero,
                             const int8_t* packed, uint8_t* output, size_t stride_out, const RequantParams& params) {
  Widening::run(s, input, stride_in, input_zero, packed, output, stride_out, params, Widening::interior_all<3, 3>,
                Widening::interior_all<5, 5>);
}

}  // namespace arq::kernels
