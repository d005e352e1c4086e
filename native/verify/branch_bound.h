// The complete verifier: is every input in a box [lo, hi] classified as `label` by the integer plan? Per box:
// concrete points first (the centre and the two extreme corners, run through the engine), then interval bounds of
// the box (bounds.h); an undecided box is split on one input pixel at a boundary of its first-layer codes, depth
// first, until each part is proved by its bounds, or holds a single code per first-layer input (a leaf: one engine
// run decides it), or an engine run of a part's centre misclassifies. Every split strictly narrows a finite code (or
// float) interval, so the search ends. With VerifyLimits::neuron_split_depth a part may be split on a hidden
// neuron's code range first (linear_bounds.h's NeuronClamp), which narrows a finite code range too. docs/verify.md
// gives the split rules and why they terminate.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "engine/int_plan.h"
#include "verify/bounds.h"
#include "verify/input_codes.h"

namespace arq::verify {

enum class Outcome : int8_t { kTimeout = 0, kVerified = 1, kFalsified = 2, kSplitLimit = 3, kCancelled = 4 };
enum class Stage : int8_t { kNone = 0, kPoints = 1, kBounds = 2, kBranchAndBound = 3 };

struct VerifyLimits {
  double timeout_seconds = 1.0;                     // per box
  int64_t max_splits = INT64_MAX;                   // per box
  std::shared_ptr<const std::atomic<bool>> cancel;  // may be null
  // Run the centre and corners, each split part's centre, and (with the linear bounds) the corner of each open part
  // where its worst margin's bound is attained, through the engine.
  bool concrete_points = true;
  // Where the network has them (linear_bounds.h): a part its interval bounds leave open is tried with the
  // back-substituted margins, and split on the input code that costs those margins the most.
  bool linear_bounds = true;
  // With the linear bounds: split a hidden neuron's code range (at its clamp's kink) where its line loses to the
  // margins, before splitting input pixels, up to this many neuron splits on one path from the box (0: never).
  // Off by default: on the bundled model it decided none of the boxes left open, and on tiny networks the input
  // splits below every neuron-split leaf multiply the parts (docs/verify.md).
  int neuron_split_depth = 0;
  // With the linear bounds: a pixel split examines first the half holding the corner of the box where the worst
  // margin's bound is attained (where a counterexample is likeliest); otherwise the lower half. A proof makes the
  // same splits in either order.
  bool corner_first = true;
  // With the linear bounds: rounds of optimising the lines' slopes per margin (each line replaced by the best one
  // where the bound is attained, then the margin bounded again; docs/verify.md).
  int slope_steps = 2;
};

struct BoxVerdict {
  Outcome outcome = Outcome::kTimeout;
  Stage stage = Stage::kNone;
  int64_t splits = 0;         // every split (input pixels and hidden neurons)
  int64_t neuron_splits = 0;  // of which hidden neurons
  double seconds = 0;
  std::vector<float> counterexample;  // falsified: an input in the box the engine misclassifies (else empty)
};

class BranchAndBound {
 public:
  // bounds: the plan's propagator (bounds.h), with its paired plan where the network has one. Throws
  // std::invalid_argument when the plan has no Conv or Gemm layer reading the input (nothing to split).
  BranchAndBound(std::shared_ptr<const engine::IntPlan> plan, std::shared_ptr<const IntervalPropagator> bounds);

  // Boxes `boxes` x input size (0 <= lo <= hi <= 1), one label in [0, classes) each; threads over boxes on arq's
  // pool; progress(done) after each box (on the worker threads).
  std::vector<BoxVerdict> verify_all(const float* lo, const float* hi, const int32_t* labels, int64_t boxes,
                                     const VerifyLimits& limits, int threads,
                                     const std::function<void(int64_t done)>& progress) const;

 private:
  struct Workspace;
  // box_codes: the paired plan's codes of the whole box, computed for every box at once by verify_all (null without
  // a paired plan).
  BoxVerdict verify(const float* lo, const float* hi, int64_t label, const VerifyLimits& limits, Workspace& ws,
                    const uint8_t* box_codes) const;
  // The bounds of the part in ws (from its paired codes when given) and whether they prove `label`.
  bool proved(int64_t label, Workspace& ws, const uint8_t* codes) const;
  // One engine run of `x`; true when its argmax is not `label`.
  bool misclassified(const float* x, int64_t label, Workspace& ws) const;
  // After proved() left the part open: the back-substituted margins raise ws.lower and fill ws.score; true when
  // they prove `label`.
  bool linear_proved(int64_t label, const VerifyLimits& limits, Workspace& ws) const;
  // After linear_proved() left the part open: one engine run of the box's corner where the worst margin's linear
  // bound is attained (the other pixels at the centre), in ws.point; true when its argmax is not `label`.
  bool corner_misclassified(int64_t label, Workspace& ws) const;
  // The next split of the part in ws: a hidden neuron's two clamps (neurons: where linear_proved's estimates
  // find one), else a pixel and its two halves; false when the part is a leaf. by_score: choose the pixel by
  // ws.score (linear_proved's) where it is positive somewhere.
  struct Split;
  bool choose_split(Workspace& ws, bool by_score, bool neurons, Split* split) const;

  std::shared_ptr<const engine::IntPlan> plan_;
  std::shared_ptr<const IntervalPropagator> bounds_;
  InputCodes inputs_;
};

}  // namespace arq::verify
