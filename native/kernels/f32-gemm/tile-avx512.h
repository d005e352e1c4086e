// The AVX-512 f32-gemm tile shared by the 8x32 and 16x16 variants: kMr rows x kNv vectors of 16 columns, kMr * kNv
// zmm accumulators; each k step loads the panel's kNv vectors and broadcasts one A value per row. Every row runs the
// same instruction sequence (bias, then one FMA per k in order), so a value depends neither on the row it occupies in
// the tile nor on the tile's width: both variants give the same bits for the same column. Rows past m alias the last
// valid row (computed, never stored); columns past n are masked off at the store. Include only from files built with
// the AVX-512 flags.
#pragma once

#include <cstddef>

#include "common/avx512-intrinsics.h"

namespace arq::kernels {

template <size_t kMr, size_t kNv>
inline void f32_gemm_tile_avx512(size_t m, size_t n, size_t k, size_t kseg, const float* a, size_t lda,
                                 size_t seg_stride, const float* w, float* c, size_t ldc, float min, float max) {
  constexpr size_t kNr = 16 * kNv;
  const float* ar[kMr];
  ar[0] = a;
  for (size_t i = 1; i < kMr; ++i) ar[i] = i < m ? ar[i - 1] + lda : ar[i - 1];

  __m512 acc[kMr][kNv];
  for (size_t v = 0; v < kNv; ++v) acc[0][v] = _mm512_loadu_ps(w + 16 * v);
  for (size_t i = 1; i < kMr; ++i) {
    for (size_t v = 0; v < kNv; ++v) acc[i][v] = acc[0][v];
  }
  w += kNr;

  // One k step: the panel's kNv vectors times A's value at ar[i][offset] for every row.
  auto step = [&](size_t offset) {
    __m512 b[kNv];
    for (size_t v = 0; v < kNv; ++v) b[v] = _mm512_loadu_ps(w + 16 * v);
    w += kNr;
    for (size_t i = 0; i < kMr; ++i) {
      const __m512 va = _mm512_set1_ps(ar[i][offset]);
      for (size_t v = 0; v < kNv; ++v) acc[i][v] = _mm512_fmadd_ps(va, b[v], acc[i][v]);
    }
  };
  if (kseg == 1) {  // segments of one value: A stored transposed, element p of row i at ar[i][p * seg_stride]
    for (size_t p = 0, offset = 0; p < k; ++p, offset += seg_stride) step(offset);
  } else {
    for (size_t s0 = 0; s0 < k; s0 += kseg) {
      if (s0 != 0) {  // the next segment (the row pointers are indexed by p within one)
        for (size_t i = 0; i < kMr; ++i) ar[i] += seg_stride;
      }
      const size_t len = k - s0 < kseg ? k - s0 : kseg;
      for (size_t p = 0; p < len; ++p) step(p);
    }
  }

  const __m512 vmin = _mm512_set1_ps(min);
  const __m512 vmax = _mm512_set1_ps(max);
  __mmask16 mask[kNv];
  for (size_t v = 0; v < kNv; ++v) {
    const size_t first = 16 * v;
    mask[v] = n >= first + 16 ? __mmask16(0xFFFF) : n > first ? __mmask16((1u << (n - first)) - 1) : __mmask16(0);
  }
  for (size_t i = 0; i < kMr; ++i) {
    if (i < m) {
      for (size_t v = 0; v < kNv; ++v) {
        _mm512_mask_storeu_ps(c + i * ldc + 16 * v, mask[v], _mm512_min_ps(_mm512_max_ps(acc[i][v], vmin), vmax));
      }
    }
  }
}

}  // namespace arq::kernels
