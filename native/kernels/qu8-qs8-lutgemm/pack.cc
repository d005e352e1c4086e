// qu8-qs8-lutgemm packing (tables and index bytes, lutgemm.h), the config per ISA level and the block/tile driver.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "kernels/qu8-qs8-lutgemm/lutgemm.h"

namespace arq::kernels {

void qu8_qs8_lutgemm_ukernel_64x16__scalar(size_t m, size_t n, size_t groups, int abits, int flush,
                                           const uint8_t* index, const int8_t* tables, uint8_t* out, size_t ldc,
                                           const RequantParams& params);
void qu8_qs8_lutgemm_ukernel_64x16__avx512vbmi(size_t m, size_t n, size_t groups, int abits, int flush,
                                               const uint8_t* index, const int8_t* tables, uint8_t* out, size_t ldc,
                                               const RequantParams& params);

namespace {

size_t groups_of(size_t k) { return (k + kLutGroup - 1) / kLutGroup; }

const LutGemmConfig kScalarConfig{"qu8_qs8_lutgemm_ukernel_64x16__scalar", Isa::kScalar,
                                  qu8_qs8_lutgemm_ukernel_64x16__scalar};
const LutGemmConfig kVbmiConfig{"qu8_qs8_lutgemm_ukernel_64x16__avx512vbmi", Isa::kAvx512Vnni,
                                qu8_qs8_lutgemm_ukernel_64x16__avx512vbmi};

}  // namespace

LutWeights lutgemm_pack_weights(const int8_t* w, size_t ldw, size_t n, size_t k, int wbits) {
  if (wbits < 2 || wbits > kLutMaxWbits) {
    throw std::invalid_argument("lutgemm: wbits must be 2.." + std::to_string(kLutMaxWbits));
  }
  const int qmax = (1 << (wbits - 1)) - 1;
  LutWeights packed;
  packed.n = n;
  packed.k = k;
  packed.groups = groups_of(k);
  const size_t tiles = (n + kLutCols - 1) / kLutCols;
  packed.tables.assign(tiles * kLutCols * packed.groups * 64, 0);
  int largest = 0;
  for (size_t c = 0; c < n; ++c) {
    for (size_t g = 0; g < packed.groups; ++g) {
      int8_t* table = packed.tables.data() + (c * packed.groups + g) * 64;
      for (int s = 0; s < 64; ++s) {
        int sum = 0;
        for (size_t j = 0; j < kLutGroup && g * kLutGroup + j < k; ++j) {
          const int v = w[c * ldw + g * kLutGroup + j];
          if (v < -qmax || v > qmax) {
            throw std::invalid_argument("lutgemm: weight code " + std::to_string(v) + " outside +-" +
                                        std::to_string(qmax) + " for " + std::to_string(wbits) + "-bit weights");
          }
          if ((s >> j) & 1) sum += v;
        }
        table[s] = static_cast<int8_t>(sum);
        if (std::abs(sum) > largest) largest = std::abs(sum);
      }
    }
  }
  packed.flush = largest == 0 ? static_cast<int>(packed.groups) : 127 / largest;
  if (packed.flush < 1) packed.flush = 1;
  return packed;
}

size_t lutgemm_index_bytes(size_t m, size_t k, int abits) {
  return (m + kLutRows - 1) / kLutRows * groups_of(k) * static_cast<size_t>(abits) * kLutRows;
}

void lutgemm_pack_activations(const uint8_t* a, size_t lda, size_t m, size_t k, int abits, uint8_t* index) {
  if (abits < 1 || abits > kLutMaxAbits) {
    throw std::invalid_argument("lutgemm: abits must be 1.." + std::to_string(kLutMaxAbits));
  }
  const size_t groups = groups_of(k);
  const size_t planes = static_cast<size_t>(abits);
  const size_t blocks = (m + kLutRows - 1) / kLutRows;
  for (size_t b = 0; b < blocks; ++b) {
    for (size_t g = 0; g < groups; ++g) {
      for (size_t p = 0; p < planes; ++p) {
        uint8_t* dst = index + ((b * groups + g) * planes + p) * kLutRows;
        for (size_t r = 0; r < kLutRows; ++r) {
          const size_t i = b * kLutRows + r;
          unsigned bits = 0;
          for (size_t j = 0; i < m && j < kLutGroup && g * kLutGroup + j < k; ++j) {
            const unsigned code = a[i * lda + g * kLutGroup + j];
            if (code >> abits != 0) {
              throw std::invalid_argument("lutgemm: activation code " + std::to_string(code) + " needs more than " +
                                          std::to_string(abits) + " bits");
            }
            bits |= ((code >> p) & 1u) << j;
          }
          dst[r] = static_cast<uint8_t>(bits);
        }
      }
    }
  }
}

const LutGemmConfig& lutgemm_config(Isa isa) {
  return isa == Isa::kAvx512Vnni && has_avx512_vbmi() ? kVbmiConfig : kScalarConfig;
}

void lutgemm(const LutGemmConfig& config, size_t m, int abits, const uint8_t* index, const LutWeights& w, uint8_t* out,
             size_t ldc, const RequantParams& params) {
  const size_t block_bytes = w.groups * static_cast<size_t>(abits) * kLutRows;
  for (size_t m0 = 0; m0 < m; m0 += kLutRunRows) {
    const size_t rows = m - m0 < kLutRunRows ? m - m0 : kLutRunRows;
    for (size_t n0 = 0; n0 < w.n; n0 += kLutCols) {
      const size_t cols = w.n - n0 < kLutCols ? w.n - n0 : kLutCols;
      const RequantParams p{params.multiplier + n0, params.bias + n0,
                            params.correction != nullptr ? params.correction + n0 : nullptr, params.min, params.max};
      config.ukernel(rows, cols, w.groups, abits, w.flush, index + m0 / kLutRows * block_bytes,
                     w.tables.data() + n0 * w.groups * 64, out + m0 * ldc + n0, ldc, p);
    }
  }
}

}  // namespace arq::kernels
