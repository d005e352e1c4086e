// lutgemm_pack_rows over any ISA (lutgemm.h): a block of V::kRows rows at a time, each row's codes a chunk of 8
// groups (8 * V::kGroup codes) at a time; V::planes turns a row's chunk into one 64-bit word per activation bit plane
// whose byte q is the index byte of the chunk's group q (bit j = bit p of the group's code j), and V::store writes
// the block's words where the kernel reads them: group q's plane p bytes of the block's rows, one vector apart.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/qu8-qs8-lutgemm/lutgemm.h"

namespace arq::kernels {

// The packers of 64-row blocks of 6-code groups (scalar, VBMI): rows in order in `words`, stored the plain way, one
// byte at a time (group q's plane p byte of row r at dst[(q * planes + p) * kRows + r], for the chunk's first `groups`
// groups). A packer derives from it and adds its `planes`; an ISA that transposes in registers instead (AVX2) gives
// its own store and row order in words (V::slot).
struct PlainStore64 {
  static constexpr size_t kGroup = 6;
  static constexpr size_t kRows = 64;
  static size_t slot(size_t r) { return r; }
  static void store(const uint64_t (*words)[kRows], size_t planes, size_t groups, uint8_t* dst) {
    for (size_t q = 0; q < groups; ++q) {
      for (size_t p = 0; p < planes; ++p, dst += kRows) {
        for (size_t r = 0; r < kRows; ++r) dst[r] = static_cast<uint8_t>(words[p][r] >> (8 * q));
      }
    }
  }
};

template <class V>
void pack_rows(const uint8_t* const* rows, size_t m, const ptrdiff_t* tap_offsets, size_t taps, size_t tap_bytes,
               int abits, uint8_t* index) {
  constexpr size_t kGroup = V::kGroup, kRows = V::kRows, kChunk = 8 * kGroup;
  const size_t tap_groups = (tap_bytes + kGroup - 1) / kGroup;
  const size_t planes = static_cast<size_t>(abits);
  const size_t block_bytes = taps * tap_groups * planes * kRows;
  alignas(64) uint64_t words[kLutMaxAbits][kRows];
  for (size_t b0 = 0; b0 < m; b0 += kRows) {
    const size_t block_rows = m - b0 < kRows ? m - b0 : kRows;
    uint8_t* block = index + b0 / kRows * block_bytes;
    if (block_rows < kRows) std::memset(words, 0, sizeof words);  // rows past m index 0
    for (size_t t = 0; t < taps; ++t) {
      for (size_t at = 0; at < tap_bytes; at += kChunk) {
        const size_t count = tap_bytes - at < kChunk ? tap_bytes - at : kChunk;
        for (size_t r = 0; r < block_rows; ++r) {
          uint64_t w[kLutMaxAbits];
          V::planes(rows[b0 + r] + tap_offsets[t] + at, count, abits, w);
          for (size_t p = 0; p < planes; ++p) words[p][V::slot(r)] = w[p];
        }
        V::store(words, planes, (count + kGroup - 1) / kGroup, block + (t * tap_groups + at / kGroup) * planes * kRows);
      }
    }
  }
}

}  // namespace arq::kernels
