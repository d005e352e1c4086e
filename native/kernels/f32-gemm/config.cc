// f32-gemm dispatch and driver: the one place that picks a microkernel by ISA level, and the single-threaded loop
// over panels and row blocks that runs it.
#include <cstddef>

#include "kernels/f32-gemm/f32-gemm.h"

namespace arq::kernels {

// Microkernels of this family (scalar.cc, 6x16-avx2.cc, 8x32-avx512.cc, 16x16-avx512.cc); contract at F32GemmUkernel.
void f32_gemm_ukernel_4x8__scalar(size_t m, size_t n, size_t k, size_t kseg, const float* a, size_t lda,
                                  size_t seg_stride, const float* w, float* c, size_t ldc, float min, float max);
void f32_gemm_ukernel_6x16__avx2(size_t m, size_t n, size_t k, size_t kseg, const float* a, size_t lda,
                                 size_t seg_stride, const float* w, float* c, size_t ldc, float min, float max);
void f32_gemm_ukernel_8x32__avx512(size_t m, size_t n, size_t k, size_t kseg, const float* a, size_t lda,
                                   size_t seg_stride, const float* w, float* c, size_t ldc, float min, float max);
void f32_gemm_ukernel_16x16__avx512(size_t m, size_t n, size_t k, size_t kseg, const float* a, size_t lda,
                                    size_t seg_stride, const float* w, float* c, size_t ldc, float min, float max);

namespace {

const F32GemmConfig kScalarConfig{"f32_gemm_ukernel_4x8__scalar", Isa::kScalar, 4, 8, f32_gemm_ukernel_4x8__scalar};
const F32GemmConfig kAvx2Config{"f32_gemm_ukernel_6x16__avx2", Isa::kAvx2, 6, 16, f32_gemm_ukernel_6x16__avx2};
const F32GemmConfig kAvx512Config{"f32_gemm_ukernel_8x32__avx512", Isa::kAvx512Vnni, 8, 32,
                                  f32_gemm_ukernel_8x32__avx512};
const F32GemmConfig kAvx512NarrowConfig{"f32_gemm_ukernel_16x16__avx512", Isa::kAvx512Vnni, 16, 16,
                                        f32_gemm_ukernel_16x16__avx512};

}  // namespace

const F32GemmConfig& f32_gemm_config(Isa isa) {
  switch (isa) {
    case Isa::kAvx512Vnni:
      return kAvx512Config;
    case Isa::kAvx2:
      return kAvx2Config;
    case Isa::kScalar:
      break;
  }
  return kScalarConfig;
}

const F32GemmConfig& f32_gemm_config(Isa isa, size_t n) {
  const F32GemmConfig& wide = f32_gemm_config(isa);
  return wide.isa == Isa::kAvx512Vnni && n <= kAvx512NarrowConfig.nr ? kAvx512NarrowConfig : wide;
}

void f32_gemm(const F32GemmConfig& config, size_t m, size_t n, size_t k, const float* a, size_t lda,
              const float* packed, float* c, size_t ldc, float min, float max) {
  f32_gemm_segmented(config, m, n, k, k, a, lda, 0, packed, c, ldc, min, max);
}

// Loop order: blocks of rows of A sized to stay in L2 (kABlockBytes), then panels of W, then mr-row tiles. Each
// C tile is computed by one ukernel call over the whole K, so the blocking never changes a result. Without row
// blocks a large A would be re-streamed from DRAM for every panel (docs/benchmarks.md).
void f32_gemm_segmented(const F32GemmConfig& config, size_t m, size_t n, size_t k, size_t kseg, const float* a,
                        size_t lda, size_t seg_stride, const float* packed, float* c, size_t ldc, float min,
                        float max) {
  constexpr size_t kABlockBytes = 512 * 1024;
  const size_t mr = config.mr;
  const size_t nr = config.nr;
  const size_t panel_stride = nr * (k + 1);
  size_t block_rows = kABlockBytes / (sizeof(float) * (k + 1)) / mr * mr;
  if (block_rows < mr) block_rows = mr;
  for (size_t mb0 = 0; mb0 < m; mb0 += block_rows) {
    const size_t mb_end = m - mb0 < block_rows ? m : mb0 + block_rows;
    for (size_t n0 = 0; n0 < n; n0 += nr) {
      const size_t nb = n - n0 < nr ? n - n0 : nr;
      const float* w = packed + (n0 / nr) * panel_stride;
      for (size_t m0 = mb0; m0 < mb_end; m0 += mr) {
        const size_t rows = mb_end - m0 < mr ? mb_end - m0 : mr;
        config.ukernel(rows, nb, k, kseg, a + m0 * lda, lda, seg_stride, w, c + m0 * ldc + n0, ldc, min, max);
      }
    }
  }
}

}  // namespace arq::kernels
