// The qu8-qs8-lutgemm microkernel over any vector width (LutTiles<V>; lutgemm.h): a block of V::kRows rows is one
// vector of index bytes per group and plane; per group, 4 columns' tables are looked up by the block's index vectors
// (V::lookup) and summed per plane in bytes for at most `flush` groups, widened to int16 between runs and to int32
// every 258 runs. V::codes requantizes a column's rows (requant.h) into one vector of codes; the code tile of a block
// (16 columns) is transposed by four unpack stages (a 16 x 16 byte transpose in every 128-bit lane) into rows.
// Columns are taken in quads outer and blocks inner, so a quad's tables stay in L1 while every block of the run reads
// them. The ISA files define V (vector type, kRows, kEntries and the operations below) and instantiate this template.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/qu8-qs8-lutgemm/lutgemm.h"

namespace arq::kernels {

template <class V>
struct LutTiles {
  using Vec = typename V::Vec;
  static constexpr size_t kRows = V::kRows;        // rows per block: one index byte per row in a vector
  static constexpr size_t kEntries = V::kEntries;  // table entries: 2^group
  static constexpr size_t kQuad = 4;               // columns per pass over the groups: they share the index loads
  static constexpr size_t kLanes = kRows / 16;     // 128-bit lanes per vector

  // Sums over all groups of 4 columns: acc[c][q] holds column c's rows kRows/4 * q .. (int32).
  template <int kPlanes>
  static void quad_sums(size_t groups, int flush, const uint8_t* index, const int8_t* tables, Vec (&acc)[kQuad][4]) {
    for (size_t c = 0; c < kQuad; ++c) {
      for (int q = 0; q < 4; ++q) acc[c][q] = V::zero();
    }
    const size_t run = static_cast<size_t>(flush);
    const size_t span = run * 258;  // runs of byte sums (each within +-127) that an int16 sum holds
    for (size_t h0 = 0; h0 < groups; h0 += span) {
      const size_t h1 = groups - h0 < span ? groups : h0 + span;
      Vec half[kQuad][kPlanes][2];
      for (size_t c = 0; c < kQuad; ++c) {
        for (int p = 0; p < kPlanes; ++p) half[c][p][0] = half[c][p][1] = V::zero();
      }
      for (size_t g0 = h0; g0 < h1; g0 += run) {
        const size_t g1 = h1 - g0 < run ? h1 : g0 + run;
        Vec bytes[kQuad][kPlanes];
        for (size_t c = 0; c < kQuad; ++c) {
          for (int p = 0; p < kPlanes; ++p) bytes[c][p] = V::zero();
        }
        for (size_t g = g0; g < g1; ++g) {
          Vec idx[kPlanes];
          for (int p = 0; p < kPlanes; ++p) idx[p] = V::load(index + (g * kPlanes + p) * kRows);
          for (size_t c = 0; c < kQuad; ++c) {
            Vec t = V::table(tables + (c * groups + g) * kEntries);
            asm("" : "+v"(t));  // one load per table: GCC would otherwise fold it into every plane's lookup
            for (int p = 0; p < kPlanes; ++p) bytes[c][p] = V::add8(bytes[c][p], V::lookup(t, idx[p]));
          }
        }
        for (size_t c = 0; c < kQuad; ++c) {
          for (int p = 0; p < kPlanes; ++p) {
            half[c][p][0] = V::add16(half[c][p][0], V::widen8(bytes[c][p], 0));
            half[c][p][1] = V::add16(half[c][p][1], V::widen8(bytes[c][p], 1));
          }
        }
      }
      for (size_t c = 0; c < kQuad; ++c) {
        for (int p = 0; p < kPlanes; ++p) {
          for (int h = 0; h < 2; ++h) {
            acc[c][2 * h] = V::add32(acc[c][2 * h], V::shift32(V::widen16(half[c][p][h], 0), p));
            acc[c][2 * h + 1] = V::add32(acc[c][2 * h + 1], V::shift32(V::widen16(half[c][p][h], 1), p));
          }
        }
      }
    }
  }

