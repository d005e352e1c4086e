// A conv of the verifier's paired plan (native/verify/paired_plan.h) computed by centre and radius: its input holds
// both ends of a box per channel ([lo c | hi c], C channels each), its spec's weights are the sign split of the
// original weights W (row o: [W+ | W-], row N + o: [W- | W+]), and its output holds both ends ([lo | hi], N each). The
// paired GEMM is 2N x 2K; the same accumulators come from two GEMMs of N x K (quantization.md: acc = sum W (q - z)):
//   acc_lo + acc_hi = sum_k W (lo + hi) - 2 z sum_k W      (the centre GEMM)
//   acc_hi - acc_lo = sum_k |W| (hi - lo)                   (the radius GEMM)
// The kernels' float epilogue with multiplier 1 and bias 0 gives float(sum), the sum itself where |sum| < 2^24 (a
// layer is planned this way only where every sum is bounded below that), and the qu8-interval epilogue turns both into
// the two ends' codes. lo + hi needs 9 bits where the layer's codes have 8: where some lo + hi of a chunk's input
// passes 255, the centre GEMM reads [lo | hi] itself with weights [W | W] (N x 2K), so that chunk costs 3/4 of the
// paired GEMM rather than 1/2 (docs/verify.md); both forms give the same sums.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "common/cpu.h"
#include "engine/int_network.h"
#include "kernels/qu8-qs8-gemm/qgemm.h"

namespace arq::engine {

struct IntervalConv {
  int64_t channels = 0;                        // C: the original input channels
  int64_t outputs = 0;                         // N: the original output channels
  const kernels::QGemmConfig* gemm = nullptr;  // for N columns
  // [W] over lo + hi and [|W|] over hi - lo, K = taps * C in (ky, kx, c) order, and [W | W] over the layer's own
  // [lo | hi] input (K = taps * 2C) for chunks where some lo + hi passes 255 (only at 8-bit codes). int8 storage.
  kernels::QPackedWeights centre, radius, ends;
  size_t k = 0, ends_k = 0;
  // Indirect route: the centre and radius codes are images of C channels per pixel over the same view as
  // the layer's input, so their taps are the layer's halved.
  std::vector<ptrdiff_t> half_tap_offsets;
  size_t half_tap_bytes = 0;
  std::vector<float> ones, zeros;       // the raw-sum epilogue: fma(float(sum), 1, 0) = float(sum)
  std::vector<int32_t> correction;      // 2 z sum_k W[o][k]
  std::vector<float> multiplier, bias;  // the layer's, per original output channel
  float min = 0.0f, max = 255.0f;
};

// The centre-radius form of conv `op` (spec.interval set), to run on the route the layout chose (indirect: the
// strided kernel per output row, else im2col blocks), or none where it does not apply: a grouped, pointwise-direct,
// lookup or float-input layer, channels that do not fill the kernel's k-groups, or sums that may reach 2^24 (then the
// paired GEMM runs). Throws std::invalid_argument when the weights are not a sign split.
std::optional<IntervalConv> plan_interval_conv(const IntOp& op, Isa isa, bool indirect, int64_t cp);

// Per pixel of [lo c | hi c] codes: centre[p][i] = lo + hi (mod 256) and radius[p][i] = hi - lo. Returns whether
// every lo + hi fits a byte (then centre holds them all).
bool split_ends(const uint8_t* ends, size_t pixels, size_t c, uint8_t* centre, uint8_t* radius);

}  // namespace arq::engine
