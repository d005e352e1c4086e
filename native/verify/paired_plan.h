// The paired plan: interval bounds of a whole box computed by the engine itself (IntPlan, its uint8 NHWC kernels and
// layout), on a network of twice the channels that carries both ends of every value. Each value of the paired network
// holds, per original channel, its low and its high end as two channels (the input: [lo | hi]); each Conv/Gemm's
// weights are the sign split, one output row [W+ | W-] for the low end and [W- | W+] for the high end (columns ordered
// as the input's ends are), so that the engine's own sums are the sign-split sums and its own epilogue requantizes both
// ends; every other step (quantization, code conversion, pools, adds, clamps, pads) is per channel and monotone, so
// the engine applied to the ends is the bound rule of bounds.cc. A conv whose input ends are the halves [lo | hi] is
// marked for the engine's centre-radius form (engine/interval_conv.h): the same accumulators from fewer multiply-adds.
// docs/verify.md states when a network has a paired plan.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "engine/int_plan.h"

namespace arq::verify {

class PairedPlan {
 public:
  // The paired plan of `net`, or null where a step cannot be paired: a grouped conv, a Conv/Gemm whose sums may
  // leave int32 (narrow[op] false: the engine's sums would wrap where the exact rule needs the whole int32 range), an
  // elementwise step that is not strictly monotone over finite constants, an add whose operands' ends are ordered
  // differently, a float-logit output layer reading a float value; or where the paired network passes the memory limit.
  static std::unique_ptr<PairedPlan> build(const engine::IntNetwork& net, const std::vector<bool>& narrow);

  // The value whose code bounds the plan computes: the network output (a carrier), or the input of the output layer
  // (tail() then names that layer, which the propagator bounds itself, keeping its exact accumulators).
  int value() const { return value_; }
  int tail() const { return tail_; }
  int64_t input_size() const { return 2 * input_size_; }  // per box: lo then hi, each one image NCHW
  int64_t output_size() const { return static_cast<int64_t>(element_.size()); }

  // pairs: boxes x input_size(); codes: boxes x output_size(). Threads over chunks of boxes (IntPlan::run_codes).
  void run(const float* pairs, int64_t boxes, uint8_t* codes, int threads) const;
  // One box's codes -> the low and high codes of value(), NCHW.
  void unpack(const uint8_t* codes, int32_t* lo, int32_t* hi) const;

 private:
  std::unique_ptr<engine::IntPlan> plan_;
  int value_ = -1, tail_ = -1;
  int64_t input_size_ = 0;
  std::vector<int64_t> element_;  // per output element: the element of value() it bounds
  std::vector<uint8_t> high_;     // per output element: 1 for the high end
};

}  // namespace arq::verify
