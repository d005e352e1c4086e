// f32-dwconv kernel, 8-channel tiles, AVX2 + FMA: tiles.h over 256-bit vectors, the tail through vmaskmovps.
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "kernels/f32-dwconv/f32-dwconv.h"
#include "kernels/f32-dwconv/tiles.h"

namespace arq::kernels {
namespace {

struct Avx2 {
  using Vec = __m256;
  using Mask = __m256i;
  static constexpr size_t kTile = 8;
  static Vec load(const float* p) { return _mm256_loadu_ps(p); }
  static Vec load_masked(const float* p, Mask m) { return _mm256_maskload_ps(p, m); }
  static void store(float* p, Vec v) { _mm256_storeu_ps(p, v); }
  static void store_masked(float* p, Mask m, Vec v) { _mm256_maskstore_ps(p, m, v); }
  static Vec fmadd(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
  static Vec clamp(Vec v, Vec lo, Vec hi) { return _mm256_min_ps(_mm256_max_ps(v, lo), hi); }
  static Vec set1(float x) { return _mm256_set1_ps(x); }
  // Lane j is enabled when j < rest.
  static Mask tail_mask(size_t rest) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int32_t>(rest)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
};

}  // namespace

void f32_dwconv_c8__avx2(const DwconvShape& s, const float* input, size_t channel_stride_in, const float* packed,
                         float* output, size_t channel_stride_out, float min, float max) {
  F32DwconvTiles<Avx2>::run(s, input, channel_stride_in, packed, output, channel_stride_out, min, max);
}

}  // namespace arq::kernels
