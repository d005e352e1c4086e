// qu8-qs8-lutgemm packing (tables and index bytes, lutgemm.h), the config per ISA level and the block/tile driver.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/qu8-qs8-lutgemm/lutgemm.h"

namespace arq::kernels {

void qu8_qs8_lutgemm_ukernel_64x16__scalar(size_t m, size_t n, size_t groups, int abits, int flush,
                                           const uint8_t* index, const int8_t* tables, uint8_t* out, size_t ldc,
                                           const RequantParams& params);
void qu8_qs8_lutgemm_ukernel_32x16__avx2(size_t m, size_t n, size_t groups, int abits, int flush, const uint8_t* index,
                                         const int8_t* tables, uint8_t* out, size_t ldc, const RequantParams& params);
void qu8_qs8_lutgemm_ukernel_64x16__avx512vbmi(size_t m, size_t n, size_t groups, int abits, int flush,
                                               const uint8_t* index, const int8_t* tables, uint8_t* out, size_t ldc,
                                               const RequantParams& params);

void qu8_qs8_lutgemm_pack_64__scalar(const uint8_t* const* rows, size_t m, const ptrdiff_t* tap_offsets, size_t taps,
                                     size_t tap_bytes, int abits, uint8_t* index);
void qu8_qs8_lutgemm_pack_32__avx2(const uint8_t* const* rows, size_t m, const ptrdiff_t* tap_offsets, size_t taps,
                                   size_t tap_bytes, int abits, uint8_t* index);
void qu8_qs8_lutgemm_pack_64__avx512vbmi(const uint8_t* const* rows, size_t m, const ptrdiff_t* tap_offsets,
                                         size_t taps, size_t tap_bytes, int abits, uint8_t* index);

namespace {

size_t groups_of(const LutGemmConfig& config, size_t k) { return (k + config.group - 1) / config.group; }

const LutGemmConfig kScalarConfig{
    "qu8_qs8_lutgemm_ukernel_64x16__scalar", Isa::kScalar, 6, 64, qu8_qs8_lutgemm_ukernel_64x16__scalar,
    qu8_qs8_lutgemm_pack_64__scalar};
const LutGemmConfig kAvx2Config{
    "qu8_qs8_lutgemm_ukernel_32x16__avx2", Isa::kAvx2, 4, 32, qu8_qs8_lutgemm_ukernel_32x16__avx2,
    qu8_qs8_lutgemm_pack_32__avx2};
const LutGemmConfig kVbmiConfig{
    "qu8_qs8_lutgemm_ukernel_64x16__avx512vbmi", Isa::kAvx512Vnni, 6, 64, qu8_qs8_lutgemm_ukernel_64x16__avx512vbmi,
    qu8_qs8_lutgemm_pack_64__avx512vbmi};

}  // namespace

LutWeights lutgemm_pack_weights(const LutGemmConfig& config, const int8_t* w, size_t ldw, size_t n, size_t k,
                                int wbits) {
  if (wbits < 2 || wbits > kLutMaxWbits) {
    throw std::invalid_argument("lutgemm: wbits must be 2.." + std::to_string(kLutMaxWbits));
  }
  const int qmax = (1 << (wbits - 1)) - 1;
  LutWeights packed;
  packed.n = n;
  packed.k = k;
  packed.group = config.group;
  packed.groups = groups_of(config, k);
  const size_t entries = size_t{1} << config.group;
  const size_t tiles = (n + kLutCols - 1) / kLutCols;
  packed.tables.assign(tiles * kLutCols * packed.groups * entries, 0);
  int largest = 0;
  for (size_t c = 0; c < n; ++c) {
    for (size_t g = 0; g < packed.groups; ++g) {
      int8_t* table = packed.tables.data() + (c * packed.groups + g) * entries;
      for (size_t s = 0; s < entries; ++s) {
        int sum = 0;
        for (size_t j = 0; j < config.group && g * config.group + j < k; ++j) {
          const int v = w[c * ldw + g * config.group + j];
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

size_t lutgemm_index_bytes(const LutGemmConfig& config, size_t m, size_t k, int abits) {
  return (m + config.rows - 1) / config.rows * groups_of(config, k) * static_cast<size_t>(abits) * config.rows;
}

void lutgemm_pack_activations(const LutGemmConfig& config, const uint8_t* a, size_t lda, size_t m, size_t k, int abits,
                              uint8_t* index) {
  if (abits < 1 || abits > kLutMaxAbits) {
    throw std::invalid_argument("lutgemm: abits must be 1.." + std::to_string(kLutMaxAbits));
  }
  std::vector<const uint8_t*> rows(m);
  for (size_t i = 0; i < m; ++i) {
    rows[i] = a + i * lda;
    for (size_t j = 0; j < k; ++j) {
      if (rows[i][j] >> abits != 0) {
        throw std::invalid_argument("lutgemm: activation code " + std::to_string(rows[i][j]) + " needs more than " +
                                    std::to_string(abits) + " bits");
      }
    }
  }
  const ptrdiff_t whole_row = 0;
  lutgemm_pack_rows(config, rows.data(), m, &whole_row, 1, k, abits, index);
}

void lutgemm_pack_rows(const LutGemmConfig& config, const uint8_t* const* rows, size_t m, const ptrdiff_t* tap_offsets,
                       size_t taps, size_t tap_bytes, int abits, uint8_t* index) {
  config.pack(rows, m, tap_offsets, taps, tap_bytes, abits, index);
}

const LutGemmConfig& lutgemm_config(Isa isa) {
  switch (isa) {
    case Isa::kAvx512Vnni:
      return has_avx512_vbmi() ? kVbmiConfig : kAvx2Config;
    case Isa::kAvx2:
      return kAvx2Config;
    case Isa::kScalar:
      break;
  }
  return kScalarConfig;
}

void lutgemm(const LutGemmConfig& config, size_t m, int abits, const uint8_t* index, const LutWeights& w, uint8_t* out,
             size_t ldc, const RequantParams& params) {
  const size_t block_bytes = w.groups * static_cast<size_t>(abits) * config.rows;
  const size_t run_rows = kLutRunBlocks * config.rows;
  for (size_t m0 = 0; m0 < m; m0 += run_rows) {
    const size_t rows = m - m0 < run_rows ? m - m0 : run_rows;
    for (size_t n0 = 0; n0 < w.n; n0 += kLutCols) {
      const size_t cols = w.n - n0 < kLutCols ? w.n - n0 : kLutCols;
      const RequantParams p{params.multiplier + n0, params.bias + n0,
                            params.correction != nullptr ? params.correction + n0 : nullptr, params.min, params.max};
      config.ukernel(rows, cols, w.groups, abits, w.flush, index + m0 / config.rows * block_bytes,
                     w.tables.data() + (n0 * w.groups << w.group), out + m0 * ldc + n0, ldc, p);
    }
  }
}

}  // namespace arq::kernels
