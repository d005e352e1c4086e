// qu8-qs8-lutgemm microkernel, AVX-512 VBMI (lutgemm.h): a block of 64 rows is one vector of index bytes per group and
// plane; per group, 4 columns' tables are looked up by the block's index vectors (vpermb) and summed per plane in
// bytes (vpaddb) for at most `flush` groups, then widened. The epilogue requantizes each column's 64 rows (the
// qu8-qs8-gemm fast path's arithmetic: pack_codes_clamp_below) into a 16 x 64 code tile per block, transposed by
// four unpack stages into 64 rows of 16 codes for the row-major output.
#include <cstddef>
#include <cstdint>

#include "common/avx512-intrinsics.h"
#include "kernels/pack-avx512.h"
#include "kernels/qu8-qs8-lutgemm/lutgemm.h"

namespace arq::kernels {
namespace {

constexpr size_t kLutRows = 64;  // rows per block: one index byte per row in a zmm (the config's rows, group 6)

constexpr size_t kQuad = 4;  // columns per pass over the groups: their lookups share the index loads

// Sums over all groups of 4 columns for 64 rows: acc[c][q] holds column c's rows 16q .. 16q + 15 (int32). Byte sums of
// at most `flush` groups (each within int8) widen to int16 (rows 0-31 and 32-63), and at most 258 such runs (each
// within +-127, so within int16) widen to int32.
template <int kPlanes>
void quad_sums(size_t groups, int flush, const uint8_t* index, const int8_t* tables, __m512i (&acc)[kQuad][4]) {
  for (size_t c = 0; c < kQuad; ++c) {
    for (int q = 0; q < 4; ++q) acc[c][q] = _mm512_setzero_si512();
  }
  const size_t run = static_cast<size_t>(flush);
  const size_t span = run * 258;
  for (size_t h0 = 0; h0 < groups; h0 += span) {
    const size_t h1 = groups - h0 < span ? groups : h0 + span;
    __m512i half[kQuad][kPlanes][2];
    for (size_t c = 0; c < kQuad; ++c) {
      for (int p = 0; p < kPlanes; ++p) half[c][p][0] = half[c][p][1] = _mm512_setzero_si512();
    }
    for (size_t g0 = h0; g0 < h1; g0 += run) {
      const size_t g1 = h1 - g0 < run ? h1 : g0 + run;
      __m512i bytes[kQuad][kPlanes];
      for (size_t c = 0; c < kQuad; ++c) {
        for (int p = 0; p < kPlanes; ++p) bytes[c][p] = _mm512_setzero_si512();
      }
      for (size_t g = g0; g < g1; ++g) {
        __m512i idx[kPlanes];
        for (int p = 0; p < kPlanes; ++p) idx[p] = _mm512_loadu_si512(index + (g * kPlanes + p) * kLutRows);
        for (size_t c = 0; c < kQuad; ++c) {
          __m512i t = _mm512_loadu_si512(tables + (c * groups + g) * 64);
          asm("" : "+v"(t));  // one load per table: GCC would otherwise fold it into every plane's vpermb
          for (int p = 0; p < kPlanes; ++p) {
            bytes[c][p] = _mm512_add_epi8(bytes[c][p], _mm512_permutexvar_epi8(idx[p], t));
          }
        }
      }
      for (size_t c = 0; c < kQuad; ++c) {
        for (int p = 0; p < kPlanes; ++p) {
          half[c][p][0] = _mm512_add_epi16(half[c][p][0], _mm512_cvtepi8_epi16(_mm512_castsi512_si256(bytes[c][p])));
          half[c][p][1] =
              _mm512_add_epi16(half[c][p][1], _mm512_cvtepi8_epi16(_mm512_extracti64x4_epi64(bytes[c][p], 1)));
        }
      }
    }
    for (size_t c = 0; c < kQuad; ++c) {
      for (int p = 0; p < kPlanes; ++p) {
        for (int h = 0; h < 2; ++h) {
          const __m512i lo = _mm512_cvtepi16_epi32(_mm512_castsi512_si256(half[c][p][h]));
          const __m512i hi = _mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(half[c][p][h], 1));
          acc[c][2 * h] = _mm512_add_epi32(acc[c][2 * h], _mm512_slli_epi32(lo, p));
          acc[c][2 * h + 1] = _mm512_add_epi32(acc[c][2 * h + 1], _mm512_slli_epi32(hi, p));
        }
      }
    }
  }
}

// 16 vectors x[c] of 64 bytes (byte r = row r of column c) become y[r] (r < 16) whose 128-bit lane L holds the 16
// columns of row 16 L + r: a 16 x 16 byte transpose in each lane, by unpacks of 1, 2, 4 and 8 bytes.
void transpose_16x64(const __m512i (&x)[16], __m512i (&y)[16]) {
  // Stage 1: s1[h][i] = rows 8h .. 8h+7 of columns 2i, 2i+1.
  __m512i s1[2][8];
  for (int i = 0; i < 8; ++i) {
    s1[0][i] = _mm512_unpacklo_epi8(x[2 * i], x[2 * i + 1]);
    s1[1][i] = _mm512_unpackhi_epi8(x[2 * i], x[2 * i + 1]);
  }
  // Stage 2: s2[q][j] = rows 4q .. 4q+3 of columns 4j .. 4j+3.
  __m512i s2[4][4];
  for (int h = 0; h < 2; ++h) {
    for (int j = 0; j < 4; ++j) {
      s2[2 * h][j] = _mm512_unpacklo_epi16(s1[h][2 * j], s1[h][2 * j + 1]);
      s2[2 * h + 1][j] = _mm512_unpackhi_epi16(s1[h][2 * j], s1[h][2 * j + 1]);
    }
  }
  // Stage 3: s3[d][j] = rows 2d, 2d+1 of columns 8j .. 8j+7.
  __m512i s3[8][2];
  for (int q = 0; q < 4; ++q) {
    for (int j = 0; j < 2; ++j) {
      s3[2 * q][j] = _mm512_unpacklo_epi32(s2[q][2 * j], s2[q][2 * j + 1]);
      s3[2 * q + 1][j] = _mm512_unpackhi_epi32(s2[q][2 * j], s2[q][2 * j + 1]);
    }
  }
  // Stage 4: row r = 2d (+1) with all 16 columns.
  for (int d = 0; d < 8; ++d) {
    y[2 * d] = _mm512_unpacklo_epi64(s3[d][0], s3[d][1]);
    y[2 * d + 1] = _mm512_unpackhi_epi64(s3[d][0], s3[d][1]);
  }
}

// Stores the 64 x 16 code tile of one block (codes[c]: column c's 64 rows) as rows of n codes; rows past m are skipped.
void store_block(const __m512i (&codes)[16], size_t m, size_t n, uint8_t* out, size_t ldc) {
  __m512i rows[16];
  transpose_16x64(codes, rows);
  const __mmask16 cols = n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1);
  for (size_t r = 0; r < 16; ++r) {
    alignas(64) uint8_t lanes[64];
    _mm512_store_si512(lanes, rows[r]);
    for (size_t lane = 0; lane < 4; ++lane) {
      const size_t i = 16 * lane + r;
      if (i < m)
        _mm_mask_storeu_epi8(out + i * ldc, cols, _mm_load_si128(reinterpret_cast<const __m128i*>(lanes) + lane));
    }
  }
}

