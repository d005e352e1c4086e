#include "verify/branch_bound.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "certify/sampler.h"
#include "common/thread_pool.h"

namespace arq::verify {

using engine::IntOp;
using engine::OpKind;

struct BranchAndBound::Workspace {
  Bounds bounds;
  std::vector<float> lo, hi;  // the part of the box being examined
  std::vector<float> point, logits;
  std::vector<float> pairs;    // the part as the paired plan reads it: [lo | hi]
  std::vector<uint8_t> codes;  // its codes
  std::vector<double> lower;
  LinearBounds::Scratch linear;
  std::vector<double> score;  // per input code of the linear bounds' first layer
  // The whole box's accumulator bounds (tightened), which hold in every part of it; empty until computed.
  std::vector<std::vector<int64_t>> box_acc_lo, box_acc_hi;
  std::vector<LinearBounds::NeuronClamp> clamps;  // the hidden-neuron branches the current part lies in
  struct Frame {    // a split whose first half is being examined (or whose second half is, once `right`)
    int64_t pixel;  // -1: a split of a hidden neuron (the last clamp)
    float saved_lo, saved_hi, second_lo, second_hi;  // the pixel's interval, and its half examined second
    LinearBounds::NeuronClamp right_clamp;
    bool right;
    std::vector<double> lower;  // the margins' lower bounds of the part split, which hold in both halves
  };
  std::vector<Frame> frames;
};

// The next split of a part: one input pixel's float interval cut in two, or one hidden neuron's accumulator.
struct BranchAndBound::Split {
  int64_t pixel = -1;  // -1: a neuron
  float left_hi = 0, right_lo = 0;
  bool right_first = false;  // examine the pixel's upper half first
  LinearBounds::NeuronClamp left, right;
};

namespace {

// Non-negative floats (the box lies in [0, 1], -0 normalised to +0) are ordered as their bit patterns.
uint32_t bits_of(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  return bits;
}
float float_of(uint32_t bits) {
  float x;
  std::memcpy(&x, &bits, sizeof x);
  return x;
}

// Whether margin lower bounds prove `label`: the engine's argmax takes the lowest index on a tie.
bool holds(int64_t label, const std::vector<double>& lower) {
  for (int64_t j = 0; j < static_cast<int64_t>(lower.size()); ++j) {
    if (j != label && !(j < label ? lower[j] > 0 : lower[j] >= 0)) return false;
  }
  return true;
}

// The part's centre, inside it.
void centre_of(const std::vector<float>& lo, const std::vector<float>& hi, std::vector<float>& point) {
  for (size_t i = 0; i < lo.size(); ++i) point[i] = std::min(std::max(lo[i] + (hi[i] - lo[i]) * 0.5f, lo[i]), hi[i]);
}

// A neuron is split only where its line costs the margins more than this (logits): below it the lines are exact up
// to the double rounding they are widened by.
constexpr double kNeuronThreshold = 1e-6;

}  // namespace

BranchAndBound::BranchAndBound(std::shared_ptr<const engine::IntPlan> plan,
                               std::shared_ptr<const IntervalPropagator> bounds)
    : plan_(std::move(plan)), bounds_(std::move(bounds)), inputs_(plan_->network()) {
  const engine::IntNetwork& net = plan_->network();
  if (inputs_.layers().empty()) throw std::invalid_argument("the plan has no Conv or Gemm layer reading its input");
  const int producer = net.layout.producer[net.output];
  const bool computed_by_layers =
      net.grids[net.output].has_value() ||
      (producer >= 0 && (net.ops[producer].spec.kind == OpKind::kConv || net.ops[producer].spec.kind == OpKind::kGemm));
  if (!computed_by_layers) throw std::invalid_argument("the plan's output is not computed by its layers");
}

bool BranchAndBound::misclassified(const float* x, int64_t label, Workspace& ws) const {
  const int64_t classes = plan_->classes();
  ws.logits.resize(classes);
  plan_->run(x, 1, ws.logits.data(), 1);
  return certify::argmax_row(ws.logits.data(), classes) != label;
}

bool BranchAndBound::proved(int64_t label, Workspace& ws, const uint8_t* codes) const {
  const PairedPlan* paired = bounds_->paired();
  if (paired == nullptr) {
    bounds_->propagate(ws.lo.data(), ws.hi.data(), ws.bounds);
  } else {
    if (codes == nullptr) {
      const size_t n = ws.lo.size();
      ws.pairs.resize(2 * n);
      ws.codes.resize(static_cast<size_t>(paired->output_size()));
      std::copy(ws.lo.begin(), ws.lo.end(), ws.pairs.begin());
      std::copy(ws.hi.begin(), ws.hi.end(), ws.pairs.begin() + static_cast<std::ptrdiff_t>(n));
      paired->run(ws.pairs.data(), 1, ws.codes.data(), 1);
      codes = ws.codes.data();
    }
    bounds_->finish_paired(codes, ws.bounds);
  }
  return bounds_->margins(ws.bounds, label, ws.lower.data());
}

bool BranchAndBound::corner_misclassified(int64_t label, Workspace& ws) const {
  const LinearBounds& linear = *bounds_->linear();
  const int first = linear.first_op();
  const engine::IntOpSpec& spec = plan_->network().ops[first].spec;
  const int value = spec.inputs[0];
  const std::vector<double>& coefficient = ws.linear.worst_input;
  centre_of(ws.lo, ws.hi, ws.point);
  for (int64_t i = 0; i < static_cast<int64_t>(coefficient.size()); ++i) {
    const int64_t p = inputs_.pixel_of(value, i);
    if (p < 0 || coefficient[i] == 0) continue;
    // The pixel's end that gives the code the corner wants (the float chain may be decreasing).
    const auto code = [&](float x) { return engine::quantize_value(inputs_.value_at(value, i, x), spec.input_grid); };
    const bool low_end_is_low = code(ws.lo[p]) <= code(ws.hi[p]);
    ws.point[p] = (coefficient[i] >= 0) == low_end_is_low ? ws.lo[p] : ws.hi[p];
  }
  return misclassified(ws.point.data(), label, ws);
}

bool BranchAndBound::linear_proved(int64_t label, const VerifyLimits& limits, Workspace& ws) const {
  const LinearBounds& linear = *bounds_->linear();
  const int first = linear.first_op();
  ws.score.assign(static_cast<size_t>(linear.input_size()), 0.0);
  // Hidden accumulators tightened by back-substitution for the whole box only: on the bundled model that costs
  // about ten times a part's bounds, and in the parts of the boxes it leaves open it did not pay for itself
  // (docs/verify.md). Every part keeps the whole box's tightened bounds where they are tighter than its own.
  const bool whole = ws.frames.empty();
  LinearBounds::Domain domain;
  if (!whole) domain = {&ws.box_acc_lo, &ws.box_acc_hi, &ws.clamps};
  if (!linear.margins(ws.bounds.layer_lo[first].data(), ws.bounds.layer_hi[first].data(), label, ws.lower.data(),
                      ws.score.data(), whole, ws.linear, &domain, limits.slope_steps)) {
    return true;  // the clamps leave no input of this part: nothing to prove
  }
  if (whole) ws.box_acc_lo = ws.linear.acc_lo, ws.box_acc_hi = ws.linear.acc_hi;
  return holds(label, ws.lower);
}

// The split rule: among the first layers' input elements whose code interval is wider than one code, the one with
// the largest (code width) x (sum of |weight| reading its channel), ties to the first; its pixel is cut where that
// element's code passes the middle code m = floor((l + u) / 2): [l, m] and [m + 1, u], found by bisection over the
// pixel's floats (the chain from pixel to code is monotone wherever its float interval is finite). A chain the
// bounds could not follow (an infinite end) is cut at the middle float instead. Either way both halves are nonempty
// and strictly smaller float intervals, so the search ends; code cuts make it end after O(log width) cuts per element.
bool BranchAndBound::choose_split(Workspace& ws, bool by_score, bool neurons, Split* split) const {
  const engine::IntNetwork& net = plan_->network();
  const Bounds& b = ws.bounds;
  // A hidden neuron first, where a split gains its worst margin something (neuron_split_depth; docs/verify.md).
  if (by_score && neurons &&
      bounds_->linear()->choose_neuron(ws.linear, kNeuronThreshold, &split->left, &split->right)) {
    split->pixel = -1;
    return true;
  }
  double best = 0;
  int best_op = -1;
  int64_t best_i = -1;
  if (by_score) {  // the score is 0 for a single code
    for (int64_t i = 0; i < static_cast<int64_t>(ws.score.size()); ++i) {
      if (ws.score[i] > best) best = ws.score[i], best_op = bounds_->linear()->first_op(), best_i = i;
    }
  }
  for (size_t l = 0; best_op < 0 && l < inputs_.layers().size(); ++l) {
    const int op = inputs_.layers()[l];
    const std::vector<int32_t>& ql = b.layer_lo[op];
    const std::vector<int32_t>& qh = b.layer_hi[op];
    const std::vector<double>& magnitude = inputs_.weight_magnitude(l);
    const int64_t hw = net.ops[op].in.h * net.ops[op].in.w;
    for (int64_t i = 0; i < static_cast<int64_t>(ql.size()); ++i) {
      const double score = static_cast<double>(qh[i] - ql[i]) * magnitude[i / hw];
      if (score > best) best = score, best_op = op, best_i = i;
    }
  }
  if (best_op < 0) return false;  // every input the first layers read holds one code: a leaf

  const IntOp& op = net.ops[best_op];
  const int value = op.spec.inputs[0];
  const int64_t p = inputs_.pixel_of(value, best_i);
  if (p < 0) throw std::logic_error("a constant first-layer input has a code interval");
  split->pixel = p;
  const uint32_t lo_bits = bits_of(ws.lo[p]), hi_bits = bits_of(ws.hi[p]);
  const ValueBounds& v = b.values[value];
  if (std::isfinite(v.lo[best_i]) && std::isfinite(v.hi[best_i])) {
    const int32_t middle = (b.layer_lo[best_op][best_i] + b.layer_hi[best_op][best_i]) >> 1;
    const auto low_half = [&](uint32_t bits) {
      return engine::quantize_value(inputs_.value_at(value, best_i, float_of(bits)), op.spec.input_grid) <= middle;
    };
    const bool first = low_half(lo_bits);
    if (low_half(hi_bits) != first) {
      uint32_t l = lo_bits, h = hi_bits;  // low_half(l) == first != low_half(h)
      while (h - l > 1) {
        const uint32_t mid = l + (h - l) / 2;
        (low_half(mid) == first ? l : h) = mid;
      }
      split->left_hi = float_of(l);
      split->right_lo = float_of(h);
      // The worst margin's corner holds this element's low code where its coefficient is >= 0; the left half
      // holds the low codes where `first`.
      const std::vector<double>& corner = ws.linear.worst_input;
      if (by_score && best_op == bounds_->linear()->first_op() && best_i < static_cast<int64_t>(corner.size()))
        split->right_first = (corner[best_i] >= 0) != first;
      return true;
    }
  }
  const uint32_t mid = lo_bits + (hi_bits - lo_bits) / 2;  // lo_bits < hi_bits: the element's codes differ
  split->left_hi = float_of(mid);
  split->right_lo = float_of(mid + 1);
  return true;
}

BoxVerdict BranchAndBound::verify(const float* lo, const float* hi, int64_t label, const VerifyLimits& limits,
                                  Workspace& ws, const uint8_t* box_codes) const {
  const auto start = std::chrono::steady_clock::now();
  const auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  const int64_t n = plan_->network().input.size();
  ws.lo.resize(n);
  ws.hi.resize(n);
  ws.point.resize(n);
  ws.lower.resize(plan_->classes());
  ws.frames.clear();
  ws.clamps.clear();
  for (int64_t i = 0; i < n; ++i) {
    ws.lo[i] = lo[i] == 0.0f ? 0.0f : lo[i];  // -0 as +0
    ws.hi[i] = hi[i] == 0.0f ? 0.0f : hi[i];
  }
  BoxVerdict verdict;
  const auto falsified = [&](const std::vector<float>& x, Stage stage) {
    verdict.outcome = Outcome::kFalsified;
    verdict.stage = stage;
    verdict.counterexample = x;
  };
  const auto centre = [&] { centre_of(ws.lo, ws.hi, ws.point); };

  // The whole box's bounds, when verify_all computed its paired codes: a box they prove skips the concrete points,
  // which cannot falsify it.
  int whole_box = -1;      // unknown, or whether the bounds prove the whole box
  bool by_linear = false;  // the linear bounds proved the whole box
  if (box_codes != nullptr) whole_box = proved(label, ws, box_codes) ? 1 : 0;
  // Concrete points: the centre and the two extreme corners (without them, every falsification comes from a leaf).
  if (limits.concrete_points && whole_box != 1) {
    centre();
    if (misclassified(ws.point.data(), label, ws)) {
      falsified(ws.point, Stage::kPoints);
    } else if (misclassified(ws.lo.data(), label, ws)) {
      falsified(ws.lo, Stage::kPoints);
    } else if (misclassified(ws.hi.data(), label, ws)) {
      falsified(ws.hi, Stage::kPoints);
    }
  }
  while (verdict.outcome != Outcome::kFalsified) {
    if (limits.cancel && limits.cancel->load(std::memory_order_relaxed)) {
      verdict.outcome = Outcome::kCancelled;
      break;
    }
    if (elapsed() > limits.timeout_seconds) {
      verdict.outcome = Outcome::kTimeout;
      break;
    }
    bool part_proved = whole_box >= 0 ? whole_box == 1 : proved(label, ws, nullptr);
    whole_box = -1;
    if (!part_proved && !ws.frames.empty()) {  // the bounds of the part split hold here too
      const std::vector<double>& parent = ws.frames.back().lower;
      for (int64_t j = 0; j < plan_->classes(); ++j) ws.lower[j] = std::max(ws.lower[j], parent[j]);
      part_proved = holds(label, ws.lower);
    }
    const bool linear = !part_proved && limits.linear_bounds && bounds_->linear() != nullptr;
    if (!part_proved && bounds_->paired() != nullptr) bounds_->propagate_prefix(ws.lo.data(), ws.hi.data(), ws.bounds);
    if (linear && linear_proved(label, limits, ws)) {
      part_proved = true;
      by_linear = by_linear || ws.frames.empty();
    }
    if (linear && !part_proved && limits.concrete_points && corner_misclassified(label, ws)) {
      falsified(ws.point, Stage::kBranchAndBound);
      break;
    }
    if (!part_proved) {
      Split split;
      const bool neurons = static_cast<int64_t>(ws.clamps.size()) < limits.neuron_split_depth;
      if (!choose_split(ws, linear, neurons, &split)) {
        // A leaf: every input in this part gives the first layers the same codes, hence the same logits.
        if (misclassified(ws.lo.data(), label, ws)) {
          falsified(ws.lo, Stage::kBranchAndBound);
          break;
        }
      } else {
        if (limits.concrete_points && !ws.frames.empty() && split.pixel >= 0) {
          // a part's centre: a cheap chance to falsify before splitting further
          centre();
          if (misclassified(ws.point.data(), label, ws)) {
            falsified(ws.point, Stage::kBranchAndBound);
            break;
          }
        }
        if (verdict.splits >= limits.max_splits) {
          verdict.outcome = Outcome::kSplitLimit;
          break;
        }
        ++verdict.splits;
        if (split.pixel < 0) {
          ++verdict.neuron_splits;
          ws.frames.push_back({-1, 0, 0, 0, 0, split.right, false, ws.lower});
          ws.clamps.push_back(split.left);
        } else {
          const int64_t p = split.pixel;
          // The half holding the worst margin's corner first (a counterexample, where there is one, is found
          // sooner); both halves are examined either way.
          if (split.right_first && limits.corner_first) {
            ws.frames.push_back({p, ws.lo[p], ws.hi[p], ws.lo[p], split.left_hi, {}, false, ws.lower});
            ws.lo[p] = split.right_lo;
          } else {
            ws.frames.push_back({p, ws.lo[p], ws.hi[p], split.right_lo, ws.hi[p], {}, false, ws.lower});
            ws.hi[p] = split.left_hi;
          }
        }
        continue;
      }
    }
    // This part is proved: go on with the latest right half not yet examined.
    while (!ws.frames.empty() && ws.frames.back().right) {
      const Workspace::Frame& f = ws.frames.back();
      if (f.pixel < 0) {
        ws.clamps.pop_back();
      } else {
        ws.lo[f.pixel] = f.saved_lo;
        ws.hi[f.pixel] = f.saved_hi;
      }
      ws.frames.pop_back();
    }
    if (ws.frames.empty()) {
      verdict.outcome = Outcome::kVerified;
      // The whole box's interval bounds (the verifier's first stage), or anything more.
      verdict.stage = verdict.splits == 0 && !by_linear ? Stage::kBounds : Stage::kBranchAndBound;
      break;
    }
    Workspace::Frame& f = ws.frames.back();
    f.right = true;
    if (f.pixel < 0) {
      ws.clamps.back() = f.right_clamp;
    } else {
      ws.lo[f.pixel] = f.second_lo;
      ws.hi[f.pixel] = f.second_hi;
    }
  }
  verdict.seconds = elapsed();
  return verdict;
}

std::vector<BoxVerdict> BranchAndBound::verify_all(const float* lo, const float* hi, const int32_t* labels,
                                                   int64_t boxes, const VerifyLimits& limits, int threads,
                                                   const std::function<void(int64_t done)>& progress) const {
  const int64_t n = plan_->network().input.size();
  std::vector<BoxVerdict> verdicts(boxes);
  const int slots = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(threads, boxes)));
  std::vector<Workspace> workspaces(slots);
  // The paired plan bounds every whole box in one batched engine run (threads over chunks of boxes); its time is
  // shared equally between the boxes.
  const PairedPlan* paired = bounds_->paired();
  std::vector<uint8_t> box_codes;
  double shared_seconds = 0;
  if (paired != nullptr) {
    const auto start = std::chrono::steady_clock::now();
    std::vector<float> pairs(static_cast<size_t>(boxes * 2 * n));
    for (int64_t box = 0; box < boxes; ++box) {
      float* pair = pairs.data() + box * 2 * n;
      for (int64_t i = 0; i < n; ++i) {
        pair[i] = lo[box * n + i] == 0.0f ? 0.0f : lo[box * n + i];  // -0 as +0, as verify() reads the box
        pair[n + i] = hi[box * n + i] == 0.0f ? 0.0f : hi[box * n + i];
      }
    }
    box_codes.resize(static_cast<size_t>(boxes * paired->output_size()));
    paired->run(pairs.data(), boxes, box_codes.data(), threads);
    shared_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / static_cast<double>(boxes);
  }
  std::atomic<int64_t> done{0};
  global_pool().parallel_for(boxes, slots, [&](int64_t box, int slot) {
    const uint8_t* codes = paired != nullptr ? box_codes.data() + box * paired->output_size() : nullptr;
    verdicts[box] = verify(lo + box * n, hi + box * n, labels[box], limits, workspaces[slot], codes);
    verdicts[box].seconds += shared_seconds;
    const int64_t finished = done.fetch_add(1) + 1;
    if (progress) progress(finished);
  });
  return verdicts;
}

}  // namespace arq::verify
