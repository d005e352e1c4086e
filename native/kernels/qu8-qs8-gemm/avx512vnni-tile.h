// Shared pieces of the AVX-512 VNNI qu8-qs8-gemm microkernels (8x32c4-avx512vnni.cc, 16x16c4-avx512vnni.cc): the
// dword broadcast of 4 A codes, the requant.h epilogue of one tile, and the row-list macros that let GCC keep one
// named zmm accumulator per row and column vector in registers. Include only from files built with the AVX-512 flags.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "common/avx512-intrinsics.h"
#include "kernels/pack-avx512.h"
#include "kernels/qu8-qs8-gemm/qgemm.h"

namespace arq::kernels::vnni {

inline int32_t load_dword(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

// The lanes of column vector j (16 columns) that exist among n columns (n > 16 * j).
inline __mmask16 column_mask(size_t n, size_t j) {
  const size_t cols = n - 16 * j;
  return cols >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << cols) - 1);
}

// The correction of column vector j (16 columns, masked to the n columns that exist), negated: a tile whose
// accumulators start there instead of at zero has subtracted it already (int32 wrap-around, the same sums), which
// takes one subtraction per row out of the epilogue (store_tile's kFolded).
inline __m512i negated_correction(const RequantParams& params, size_t n, size_t j) {
  if (params.correction == nullptr || n <= 16 * j) return _mm512_setzero_si512();
  return _mm512_sub_epi32(_mm512_setzero_si512(),
                          _mm512_maskz_loadu_epi32(column_mask(n, j), params.correction + 16 * j));
}

// Epilogue of one tile: acc[i][j] holds rows i < kMr, column vectors j < kNv (16 columns each), scaled by
// 2^kScaleShift (see the direct sub-byte variants). acc - correction (skipped when kFolded: see negated_correction),
// cvtepi32_ps (nearest even), _mm512_fmadd_ps, max/min clamp, cvtps_epi32 under the default MXCSR (nearest even),
// then int32 -> uint8 (already within [0, 255]); columns past n are masked.
template <size_t kMr, size_t kNv, unsigned kScaleShift, bool kFolded = false>
inline void store_tile(const __m512i (&acc)[kMr][kNv], size_t n, void* out, size_t ldc, const RequantParams& params,
                       bool float_out) {
  const __m512 vmin = _mm512_set1_ps(params.min);
  const __m512 vmax = _mm512_set1_ps(params.max);
  // A full tile whose codes form one contiguous block (ldc == n == all its columns; a conv row of 16 or 32
  // channels): four code vectors at a time in memory order, narrowed and clamped below by pack_codes_clamp_below and
  // stored as one 64-byte vector. Same codes as the loop below, fewer operations.
  if (!float_out && (kMr * kNv) % 4 == 0 && n == 16 * kNv && ldc == n) {
    const __m512i min_bytes = code_bytes(params.min);
    __m512i vcorr[kNv];
    __m512 vm[kNv], vb[kNv];
    for (size_t j = 0; j < kNv; ++j) {
      vcorr[j] = params.correction != nullptr && !kFolded ? _mm512_loadu_si512(params.correction + 16 * j)
                                                          : _mm512_setzero_si512();
      vm[j] = _mm512_loadu_ps(params.multiplier + 16 * j);
      vb[j] = _mm512_loadu_ps(params.bias + 16 * j);
    }
    for (size_t v = 0; v < kMr * kNv; v += 4) {
      __m512i q[4];
      for (size_t k = 0; k < 4; ++k) {
        const size_t i = (v + k) / kNv, j = (v + k) % kNv;
        const __m512i sum = kScaleShift == 0 ? acc[i][j] : _mm512_srai_epi32(acc[i][j], kScaleShift);
        const __m512i corrected = kFolded ? sum : _mm512_sub_epi32(sum, vcorr[j]);
        const __m512 y = _mm512_fmadd_ps(_mm512_cvtepi32_ps(corrected), vm[j], vb[j]);
        q[k] = _mm512_cvtps_epi32(_mm512_min_ps(vmax, y));  // (vmax, y): a NaN y ends at min, as in requant_code
      }
      _mm512_storeu_si512(static_cast<uint8_t*>(out) + 16 * v, pack_codes_clamp_below(q, min_bytes));
    }
    return;
  }
  for (size_t j = 0; j < kNv && 16 * j < n; ++j) {
    const __mmask16 mask = column_mask(n, j);
    const __m512i vcorr = params.correction != nullptr && !kFolded
                              ? _mm512_maskz_loadu_epi32(mask, params.correction + 16 * j)
                              : _mm512_setzero_si512();
    const __m512 vm = _mm512_maskz_loadu_ps(mask, params.multiplier + 16 * j);
    const __m512 vb = _mm512_maskz_loadu_ps(mask, params.bias + 16 * j);
    for (size_t i = 0; i < kMr; ++i) {
      const __m512i sum = kScaleShift == 0 ? acc[i][j] : _mm512_srai_epi32(acc[i][j], kScaleShift);
      const __m512i corrected = kFolded ? sum : _mm512_sub_epi32(sum, vcorr);
      const __m512 y = _mm512_fmadd_ps(_mm512_cvtepi32_ps(corrected), vm, vb);
      if (float_out) {
        _mm512_mask_storeu_ps(static_cast<float*>(out) + i * ldc + 16 * j, mask, y);
      } else {
        const __m512i q = _mm512_cvtps_epi32(_mm512_min_ps(_mm512_max_ps(y, vmin), vmax));
        _mm_mask_storeu_epi8(static_cast<uint8_t*>(out) + i * ldc + 16 * j, mask, _mm512_cvtepi32_epi8(q));
      }
    }
  }
}

}  // namespace arq::kernels::vnni

// Row lists: ARQ_VNNI_ROWS_<m>(X) expands X(0) .. X(m-1).
#define ARQ_VNNI_ROWS_1(X) X(0)
#define ARQ_VNNI_ROWS_2(X) ARQ_VNNI_ROWS_1(X) X(1)
#define ARQ_VNNI_ROWS_3(X) ARQ_VNNI_ROWS_2(X) X(2)
#define ARQ_VNNI_ROWS_4(X) ARQ_VNNI_ROWS_3(X) X(3)
#define ARQ_VNNI_ROWS_5(X) ARQ_VNNI_ROWS_4(X) X(4)
#define ARQ_VNNI_ROWS_6(X) ARQ_VNNI_ROWS_5(X) X(5)
#define ARQ_VNNI_ROWS_7(X) ARQ_VNNI_ROWS_6(X) X(6)
#define ARQ_VNNI_ROWS_8(X) ARQ_VNNI_ROWS_7(X) X(7)
#define ARQ_VNNI_ROWS_9(X) ARQ_VNNI_ROWS_8(X) X(8)
#define ARQ_VNNI_ROWS_10(X) ARQ_VNNI_ROWS_9(X) X(9)
#define ARQ_VNNI_ROWS_11(X) ARQ_VNNI_ROWS_10(X) X(10)
#define ARQ_VNNI_ROWS_12(X) ARQ_VNNI_ROWS_11(X) X(11)
#define ARQ_VNNI_ROWS_13(X) ARQ_VNNI_ROWS_12(X) X(12)
#define ARQ_VNNI_ROWS_14(X) ARQ_VNNI_ROWS_13(X) X(13)
#define ARQ_VNNI_ROWS_15(X) ARQ_VNNI_ROWS_14(X) X(14)
#define ARQ_VNNI_ROWS_16(X) ARQ_VNNI_ROWS_15(X) X(15)
