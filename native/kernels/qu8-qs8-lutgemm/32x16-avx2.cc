// qu8-qs8-lutgemm microkernel, AVX2 (lutgemm.h, group 4): a block of 32 rows is one ymm of index nibbles per group and
// plane; per group, 4 columns' 16-entry tables (broadcast to both 128-bit lanes) are looked up by the block's index
// vectors (vpshufb) and summed per plane in bytes (vpaddb) for at most `flush` groups, then widened. The epilogue
// requantizes each column's 32 rows (requant.h: acc - correction, cvtepi32_ps, fmadd, max/min clamp, cvtps_epi32
// under the default MXCSR) into a 16 x 32 code tile per block, transposed by four unpack stages into rows.
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/qu8-qs8-lutgemm/lutgemm.h"

namespace arq::kernels {
namespace {

constexpr size_t kRows = 32;     // rows per block: one index byte per row in a ymm
constexpr size_t kEntries = 16;  // table entries (group of 4 positions)
constexpr size_t kQuad = 4;      // columns per pass over the groups: their lookups share the index loads

// Sums over all groups of 4 columns for 32 rows: acc[c][q] holds column c's rows 8q .. 8q + 7 (int32). Byte sums of at
// most `flush` groups (each within int8) widen to int16, and at most 258 such runs (each within +-127) to int32.
template <int kPlanes>
void quad_sums(size_t groups, int flush, const uint8_t* index, const int8_t* tables, __m256i (&acc)[kQuad][4]) {
  for (size_t c = 0; c < kQuad; ++c) {
    for (int q = 0; q < 4; ++q) acc[c][q] = _mm256_setzero_si256();
  }
  const size_t run = static_cast<size_t>(flush);
  const size_t span = run * 258;
  for (size_t h0 = 0; h0 < groups; h0 += span) {
    const size_t h1 = groups - h0 < span ? groups : h0 + span;
    __m256i half[kQuad][kPlanes][2];
    for (size_t c = 0; c < kQuad; ++c) {
      for (int p = 0; p < kPlanes; ++p) half[c][p][0] = half[c][p][1] = _mm256_setzero_si256();
    }
    for (size_t g0 = h0; g0 < h1; g0 += run) {
      const size_t g1 = h1 - g0 < run ? h1 : g0 + run;
      __m256i bytes[kQuad][kPlanes];
      for (size_t c = 0; c < kQuad; ++c) {
        for (int p = 0; p < kPlanes; ++p) bytes[c][p] = _mm256_setzero_si256();
      }
      for (size_t g = g0; g < g1; ++g) {
        __m256i idx[kPlanes];
        for (int p = 0; p < kPlanes; ++p) {
          idx[p] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(index + (g * kPlanes + p) * kRows));
        }
        for (size_t c = 0; c < kQuad; ++c) {
          const __m256i t = _mm256_broadcastsi128_si256(
              _mm_loadu_si128(reinterpret_cast<const __m128i*>(tables + (c * groups + g) * kEntries)));
          for (int p = 0; p < kPlanes; ++p) bytes[c][p] = _mm256_add_epi8(bytes[c][p], _mm256_shuffle_epi8(t, idx[p]));
        }
      }
      for (size_t c = 0; c < kQuad; ++c) {
        for (int p = 0; p < kPlanes; ++p) {
          half[c][p][0] = _mm256_add_epi16(half[c][p][0], _mm256_cvtepi8_epi16(_mm256_castsi256_si128(bytes[c][p])));
          half[c][p][1] =
              _mm256_add_epi16(half[c][p][1], _mm256_cvtepi8_epi16(_mm256_extracti128_si256(bytes[c][p], 1)));
        }
      }
    }
    for (size_t c = 0; c < kQuad; ++c) {
      for (int p = 0; p < kPlanes; ++p) {
        for (int h = 0; h < 2; ++h) {
          const __m256i lo = _mm256_cvtepi16_epi32(_mm256_castsi256_si128(half[c][p][h]));
          const __m256i hi = _mm256_cvtepi16_epi32(_mm256_extracti128_si256(half[c][p][h], 1));
          acc[c][2 * h] = _mm256_add_epi32(acc[c][2 * h], _mm256_slli_epi32(lo, p));
          acc[c][2 * h + 1] = _mm256_add_epi32(acc[c][2 * h + 1], _mm256_slli_epi32(hi, p));
        }
      }
    }
  }
}

// 16 vectors x[c] of 32 bytes (byte r = row r of column c) become y[r] (r < 16) whose 128-bit lane L holds the 16
// columns of row 16 L + r: the AVX-512 kernel's 16 x 16 byte transpose per lane (unpacks of 1, 2, 4, 8 bytes).
void transpose_16x32(const __m256i (&x)[16], __m256i (&y)[16]) {
  __m256i s1[2][8];
  for (int i = 0; i < 8; ++i) {
    s1[0][i] = _mm256_unpacklo_epi8(x[2 * i], x[2 * i + 1]);
    s1[1][i] = _mm256_unpackhi_epi8(x[2 * i], x[2 * i + 1]);
  }
  __m256i s2[4][4];
  for (int h = 0; h < 2; ++h) {
    for (int j = 0; j < 4; ++j) {
      s2[2 * h][j] = _mm256_unpacklo_epi16(s1[h][2 * j], s1[h][2 * j + 1]);
      s2[2 * h + 1][j] = _mm256_unpackhi_epi16(s1[h][2 * j], s1[h][2 * j + 1]);
    }
  }
  __m256i s3[8][2];
  for (int q = 0; q < 4; ++q) {
    for (int j = 0; j < 2; ++j) {
      s3[2 * q][j] = _mm256_unpacklo_epi32(s2[q][2 * j], s2[q][2 * j + 1]);
      s3[2 * q + 1][j] = _mm256_unpackhi_epi32(s2[q][2 * j], s2[q][2 * j + 1]);
    }
  }
  for (int d = 0; d < 8; ++d) {
    y[2 * d] = _mm256_unpacklo_epi64(s3[d][0], s3[d][1]);
    y[2 * d + 1] = _mm256_unpackhi_epi64(s3[d][0], s3[d][1]);
  }
}

// Stores the 32 x 16 code tile of one block as rows of n codes; rows past m are skipped.
void store_block(const __m256i (&codes)[16], size_t m, size_t n, uint8_t* out, size_t ldc) {
  __m256i rows[16];
  transpose_16x32(codes, rows);
  for (size_t r = 0; r < 16; ++r) {
    alignas(32) uint8_t lanes[32];
    _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), rows[r]);
    for (size_t lane = 0; lane < 2; ++lane) {
      const size_t i = 16 * lane + r;
      if (i < m) std::memcpy(out + i * ldc, lanes + 16 * lane, n);
    }
  }
}

