// f32-dwconv kernel, 16-channel tiles, AVX-512F: tiles.h over 512-bit vectors, the tail through a lane mask.
// Activations should be 64-byte aligned: an unaligned 64-byte load splits across two cache lines (docs/benchmarks.md).
#include <cstddef>

#include "common/avx512-intrinsics.h"
#include "kernels/f32-dwconv/f32-dwconv.h"
#include "kernels/f32-dwconv/tiles.h"

namespace arq::kernels {
namespace {

struct Avx512 {
  using Vec = __m512;
  using Mask = __mmask16;
  static constexpr size_t kTile = 16;
  static Vec load(const float* p) { return _mm512_loadu_ps(p); }
  static Vec load_masked(const float* p, Mask m) { return _mm512_maskz_loadu_ps(m, p); }
  static void store(float* p, Vec v) { _mm512_storeu_ps(p, v); }
  static void store_masked(float* p, Mask m, Vec v) { _mm512_mask_storeu_ps(p, m, v); }
  static Vec fmadd(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }
  static Vec clamp(Vec v, Vec lo, Vec hi) { return _mm512_min_ps(_mm512_max_ps(v, lo), hi); }
  static Vec set1(float x) { return _mm512_set1_ps(x); }
  static Mask tail_mask(size_t rest) { return static_cast<Mask>((1u << rest) - 1); }
};

}  // namespace

void f32_dwconv_c16__avx512(const DwconvShape& s, const float* input, size_t channel_stride_in, const float* packed,
                            float* output, size_t channel_stride_out, float min, float max) {
  F32DwconvTiles<Avx512>::run(s, input, channel_stride_in, packed, output, channel_stride_out, min, max);
}

}  // namespace arq::kernels
