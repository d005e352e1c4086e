// qu8-qs8-lutgemm reference microkernel in plain C++ (lutgemm.h): per row and column, the table entries the row's
// index bytes select, plane p weighted by 2^p, summed modulo 2^32, minus the correction, then requant_code; and its
// packer (pack-rows.h), a group of 6 codes at a time.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/qu8-qs8-lutgemm/lutgemm.h"
#include "kernels/qu8-qs8-lutgemm/pack-rows.h"

namespace arq::kernels {
namespace {
constexpr size_t kRows = 64;  // the scalar config's block rows; its groups are 6 positions (tables of 64 entries)
struct ScalarPlanes : PlainStore64 {
  // Per group, its codes as one little-endian word (code j at bit 8j); bit p of each, masked to bit 8j, times the
  // multiplier lands at bit 56 + j: its partial products fall on distinct bits, so nothing carries into the top byte.
  static void planes(const uint8_t* src, size_t count, int abits, uint64_t* words) {
    constexpr uint64_t kLowBits = 0x0000010101010101ull;
    constexpr uint64_t kGather = 0x0102040810204080ull;
    for (int p = 0; p < abits; ++p) words[p] = 0;
    for (size_t q = 0; q * kGroup < count; ++q) {
      uint64_t codes = 0;
      std::memcpy(&codes, src + q * kGroup, count - q * kGroup < kGroup ? count - q * kGroup : kGroup);
      for (int p = 0; p < abits; ++p) words[p] |= ((((codes >> p) & kLowBits) * kGather) >> 56) << (8 * q);
    }
  }
};

}  // namespace

void qu8_qs8_lutgemm_pack_64__scalar(const uint8_t* const* rows, size_t m, const ptrdiff_t* tap_offsets, size_t taps,
                                     size_t tap_bytes, int abits, uint8_t* index) {
  pack_rows<ScalarPlanes>(rows, m, tap_offsets, taps, tap_bytes, abits, index);
}

void qu8_qs8_lutgemm_ukernel_64x16__scalar(size_t m, size_t n, size_t groups, int abits, int /*flush*/,
                                           const uint8_t* index, const int8_t* tables, uint8_t* out, size_t ldc,
                                           const RequantParams& params) {
  const size_t planes = static_cast<size_t>(abits);
  for (size_t i = 0; i < m; ++i) {
    for (size_t c = 0; c < n; ++c) {
      uint32_t acc = 0;
      for (size_t g = 0; g < groups; ++g) {
        const int8_t* table = tables + (c * groups + g) * 64;
        for (size_t p = 0; p < planes; ++p) {
          const uint8_t s = index[((i / kRows * groups + g) * planes + p) * kRows + i % kRows];
          acc += static_cast<uint32_t>(int32_t{table[s & 63]}) << p;
        }
      }
      const uint32_t corr = params.correction != nullptr ? static_cast<uint32_t>(params.correction[c]) : 0u;
      out[i * ldc + c] =
          requant_code(static_cast<int32_t>(acc - corr), params.multiplier[c], params.bias[c], params.min, params.max);
    }
  }
}

}  // namespace arq::kernels