// Column quads outer, blocks inner: a quad's tables (4 x 64 bytes per group) stay in L1 while every block of the run
// looks them up; the requantized codes wait in `codes` until each block's 16 columns are done.
template <int kPlanes>
void run(size_t m, size_t n, size_t groups, int flush, const uint8_t* index, const int8_t* tables, uint8_t* out,
         size_t ldc, const RequantParams& params) {
  const __m512 vmax = _mm512_set1_ps(params.max);
  const __m512i min_bytes = code_bytes(params.min);
  const size_t blocks = (m + kLutRows - 1) / kLutRows;
  const size_t block_bytes = groups * kPlanes * kLutRows;
  __m512i codes[kLutRunBlocks][16];
  for (size_t c0 = 0; c0 < kLutCols; c0 += kQuad) {
    for (size_t b = 0; b < blocks; ++b) {
      if (c0 >= n) {
        for (size_t c = c0; c < c0 + kQuad; ++c) codes[b][c] = _mm512_setzero_si512();
        continue;
      }
      __m512i acc[kQuad][4];
      quad_sums<kPlanes>(groups, flush, index + b * block_bytes, tables + c0 * groups * 64, acc);
      for (size_t c = c0; c < c0 + kQuad; ++c) {
        if (c >= n) {
          codes[b][c] = _mm512_setzero_si512();
          continue;
        }
        const __m512i corr = _mm512_set1_epi32(params.correction != nullptr ? params.correction[c] : 0);
        const __m512 vm = _mm512_set1_ps(params.multiplier[c]);
        const __m512 vb = _mm512_set1_ps(params.bias[c]);
        __m512i q[4];
        for (int v = 0; v < 4; ++v) {
          const __m512 y = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(acc[c - c0][v], corr)), vm, vb);
          q[v] = _mm512_cvtps_epi32(_mm512_min_ps(vmax, y));  // (vmax, y): a NaN y ends at min, as in requant_code
        }
        codes[b][c] = pack_codes_clamp_below(q, min_bytes);
      }
    }
  }
  for (size_t b = 0; b < blocks; ++b) {
    store_block(codes[b], m - b * kLutRows < kLutRows ? m - b * kLutRows : kLutRows, n, out + b * kLutRows * ldc, ldc);
  }
}

}  // namespace

void qu8_qs8_lutgemm_ukernel_64x16__avx512vbmi(size_t m, size_t n, size_t groups, int abits, int flush,
                                               const uint8_t* index, const int8_t* tables, uint8_t* out, size_t ldc,
                                               const RequantParams& params) {
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
