// f32-gemm: C[M x N] = clamp(A[M x K] * W^T + bias, min, max) with W given out-major ([N][K], as ONNX Conv and
// Gemm store weights) and packed once into the panel layout of the chosen kernel.
// Float kernels need not agree to the bit across ISAs (only the integer engine must), but within one config every
// output element is computed with the same summation order whatever M, its row position and the thread count.
#pragma once

#include <cstddef>
#include <vector>

#include "common/cpu.h"

namespace arq::kernels {

// One microkernel computes an mr x nr tile of C from a packed panel of W over the whole K.
//   a: row i of the tile starts at a + i*lda; rows >= m are not read. K runs in segments of kseg contiguous values,
//      seg_stride apart: element p of row i is a[i*lda + (p / kseg) * seg_stride + p % kseg] (a plain matrix has
//      kseg = k). A convolution reads its kernel rows this way straight from a (padded) NHWC image, without im2col.
//   w: one packed panel (nr columns: bias[nr] then K groups of nr weights, zero-padded past N).
//   c: row i starts at c + i*ldc; only m rows and n columns are written (m <= mr, n <= nr).
// Segments never change a value: the sum runs over p = 0..K-1 in order either way.
using F32GemmUkernel = void (*)(size_t m, size_t n, size_t k, size_t kseg, const float* a, size_t lda,
                                size_t seg_stride, const float* w, float* c, size_t ldc, float min, float max);

struct F32GemmConfig {
  const char* name;  // e.g. "f32_gemm_ukernel_6x16__avx2"
  Isa isa;
  size_t mr;
  size_t nr;
  F32GemmUkernel ukernel;
};

// The config for `isa`, falling back to the best lower level compiled in.
const F32GemmConfig& f32_gemm_config(Isa isa);
// The config of that level for products of n columns: on AVX-512, n <= 16 gets the 16x16 tile, which computes every
// column with the same bits as the 8x32 tile but without its 16 idle lanes.
const F32GemmConfig& f32_gemm_config(Isa isa, size_t n);

// Packs weights [N][K] (row stride ldw) and bias[N] (nullptr = zeros) into panels of config.nr columns.
std::vector<float> f32_gemm_pack(const F32GemmConfig& config, const float* weights, size_t ldw, const float* bias,
                                 size_t n, size_t k);

// Floats in the packed form of an n-column, K = k matrix (what the packers write).
size_t f32_gemm_packed_size(const F32GemmConfig& config, size_t n, size_t k);

// The same panel layout from weights given K-major ([K][N], row stride ldw), no bias, written into `packed`
// (f32_gemm_packed_size floats): training multiplies by activations and by transposed weights, which are stored this
// way, without a transposing copy first, and packs them into scratch it reuses from step to step.
void f32_gemm_pack_kn(const F32GemmConfig& config, const float* weights, size_t ldw, size_t n, size_t k, float* packed);

// Full single-threaded GEMM over packed weights; allocates nothing.
void f32_gemm(const F32GemmConfig& config, size_t m, size_t n, size_t k, const float* a, size_t lda,
              const float* packed, float* c, size_t ldc, float min, float max);
// The same with A's K in segments of kseg values, seg_stride apart (F32GemmUkernel); equal to f32_gemm on the
// gathered rows, bit for bit.
void f32_gemm_segmented(const F32GemmConfig& config, size_t m, size_t n, size_t k, size_t kseg, const float* a,
                        size_t lda, size_t seg_stride, const float* packed, float* c, size_t ldc, float min, float max);

}  // namespace arq::kernels