  // x[c] (byte r = row r of column c) become y[r] (r < 16) whose 128-bit lane L holds the 16 columns of row 16 L + r.
  static void transpose(const Vec (&x)[16], Vec (&y)[16]) {
    Vec s1[2][8];  // rows 8h .. 8h+7 of columns 2i, 2i+1
    for (int i = 0; i < 8; ++i) {
      s1[0][i] = V::unpacklo8(x[2 * i], x[2 * i + 1]);
      s1[1][i] = V::unpackhi8(x[2 * i], x[2 * i + 1]);
    }
    Vec s2[4][4];  // rows 4q .. 4q+3 of columns 4j .. 4j+3
    for (int h = 0; h < 2; ++h) {
      for (int j = 0; j < 4; ++j) {
        s2[2 * h][j] = V::unpacklo16(s1[h][2 * j], s1[h][2 * j + 1]);
        s2[2 * h + 1][j] = V::unpackhi16(s1[h][2 * j], s1[h][2 * j + 1]);
      }
    }
    Vec s3[8][2];  // rows 2d, 2d+1 of columns 8j .. 8j+7
    for (int q = 0; q < 4; ++q) {
      for (int j = 0; j < 2; ++j) {
        s3[2 * q][j] = V::unpacklo32(s2[q][2 * j], s2[q][2 * j + 1]);
        s3[2 * q + 1][j] = V::unpackhi32(s2[q][2 * j], s2[q][2 * j + 1]);
      }
    }
    for (int d = 0; d < 8; ++d) {
      y[2 * d] = V::unpacklo64(s3[d][0], s3[d][1]);
      y[2 * d + 1] = V::unpackhi64(s3[d][0], s3[d][1]);
    }
  }

  // Stores the kRows x 16 code tile of one block as rows of n codes; rows past m are skipped.
  static void store_block(const Vec (&codes)[16], size_t m, size_t n, uint8_t* out, size_t ldc) {
    Vec rows[16];
    transpose(codes, rows);
    for (size_t r = 0; r < 16; ++r) {
      alignas(64) uint8_t lanes[kRows];
      V::store(lanes, rows[r]);
      for (size_t lane = 0; lane < kLanes; ++lane) {
        const size_t i = 16 * lane + r;
        if (i < m) V::store_row(out + i * ldc, lanes + 16 * lane, n);
      }
    }
  }

  template <int kPlanes>
  static void run(size_t m, size_t n, size_t groups, int flush, const uint8_t* index, const int8_t* tables,
                  uint8_t* out, size_t ldc, const RequantParams& params) {
    const size_t blocks = (m + kRows - 1) / kRows;
    const size_t block_bytes = groups * kPlanes * kRows;
    Vec codes[kLutRunBlocks][16];
    for (size_t c0 = 0; c0 < kLutCols; c0 += kQuad) {
      for (size_t b = 0; b < blocks; ++b) {
        Vec acc[kQuad][4];
        if (c0 < n) quad_sums<kPlanes>(groups, flush, index + b * block_bytes, tables + c0 * groups * kEntries, acc);
        for (size_t c = c0; c < c0 + kQuad; ++c) {
          codes[b][c] = c < n ? V::codes(acc[c - c0], params.correction != nullptr ? params.correction[c] : 0,
                                         params.multiplier[c], params.bias[c], params.min, params.max)
                              : V::zero();
        }
      }
    }
    for (size_t b = 0; b < blocks; ++b) {
      store_block(codes[b], m - b * kRows < kRows ? m - b * kRows : kRows, n, out + b * kRows * ldc, ldc);
    }
  }

  static void ukernel(size_t m, size_t n, size_t groups, int abits, int flush, const uint8_t* index,
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
};

}  // namespace arq::kernels
