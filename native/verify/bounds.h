// Interval bound propagation (IBP) on the integer plan: for an input box (per pixel [lo, hi]), bounds of every value
// the engine computes, over every input in the box, by the engine's own semantics (quantization.md, int_semantics.h,
// requant.h). Each step is a monotone function of each of its inputs (the reasons are written beside each rule in
// bounds.cc), so applying it to the interval ends gives bounds that every input in the box respects, and a box of
// width 0 gives exactly the engine's values. docs/verify.md states the rules and the float32 logit handling.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "engine/int_network.h"
#include "kernels/qu8-elementwise/elementwise.h"
#include "kernels/qu8-qs8-gemm/qgemm.h"
#include "verify/linear_bounds.h"
#include "verify/paired_plan.h"

namespace arq::verify {

// Bounds of one plan value for one image, NCHW: floats for a float value (the input, its float prefix, the
// logits), codes for a carrier value. Only the pair matching the value's kind is filled.
struct ValueBounds {
  std::vector<float> lo, hi;
  std::vector<int32_t> code_lo, code_hi;
};

// The bounds of one image's box. Reused across calls (buffers only grow).
struct Bounds {
  std::vector<ValueBounds> values;                       // per plan value
  std::vector<std::vector<int32_t>> layer_lo, layer_hi;  // per op: a conv/gemm's input codes on its own grid
  std::vector<int64_t> out_acc_lo, out_acc_hi;           // the output layer's exact accumulators (conv/gemm output)
  std::vector<int64_t> acc_lo, acc_hi;                   // scratch: the current layer's accumulators
  std::vector<int32_t> acc32_lo, acc32_hi;               // scratch: the same, where int32 cannot overflow
  std::vector<int16_t> scratch_lo, scratch_hi;           // scratch: the current layer's codes minus the zero point
  std::vector<uint8_t> pixels_lo, pixels_hi;             // scratch: the low and high codes, NHWC
  std::vector<uint8_t> rows;                             // scratch: im2col rows [lo | hi]
  std::vector<float> sums;                               // scratch: the two GEMMs' float outputs
  std::vector<uint8_t> codes;                            // scratch: the two GEMMs' code outputs
  std::vector<int8_t> gemm_scratch;                      // scratch: an unpacked weight panel
};

// The float interval of one step of the float prefix: y = x op k (or k op x) in float32, x in [a, b].
struct FloatInterval {
  float lo, hi;
};
// The result of one elementwise step on [a, b] (a == b bitwise: the engine's value itself). Monotone rules need finite
// ends and a constant away from a pole; otherwise the whole real line [-inf, +inf] ("top").
FloatInterval elementwise_interval(engine::ElementwiseKind kind, float k, bool constant_first, float a, float b);
// The same from the step's values at the ends, ya = f(a) and yb = f(b) (computed by the caller, vectorised).
FloatInterval elementwise_ends(engine::ElementwiseKind kind, float k, bool constant_first, float a, float b, float ya,
                               float yb);
// The engine's float32 elementwise step (int_reference.cc's switch): l op r.
float elementwise_value(engine::ElementwiseKind kind, float l, float r);

class IntervalPropagator {
 public:
  // Throws std::invalid_argument when the network cannot be bounded (a multiplier that is negative or NaN, which the
  // plan's validated scales never give). Also builds the paired plan (paired_plan.h) where the network has one.
  explicit IntervalPropagator(const engine::IntNetwork& net);

  const engine::IntNetwork& network() const { return net_; }
  int64_t classes() const { return net_.layout.output.size(); }

  // lo, hi: one image NCHW with lo <= hi elementwise. Fills `b` for every value.
  void propagate(const float* lo, const float* hi, Bounds& b) const;

  // From propagated bounds: lower[j] <= logit_label - logit_j for every input in the box, for the float32 logits
  // the engine computes (+infinity at j = label; -infinity where nothing is known). Returns true when they prove that
  // the engine's argmax (lowest index wins a tie) is `label` everywhere in the box: lower[j] > 0 for j < label,
  // lower[j] >= 0 for j > label.
  bool margins(const Bounds& b, int64_t label, double* lower) const;

  // The paired plan, or null where the network has none.
  const PairedPlan* paired() const { return paired_.get(); }
  // The back-substituted margin bounds (linear_bounds.h), or null where the network is not a chain of layers.
  const LinearBounds* linear() const { return linear_.get(); }
  // From one box's codes of the paired plan (PairedPlan::run): the bounds margins() reads, the same as propagate()
  // gives them (the output value, and for a float-logit output layer its input codes and accumulators).
  void finish_paired(const uint8_t* codes, Bounds& b) const;
  // The bounds of the float values and of the input codes of the layers reading them (b.layer_lo, b.layer_hi),
  // the same as propagate() gives them: what the branch and bound's split rule reads.
  void propagate_prefix(const float* lo, const float* hi, Bounds& b) const;

 private:
  void resize(Bounds& b) const;
  void step(size_t index, Bounds& b) const;  // op `index` of propagate()
  void layer_codes(size_t index, Bounds& b) const;
  void layer(size_t index, Bounds& b) const;
  void logit_bounds(const Bounds& b, std::vector<float>& lo, std::vector<float>& hi) const;
  double fused_margin(const Bounds& b, int64_t label, int64_t j) const;

  const engine::IntNetwork& net_;
  const kernels::ElementwiseConfig* elementwise_;  // the engine's quantization kernel (first layers' codes)
  std::vector<bool> narrow_;  // per op: a Conv/Gemm whose sums fit int32 for any codes (sum |w| * levels <= 2^31 - 1)
  // Per op: an Add's code for each pair of operand codes (q1 * 256 + q2), by the engine's add_codes, built once by the
  // first propagation that reaches the op (add_once_), so that building a propagator stays cheap.
  mutable std::vector<std::vector<uint8_t>> add_tables_;
  mutable std::unique_ptr<std::once_flag[]> add_once_;
  // A Conv (one group) or Gemm whose sums fit int32 for any codes, run on the engine's quantized GEMM kernels over
  // rows [lo | hi] of 2K codes: `low` packs [W+ | W-] (the lower sum), `high` packs [W- | W+] (the upper sum).
  // codes_out: the kernels' epilogue gives the output codes; otherwise (the output layer, sums within 2^24) they give
  // the sums as float(acc), exact.
  struct Packed {
    const kernels::QGemmConfig* config = nullptr;
    bool codes_out = false;
    kernels::QPackedWeights low, high;
    std::vector<int32_t> correction;  // z * sum_k w
    std::vector<float> ones, zeros;
  };
  std::vector<std::unique_ptr<Packed>> packed_;
  // Returns true when it wrote the output codes (codes_out), else it filled acc_lo and acc_hi.
  bool packed_sums(size_t index, Bounds& b, std::vector<int64_t>& acc_lo, std::vector<int64_t>& acc_hi) const;
  std::unique_ptr<PairedPlan> paired_;
  std::unique_ptr<LinearBounds> linear_;
  int output_op_ = -1;  // the op producing the output value
  bool fused_ = false;  // the output is a float-logit Gemm without a clamp: margins from its input codes directly
};

}  // namespace arq::verify
