// qu8-qs8-gemm reference microkernel and unpacker in plain C++, built for every target. The 4x8c4 tile computes, with
// the layout and formula of qgemm.h, acc[i][j] = sum_q a[i][q] * W[j][q] over the whole kc (int32; the zero-padded k
// tail adds nothing), minus correction[j], then requant_code / requant_float (requant.h) per element.
#include <cstddef>
#include <cstdint>

#include "kernels/qu8-qs8-gemm/qgemm.h"

namespace arq::kernels {

void qu8_qs8_gemm_ukernel_4x8c4__scalar(size_t m, size_t n, size_t kc, const uint8_t* a, size_t lda, const int8_t* w,
                                        void* out, size_t ldc, const RequantParams& params, bool float_out) {
  constexpr size_t kMr = 4;
  constexpr size_t kNr = 8;
  constexpr size_t kKr = 4;
  // Accumulated modulo 2^32 (as the SIMD paths do), so no input can overflow into undefined behaviour.
  uint32_t acc[kMr][kNr] = {};
  for (size_t g = 0; g < kc; g += kKr, w += kNr * kKr) {
    for (size_t i = 0; i < m; ++i) {
      const uint8_t* ai = a + i * lda + g;
      for (size_t j = 0; j < kNr; ++j) {
        for (size_t t = 0; t < kKr; ++t) acc[i][j] += static_cast<uint32_t>(int32_t{ai[t]} * int32_t{w[j * kKr + t]});
      }
    }
  }
  for (size_t i = 0; i < m; ++i) {
    for (size_t j = 0; j < n; ++j) {
      const uint32_t corr = params.correction != nullptr ? static_cast<uint32_t>(params.correction[j]) : 0u;
      const int32_t v = static_cast<int32_t>(acc[i][j] - corr);
      if (float_out) {
        static_cast<float*>(out)[i * ldc + j] = requant_float(v, params.multiplier[j], params.bias[j]);
      } else {
        static_cast<uint8_t*>(out)[i * ldc + j] =
            requant_code(v, params.multiplier[j], params.bias[j], params.min, params.max);
      }
    }
  }
}

// Reference unpacker (any ISA): field s of byte b of each block becomes element b + s * 64, sign-extended.
void qu8_qs8_gemm_unpack__scalar(const uint8_t* packed, int8_t* panel, size_t bytes_unpacked, int wbits) {
  const int bits = qgemm_storage_bits(wbits);
  if (bits == 8) {
    for (size_t e = 0; e < bytes_unpacked; ++e) panel[e] = static_cast<int8_t>(packed[e]);
    return;
  }
  const size_t per_byte = static_cast<size_t>(8 / bits);
  const size_t block_elems = kQGemmStorageBlockBytes * per_byte;
  const int field = (1 << bits) - 1;
  const int sign = 1 << (bits - 1);
  for (size_t blk = 0; blk < bytes_unpacked / block_elems; ++blk) {
    const uint8_t* bytes = packed + blk * kQGemmStorageBlockBytes;
    int8_t* dst = panel + blk * block_elems;
    for (size_t b = 0; b < kQGemmStorageBlockBytes; ++b) {
      for (size_t s = 0; s < per_byte; ++s) {
        const int v = (bytes[b] >> (s * bits)) & field;
        dst[b + s * kQGemmStorageBlockBytes] = static_cast<int8_t>((v ^ sign) - sign);
      }
    }
  }
}

}  // namespace arq::kernels
