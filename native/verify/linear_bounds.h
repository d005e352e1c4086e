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

  struct Scratch {
    std::vector<std::vector<int64_t>> acc_lo, acc_hi;    // per layer: exact accumulator bounds
    std::vector<std::vector<int32_t>> code_lo, code_hi;  // per layer: its input codes (layer 0: the box)
    std::vector<std::vector<double>> line;               // per hidden layer: 4 per neuron (lower a, b; upper a, b)
    std::vector<double> lambda, mu;
  };

  // lower[j] (classes entries, sound lower bounds of logit_label - logit_j already, e.g. the interval bounds') is
  // raised to the back-substituted bound of logit_label - logit_j over every input whose first-layer codes lie in
  // [q_lo, q_hi] (for the engine's float32 logits) where that is larger; a margin already proved (j < label needs
  // > 0, j > label >= 0) is left as it is. With `score` (input_size() entries, added to): for each margin still not
  // proved, |coefficient of code i| x (q_hi - q_lo), what its bound loses to the width of code i.
  // tighten: bound the accumulators of every hidden layer past the first by back-substitution too, where tighter
  // than their interval bounds (two back-substitutions per neuron whose codes are not single: the bounds of deeper
  // layers, and so the margins, get tighter at a cost of about (neurons) x (one margin's back-substitution)).
  void margins(const int32_t* q_lo, const int32_t* q_hi, int64_t label, double* lower, double* score, bool tighten,
               Scratch& s) const;

 private:
  struct Sum;
  // A lower bound of sum.constant + s.lambda . (q - z_t) over every input of the box, q being layer t's input codes
  // (t = layers_.size() - 1: the output layer's), through the lines of layers t - 1 .. 0 in s; s.lambda ends as the
  // coefficients of the first layer's input codes.
  double minimum(size_t t, Sum sum, const int32_t* q_lo, const int32_t* q_hi, Scratch& s) const;

  struct Layer {
    int op = -1;
    int64_t in = 0, out = 0;              // input elements, output elements
    int64_t channel_size = 1;             // output elements per channel (conv: h * w)
    int32_t zero = 0;                     // the input grid's zero point
    int32_t levels = 255;                 // the input grid's largest code
    std::vector<int64_t> start;           // CSR: output o reads entries start[o] .. start[o + 1]
    std::vector<int32_t> index;           // input element
    std::vector<int8_t> weight;           // weight code
    std::vector<double> l1;               // per output: sum |w|
    int64_t fan_out = 0;                  // the most outputs reading one input
    std::vector<float> multiplier, bias;  // per channel
    float min = 0, max = 255;             // code clamp (hidden layers)
  };
  std::vector<Layer> layers_;  // first to last; the last writes float logits
};

}  // namespace arq::verify