// Column quads outer, blocks inner (a quad's tables stay in L1), as the AVX-512 kernel.
template <int kPlanes>
void run(size_t m, size_t n, size_t groups, int flush, const uint8_t* index, const int8_t* tables, uint8_t* out,
         size_t ldc, const RequantParams& params) {
  const __m256 vmin = _mm256_set1_ps(params.min);
  const __m256 vmax = _mm256_set1_ps(params.max);
  // packus leaves each lane's dwords as (rows 0-3 of q0, q1, q2, q3 | rows 4-7 of each): back to row order.
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  const size_t blocks = (m + kRows - 1) / kRows;
  const size_t block_bytes = groups * kPlanes * kRows;
  __m256i codes[kLutRunBlocks][16];
  for (size_t c0 = 0; c0 < kLutCols; c0 += kQuad) {
    for (size_t b = 0; b < blocks; ++b) {
      if (c0 >= n) {
        for (size_t c = c0; c < c0 + kQuad; ++c) codes[b][c] = _mm256_setzero_si256();
        continue;
      }
      __m256i acc[kQuad][4];
      quad_sums<kPlanes>(groups, flush, index + b * block_bytes, tables + c0 * groups * kEntries, acc);
      for (size_t c = c0; c < c0 + kQuad; ++c) {
        if (c >= n) {
          codes[b][c] = _mm256_setzero_si256();
          continue;
        }
        const __m256i corr = _mm256_set1_epi32(params.correction != nullptr ? params.correction[c] : 0);
        const __m256 vm = _mm256_set1_ps(params.multiplier[c]);
        const __m256 vb = _mm256_set1_ps(params.bias[c]);
        __m256i q[4];
        for (int v = 0; v < 4; ++v) {
          const __m256 y = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(acc[c - c0][v], corr)), vm, vb);
          q[v] = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(y, vmin), vmax));
        }
        const __m256i bytes = _mm256_packus_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
        codes[b][c] = _mm256_permutevar8x32_epi32(bytes, order);
      }
    }
  }
  for (size_t b = 0; b < blocks; ++b) {
    store_block(codes[b], m - b * kRows < kRows ? m - b * kRows : kRows, n, out + b * kRows * ldc, ldc);
  }
}

}  // namespace

void qu8_qs8_lutgemm_ukernel_32x16__avx2(size_t m, size_t n, size_t groups, int abits, int flush, const uint8_t* index,
                                         const int8_t* tables, uint8_t* out, size_t ldc, const RequantParams& params) {
  switch (abits) {
    case 1:
      return run<1>(m, n, groups, flush, index, tables, out, ldc, params);
    case 2:
      return run<2>(m, n, groups, flush, index, tables, out, ldc, params);
    case 3:
      return run<3>(m, n, groups, flush, index, tables, out, ldc, params);
    default:
      return run<4>(m, n, groups, flush, index, tables, out, ldc, params);
  }
}

}  // namespace arq::kernels
