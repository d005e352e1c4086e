// lutgemm_pack_rows over any ISA (lutgemm.h): each row's codes are taken a chunk of 8 groups (8 * V::kGroup codes)
// at a time; V::planes turns a chunk into one 64-bit word per activation bit plane whose byte q is the index byte of
// the chunk's group q (bit j = bit p of the group's code j), and the driver stores those bytes where the kernel reads
// them: one byte per (group, plane) of a row, V::kRows bytes apart.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/qu8-qs8-lutgemm/lutgemm.h"

namespace arq::kernels {

template <class V>
void pack_rows(const uint8_t* const* rows, size_t m, const ptrdiff_t* tap_offsets, size_t taps, size_t tap_bytes,
               int abits, uint8_t* index) {
  constexpr size_t kGroup = V::kGroup, kRows = V::kRows, kChunk = 8 * kGroup;
  const size_t tap_groups = (tap_bytes + kGroup - 1) / kGroup;
  const size_t planes = static_cast<size_t>(abits);
  const size_t block_bytes = taps * tap_groups * planes * kRows;
  if (m % kRows != 0) std::memset(index + m / kRows * block_bytes, 0, block_bytes);  // rows past m index 0
  for (size_t i = 0; i < m; ++i) {
    uint8_t* row_index = index + i / kRows * block_bytes + i % kRows;
    for (size_t t = 0; t < taps; ++t) {
      const uint8_t* src = rows[i] + tap_offsets[t];
      for (size_t at = 0; at < tap_bytes; at += kChunk) {
        const size_t count = tap_bytes - at < kChunk ? tap_bytes - at : kChunk;
        uint64_t words[kLutMaxAbits];
        V::planes(src + at, count, abits, words);
        uint8_t* dst = row_index + (t * tap_groups + at / kGroup) * planes * kRows;
        const size_t groups = (count + kGroup - 1) / kGroup;
        for (size_t q = 0; q < groups; ++q) {
          for (size_t p = 0; p < planes; ++p, dst += kRows) *dst = static_cast<uint8_t>(words[p] >> (8 * q));
        }
      }
    }
  }
}

}  // namespace arq::kernels
