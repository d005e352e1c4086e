// Back-substituted (linear) bounds of the margins, for plans whose output is a chain of layers: one-group Convs and
// Gemms, joined by flattens and nothing else, from the first layer (reading the float input) to a float-logit Gemm
// output without a clamp. Interval bounds (bounds.h) treat each value's elements as independent; here each margin
// logit_y - logit_j is bounded by a linear function of the first layer's input codes, carried back through every
// layer (the weights exactly, each requantization by two lines that enclose it over its accumulator interval), and
// minimised over the box of those codes, so terms that cancel across the layers cancel in the bound (CROWN, Zhang et
// al. 2018; DeepPoly, Singh et al. 2019), with the quantization's rounding inside the lines. docs/verify.md states
// the lines and the float error bound that make the result sound for the engine's float32 logits.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "engine/int_network.h"

namespace arq::verify {

class LinearBounds {
 public:
  // The bounds of `net`, or null where its output is not such a chain, a layer reads a carrier through a conversion
  // that is not the identity, a layer's sums may leave int32, a multiplier is not finite and positive, or the
  // chain's weights pass `max_entries` (the explicit sparse form below).
  static std::unique_ptr<LinearBounds> build(const engine::IntNetwork& net, int64_t max_entries = int64_t{1} << 24);

  // The layer reading the float input: the box is given as its input codes (IntervalPropagator's layer_lo/hi).
  int first_op() const { return layers_.front().op; }
  int64_t input_size() const { return layers_.front().in; }

  // A branch over one hidden neuron: the inputs of the box for which the accumulator of neuron `neuron` of chain
  // layer `layer` lies in [lo, hi] (the branch and bound over hidden neurons splits a neuron's code range in two).
  struct NeuronClamp {
    int32_t layer = 0;
    int64_t neuron = 0;
    int64_t lo = 0, hi = 0;
  };

  // What margins() bounds beyond the box of input codes: accumulator bounds known to hold over a larger box (the
  // whole box's tightened ones, for one of its parts), intersected with the part's own; and neuron clamps, which
  // restrict the inputs to a subdomain of the box.
  struct Domain {
    const std::vector<std::vector<int64_t>>* acc_lo = nullptr;  // per layer, or null
    const std::vector<std::vector<int64_t>>* acc_hi = nullptr;
    const std::vector<NeuronClamp>* clamps = nullptr;  // may be null
  };

  // One hidden neuron's rounding-aware bounds (linear_bounds.cc's bends()): piecewise linear functions below and
  // above its code over its accumulator interval, given at the points where they bend. A valid line lies below
  // (above) every such point.
  struct Bends {
    double low_p[4], low_v[4], up_p[4], up_v[4];
    double slack0 = 0, size = 0;  // an offset moves outward by 1e-9 (slack0 + |slope| size + |offset|)
    bool single = true;           // one code: the lines are that constant, exactly
  };

  struct Scratch {
    std::vector<std::vector<int64_t>> acc_lo, acc_hi;    // per layer: exact accumulator bounds
    std::vector<std::vector<int32_t>> code_lo, code_hi;  // per layer: its input codes (layer 0: the box)
    std::vector<std::vector<double>> line;               // per hidden layer: 4 per neuron (lower a, b; upper a, b)
    std::vector<std::vector<Bends>> bends;               // per hidden layer: per neuron
    std::vector<std::vector<int8_t>> sign;   // per hidden layer: the line minimum() used (1 lower, -1 upper, 0 none)
    std::vector<std::vector<double>> point;  // per hidden layer: the accumulators where the bound is attained
    std::vector<std::vector<double>> coef;   // per hidden layer: each code's coefficient in minimum()'s last pass
    std::vector<std::vector<double>> base_line;
    // With margins()' score: the last pass of a margin (its coefficients and lines), and of the worst margin still
    // open (its lower bound `worst`, +infinity where none) with the point where its bound is attained, and the
    // coefficients of the first layer's input codes in that pass (the box's corner where it is attained: each code
    // at its low end where its coefficient is >= 0, else at its high end).
    std::vector<std::vector<double>> last_coef, last_line, worst_coef, worst_line, worst_point;
    std::vector<double> worst_input;
    double worst = 0;
    std::vector<double> lambda, mu, input_score, next;
  };

