// f32-gemm microkernel, 16x16 tile, AVX-512F: 16 zmm accumulators (16 rows x 1 vector of 16 columns), for products
// of at most 16 columns (ResNet's 16-channel stage), where the 8x32 tile would compute and discard half its lanes;
// the tile and its contract are in tile-avx512.h.
#include <cstddef>

#include "kernels/f32-gemm/f32-gemm.h"
#include "kernels/f32-gemm/tile-avx512.h"

namespace arq::kernels {

void f32_gemm_ukernel_16x16__avx512(size_t m, size_t n, size_t k, size_t kseg, const float* a, size_t lda,
                                    size_t seg_stride, const float* w, float* c, size_t ldc, float min, float max) {
  f32_gemm_tile_avx512<16, 1>(m, n, k, kseg, a, lda, seg_stride, w, c, ldc, min, max);
}

}  // namespace arq::kernels
