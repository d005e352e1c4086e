// qu8-qs8-gemm weight packing: int8 codes [n][k] into the panel layout and sub-byte storage defined in qgemm.h,
// reading nr and kr from the config, so packer and microkernels cannot drift.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/qu8-qs8-gemm/qgemm.h"

namespace arq::kernels {

QPackedWeights qgemm_pack(const QGemmConfig& config, const int8_t* w, size_t ldw, size_t n, size_t k, int wbits) {
  if (wbits < 2 || wbits > 8) {
    throw std::invalid_argument("qgemm_pack: wbits must be in 2..8, got " + std::to_string(wbits));
  }
  if (n == 0 || k == 0) throw std::invalid_argument("qgemm_pack: n and k must be positive");
  const int qmax = (1 << (wbits - 1)) - 1;
  for (size_t c = 0; c < n; ++c) {
    for (size_t q = 0; q < k; ++q) {
      const int v = w[c * ldw + q];
      if (v < -qmax || v > qmax) {
        throw std::invalid_argument("qgemm_pack: weight code " + std::to_string(v) + " at [" + std::to_string(c) +
                                    "][" + std::to_string(q) + "] is outside [" + std::to_string(-qmax) + ", " +
                                    std::to_string(qmax) + "] for " + std::to_string(wbits) + "-bit weights");
      }
    }
  }

  const size_t nr = config.nr;
  const size_t kr = config.kr;
  const int bits = qgemm_storage_bits(wbits);
  const size_t per_byte = static_cast<size_t>(8 / bits);
  const size_t block_elems = kQGemmStorageBlockBytes * per_byte;

  QPackedWeights out;
  out.wbits = wbits;
  out.n = n;
  out.k = k;
  out.kc = (k + kr - 1) / kr * kr;
  const size_t elems = nr * out.kc;
  out.unpacked_bytes = bits == 8 ? elems : (elems + block_elems - 1) / block_elems * block_elems;
  out.panel_bytes = out.unpacked_bytes / per_byte;
  const size_t panels = (n + nr - 1) / nr;
  out.data.assign(panels * out.panel_bytes, 0);

  std::vector<int8_t> panel(out.unpacked_bytes);
  for (size_t p = 0; p < panels; ++p) {
    std::fill(panel.begin(), panel.end(), int8_t{0});
    const size_t n0 = p * nr;
    const size_t cols = n - n0 < nr ? n - n0 : nr;
    for (size_t j = 0; j < cols; ++j) {
      const int8_t* row = w + (n0 + j) * ldw;
      int8_t* dst = panel.data() + j * kr;  // k-group g of this column starts at dst + g * nr * kr
      for (size_t q0 = 0; q0 < k; q0 += kr, dst += nr * kr) {
        for (size_t t = 0; t < kr && q0 + t < k; ++t) dst[t] = row[q0 + t];
      }
    }
    uint8_t* dst = out.data.data() + p * out.panel_bytes;
    if (bits == 8) {
      for (size_t e = 0; e < elems; ++e) dst[e] = static_cast<uint8_t>(panel[e]);
      continue;
    }
    const unsigned field = (1u << bits) - 1;
    for (size_t blk = 0; blk < out.unpacked_bytes / block_elems; ++blk) {
      const int8_t* src = panel.data() + blk * block_elems;
      uint8_t* bytes = dst + blk * kQGemmStorageBlockBytes;
      for (size_t b = 0; b < kQGemmStorageBlockBytes; ++b) {
        unsigned byte = 0;
        for (size_t s = 0; s < per_byte; ++s) {
          byte |= (static_cast<unsigned>(src[b + s * kQGemmStorageBlockBytes]) & field) << (s * bits);
        }
        bytes[b] = static_cast<uint8_t>(byte);
      }
    }
  }
  return out;
}

size_t qgemm_scratch_bytes(const QGemmConfig& config, const QPackedWeights& w) {
  const int bits = qgemm_storage_bits(w.wbits);
  if (bits == 8) return 0;
  const QGemmUkernel direct = bits == 4 ? config.ukernel_s4 : config.ukernel_s2;
  const bool always_direct = direct != nullptr && config.direct_max_tiles == SIZE_MAX && w.kc <= kQGemmDirectMaxKc;
  return always_direct ? 0 : w.unpacked_bytes;
}

size_t qgemm_indirect_scratch_bytes(const QPackedWeights& w) {
  return qgemm_storage_bits(w.wbits) == 8 ? 0 : w.unpacked_bytes;
}

}  // namespace arq::kernels
