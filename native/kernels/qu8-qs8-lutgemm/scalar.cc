// qu8-qs8-lutgemm reference microkernel in plain C++ (lutgemm.h): per row and column, the table entries the row's
// index bytes select, plane p weighted by 2^p, summed modulo 2^32, minus the correction, then requant_code.
#include <cstddef>
#include <cstdint>

#include "kernels/qu8-qs8-lutgemm/lutgemm.h"

namespace arq::kernels {
namespace {
constexpr size_t kRows = 64;  // the scalar config's block rows; its groups are 6 positions (tables of 64 entries)
}  // namespace

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
