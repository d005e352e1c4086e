// qu8-interval: the two-end requantizing epilogue of a conv bounded over a box by centre and radius
// (engine/interval_conv.h). For pixel p < pixels and output channel j < n, from the raw sums of the centre GEMM
// (sum_k W[j][k] (lo_k + hi_k)) and of the radius GEMM (sum_k |W[j][k]| (hi_k - lo_k)), each an integer held exactly in
// float (|sum| < 2^24, which the caller guarantees):
//   c = int(centre[p][j]) - correction[j]      (correction: 2 z_a sum_k W[j][k], the zero point of both ends)
//   r = int(radius[p][j])
//   acc_lo = (c - r) / 2,  acc_hi = (c + r) / 2  (exact: c + r = 2 sum_{W>0} W (hi - z) + 2 sum_{W<0} W (lo - z))
//   out[p][j]     = requant_code(acc_lo, m_j, b_j, min, max)    (the low end, requant.h)
//   out[p][n + j] = requant_code(acc_hi, m_j, b_j, min, max)    (the high end)
// acc_lo and acc_hi are the least and greatest accumulators of the box (the sign split), and requant_code is
// nondecreasing, so the two codes bound the layer's output over the box and equal the engine's at a point. Every
// variant equals the scalar one bit for bit.
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/cpu.h"
#include "kernels/requant.h"

namespace arq::kernels {

// centre, radius: pixels x n floats (row stride n); out: pixels x 2n codes; params: n channels (correction required).
using IntervalEpilogueFn = void (*)(size_t pixels, size_t n, const float* centre, const float* radius,
                                    const RequantParams& params, uint8_t* out);

struct IntervalConfig {
  const char* name;
  Isa isa;
  IntervalEpilogueFn epilogue;
};

const IntervalConfig& interval_config(Isa isa);

}  // namespace arq::kernels