  // lower[j] (classes entries, sound lower bounds of logit_label - logit_j already, e.g. the interval bounds') is
  // raised to the back-substituted bound of logit_label - logit_j over every input whose first-layer codes lie in
  // [q_lo, q_hi] (for the engine's float32 logits) where that is larger; a margin already proved (j < label needs
  // > 0, j > label >= 0) is left as it is. With `score` (input_size() entries, added to): for each margin still not
  // proved, |coefficient of code i| x (q_hi - q_lo), what its bound loses to the width of code i.
  // tighten: bound the accumulators of every hidden layer past the first by back-substitution too, where tighter
  // than their interval bounds (two back-substitutions per neuron whose codes are not single: the bounds of deeper
  // layers, and so the margins, get tighter at a cost of about (neurons) x (one margin's back-substitution)).
  // With a domain (may be null): over the box's inputs that the domain keeps; returns false when its clamps leave no
  // input (a clamp outside the neuron's accumulator bounds: every margin holds there, vacuously), `lower` then
  // unchanged. With `score`, s keeps what choose_neuron() reads too. slope_steps: rounds of optimised slopes per margin
  // (and per tightened accumulator): each hidden neuron's line replaced by the best one at the point where the bound is
  // attained, and the margin bounded again (the largest bound kept).
  bool margins(const int32_t* q_lo, const int32_t* q_hi, int64_t label, double* lower, double* score, bool tighten,
               Scratch& s, const Domain* domain = nullptr, int slope_steps = 0) const;

  // After margins() with a score, where a margin is still open: the hidden neuron whose split gains its worst margin
  // the most (by the estimate in the .cc), as the two clamps of its halves (its code range [ql, qu] cut after the
  // lowest code where the lower clamp holds it, else after the highest below the upper clamp's, else in the middle:
  // [ql, c] and [c + 1, qu], each nonempty); false when no split gains more than `threshold`.
  bool choose_neuron(const Scratch& s, double threshold, NeuronClamp* left, NeuronClamp* right) const;

 private:
  struct Sum;
  // A lower bound of sum.constant + s.lambda . (q - z_t) over every input of the box, q being layer t's input codes
  // (t = layers_.size() - 1: the output layer's), through the lines of layers t - 1 .. 0 in s; s.lambda ends as the
  // coefficients of the first layer's input codes, s.coef and s.sign hold each hidden layer's coefficients and lines.
  double minimum(size_t t, Sum sum, const int32_t* q_lo, const int32_t* q_hi, Scratch& s) const;
  // After minimum(t, ...) (s.lambda the first layer's coefficients, s.sign its choices): s.point, the accumulators of
  // hidden layers 0 .. t - 1 at the box corner the bound chose, through the lines it used (for a neuron of one code,
  // whose lines do not depend on it, its lower accumulator bound).
  void attained(size_t t, const int32_t* q_lo, const int32_t* q_hi, Scratch& s) const;
  // `bound`, from minimum(t, start(), ...), raised by `steps` rounds of optimised slopes (start() gives the sum again).
  // record: keep the last pass in s.last_coef, s.last_line and s.point.
  double optimised(size_t t, const std::function<Sum()>& start, double bound, int steps, const int32_t* q_lo,
                   const int32_t* q_hi, Scratch& s, bool record = false) const;

  struct Layer {
    int op = -1;
    int64_t in = 0, out = 0;              // input elements, output elements
    int64_t channel_size = 1;             // output elements per channel (conv: h * w)
    int32_t zero = 0;                     // the input grid's zero point
    int32_t levels = 255;                 // the input grid's largest code
    std::vector<int64_t> start;           // CSR: output o reads entries start[o] .. start[o + 1]
    std::vector<int64_t> negative;        // per output: its first entry of a negative weight (positive ones first)
    std::vector<int32_t> index;           // input element
    std::vector<int8_t> weight;           // weight code
    std::vector<double> l1;               // per output: sum |w|
    int64_t fan_out = 0;                  // the most outputs reading one input
    std::vector<float> multiplier, bias;  // per channel
    float min = 0, max = 255;             // code clamp (hidden layers)
    // The engine's code of output o at accumulator acc (hidden layers).
    int32_t code(int64_t o, int64_t acc) const;
  };
  std::vector<Layer> layers_;  // first to last; the last writes float logits
};

}  // namespace arq::verify
