// f32-gemm weight packing. Layout (read by every f32-gemm microkernel): ceil(N / nr) panels, each of nr * (K + 1)
// floats: nr bias values, then K groups of nr weights (group p holds W[n0 + j][p] for j < nr); columns past N are
// zero.
#include <algorithm>
#include <cstddef>
#include <vector>

#include "kernels/f32-gemm/f32-gemm.h"

namespace arq::kernels {

std::vector<float> f32_gemm_pack(const F32GemmConfig& config, const float* weights, size_t ldw, const float* bias,
                                 size_t n, size_t k) {
  const size_t nr = config.nr;
  const size_t panels = (n + nr - 1) / nr;
  const size_t panel_stride = nr * (k + 1);
  std::vector<float> packed(panels * panel_stride, 0.0f);
  for (size_t panel = 0; panel < panels; ++panel) {
    float* out = packed.data() + panel * panel_stride;
    const size_t n0 = panel * nr;
    const size_t cols = n - n0 < nr ? n - n0 : nr;
    for (size_t j = 0; j < cols; ++j) {
      out[j] = bias != nullptr ? bias[n0 + j] : 0.0f;
      const float* row = weights + (n0 + j) * ldw;
      for (size_t p = 0; p < k; ++p) out[nr + p * nr + j] = row[p];
    }
  }
  return packed;
}

size_t f32_gemm_packed_size(const F32GemmConfig& config, size_t n, size_t k) {
  return (n + config.nr - 1) / config.nr * config.nr * (k + 1);
}

void f32_gemm_pack_kn(const F32GemmConfig& config, const float* weights, size_t ldw, size_t n, size_t k,
                      float* packed) {
  const size_t nr = config.nr;
  const size_t panels = (n + nr - 1) / nr;
  const size_t panel_stride = nr * (k + 1);
  for (size_t panel = 0; panel < panels; ++panel) {
    float* out = packed + panel * panel_stride;
    const size_t n0 = panel * nr;
    const size_t cols = n - n0 < nr ? n - n0 : nr;
    std::fill(out, out + nr, 0.0f);  // no bias
    out += nr;
    for (size_t p = 0; p < k; ++p) {
      std::copy(weights + p * ldw + n0, weights + p * ldw + n0 + cols, out + p * nr);
      std::fill(out + p * nr + cols, out + (p + 1) * nr, 0.0f);
    }
  }
}

}  // namespace arq::kernels
