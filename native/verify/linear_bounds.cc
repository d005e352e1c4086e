#include "verify/linear_bounds.h"

#include <algorithm>
#include <cfloat>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <limits>
#include <stdexcept>

#include "kernels/requant.h"

namespace arq::verify {

using engine::IntOp;
using engine::OpKind;

namespace {

constexpr double kUnit = 0x1p-53;  // double's unit roundoff
constexpr double kMinus = -std::numeric_limits<double>::infinity();

using Bends = LinearBounds::Bends;

// Two lines enclosing one hidden neuron's code q = requant_code(acc) for every integer acc in [al, au], whose codes
// at the ends are ql = f(al) <= qu = f(au) (f is nondecreasing): line[0] * acc + line[1] <= q <= line[2] * acc +
// line[3]. The engine computes y = fma(float(acc), m, b) (m > 0), clamps it to [mn, mx] and rounds half to even.
// With g = m acc + b exactly, |y - g| <= 2^-23 (m |acc| + |b|) (1 + 2^-23) + 2^-149 (float(acc) and the fma round
// once each, relative 2^-24), bounded over the interval by E below; clamping is 1-Lipschitz and rounding moves by at
// most 1/2, so  max(ql, min(mx, g - E) - 1/2) <= q <= min(qu, max(mn, g + E) + 1/2): two clamped lines of slope m.
// A line above (below) such a piecewise linear function over [al, au] holds where it holds at the ends and the kinks
// (the bends, recorded here with the function's values there); its offset is found at those points and moved
// outward by far more than the double rounding of these few operations (line_offset).
Bends bends(int64_t al, int64_t au, int32_t ql, int32_t qu, double m, double b, double mn, double mx) {
  Bends k;
  const double lo = static_cast<double>(al), hi = static_cast<double>(au);
  if (ql == qu) {
    for (int i = 0; i < 4; ++i) k.low_p[i] = k.up_p[i] = lo, k.low_v[i] = k.up_v[i] = ql;
    return k;
  }
  k.single = false;
  k.size = std::max(std::fabs(lo), std::fabs(hi));
  k.slack0 = 256 + std::fabs(b) + m * k.size;
  const double e = 0x1p-22 * (m * k.size + std::fabs(b)) + 0x1p-140;
  const auto upper = [&](double a) { return std::min<double>(qu, std::max(mn, m * a + b + e) + 0.5); };
  const auto lower = [&](double a) { return std::max<double>(ql, std::min(mx, m * a + b - e) - 0.5); };
  const auto clip = [&](double a) { return std::min(hi, std::max(lo, a)); };
  const double up_points[4] = {lo, hi, clip((mn - e - b) / m), clip((qu - 0.5 - e - b) / m)};
  const double low_points[4] = {lo, hi, clip((ql + 0.5 + e - b) / m), clip((mx + e - b) / m)};
  for (int i = 0; i < 4; ++i) {
    k.up_p[i] = up_points[i], k.up_v[i] = upper(up_points[i]);
    k.low_p[i] = low_points[i], k.low_v[i] = lower(low_points[i]);
  }
  return k;
}

// The offset of the lower (upper) line of `slope`: below (above) the bends, moved outward. A single code is exact.
double line_offset(const Bends& k, bool upper, double slope) {
  const double* p = upper ? k.up_p : k.low_p;
  const double* v = upper ? k.up_v : k.low_v;
  double offset = v[0] - slope * p[0];
  for (int i = 1; i < 4; ++i)
    offset = upper ? std::max(offset, v[i] - slope * p[i]) : std::min(offset, v[i] - slope * p[i]);
  if (k.single) return offset;
  const double slack = 1e-9 * (k.slack0 + std::fabs(slope) * k.size + std::fabs(offset));
  return upper ? offset + slack : offset - slack;
}

// The lower (upper) line highest (lowest) at x: of slope 0 and the chord's (over the interval's ends), or with
// `every`, of slope 0 and the slopes between any two bends (where the best line at x lies: the function's convex
// (concave) envelope at x is a line through two of them). line: slope, offset.
void best_line(const Bends& k, bool upper, double x, bool every, double* line) {
  const double* p = upper ? k.up_p : k.low_p;
  const double* v = upper ? k.up_v : k.low_v;
  if (k.single) {
    line[0] = 0, line[1] = line_offset(k, upper, 0);
    return;
  }
  bool first = true;
  const auto consider = [&](double slope) {
    const double offset = line_offset(k, upper, slope);
    if (first || (upper ? slope * x + offset < line[0] * x + line[1] : slope * x + offset > line[0] * x + line[1])) {
      line[0] = slope, line[1] = offset;
    }
    first = false;
  };
  consider((v[1] - v[0]) / (p[1] - p[0]));  // the chord (al < au: the codes differ)
  consider(0);
  for (int i = 0; every && i < 4; ++i) {
    for (int j = i + 1; j < 4; ++j) {
      if (p[j] != p[i] && !(i == 0 && j == 1)) consider((v[j] - v[i]) / (p[j] - p[i]));
    }
  }
}

}  // namespace

int32_t LinearBounds::Layer::code(int64_t o, int64_t acc) const {
  const int64_t c = o / channel_size;
  return kernels::requant_code(static_cast<int32_t>(acc), multiplier[c], bias[c], min, max);
}

std::unique_ptr<LinearBounds> LinearBounds::build(const engine::IntNetwork& net, int64_t max_entries) {
  std::vector<int> chain;  // last layer first
  int value = net.output;
  for (;;) {
    const int producer = net.layout.producer[value];
    if (producer < 0) return nullptr;
    const IntOp& op = net.ops[producer];
    if (op.spec.kind == OpKind::kFlatten) {  // NCHW order is kept: element i stays element i
      value = op.spec.inputs[0];
      continue;
    }
    if (op.spec.kind != OpKind::kConv && op.spec.kind != OpKind::kGemm) return nullptr;
    if (op.spec.kind == OpKind::kConv && op.spec.group != 1) return nullptr;
    chain.push_back(producer);
    if (op.float_in) break;
    if (!op.lut_identity) return nullptr;  // the layer reads the carrier's codes as they are
    value = op.spec.inputs[0];
  }
  std::reverse(chain.begin(), chain.end());
  if (chain.size() < 2) return nullptr;  // one layer: the interval bounds' fused margins are already exact
  const IntOp& last = net.ops[chain.back()];
  if (last.spec.kind != OpKind::kGemm || !last.float_out || last.spec.min != -INFINITY || last.spec.max != INFINITY)
    return nullptr;

  auto bounds = std::unique_ptr<LinearBounds>(new LinearBounds());
  int64_t entries = 0;
  for (size_t l = 0; l < chain.size(); ++l) {
    const IntOp& op = net.ops[chain[l]];
    const engine::IntOpSpec& s = op.spec;
    if (l + 1 < chain.size() && op.float_out) return nullptr;
    Layer layer;
    layer.op = chain[l];
    layer.in = op.in.size();
    layer.out = op.out.size();
    layer.channel_size = op.out.h * op.out.w;
    layer.zero = s.input_grid.zero;
    layer.levels = s.input_grid.levels();
    layer.multiplier = op.layer.multiplier;
    layer.bias = op.layer.bias;
    layer.min = op.layer.min;
    layer.max = op.layer.max;
    for (int64_t c = 0; c < op.out.c; ++c) {
      if (!(std::isfinite(layer.multiplier[c]) && layer.multiplier[c] > 0 && std::isfinite(layer.bias[c])))
        return nullptr;
    }
    const bool conv = s.kind == OpKind::kConv;
    const int64_t kh = conv ? s.kernel_h : 1, kw = conv ? s.kernel_w : 1;
    const int64_t per_channel = static_cast<int64_t>(s.weight.size()) / s.out_channels;
    std::vector<int64_t> readers(layer.in, 0);
    layer.start.push_back(0);
    for (int64_t o = 0; o < layer.out; ++o) {
      const int64_t oc = o / layer.channel_size;
      double l1 = 0;
      if (conv) {  // padded taps read the zero point and add nothing
        const int64_t oy = (o % layer.channel_size) / op.out.w, ox = o % op.out.w;
        for (int64_t ci = 0; ci < op.in.c; ++ci) {
          for (int64_t ky = 0; ky < kh; ++ky) {
            const int64_t iy = oy * s.stride_h + ky - s.pads[0];
            if (iy < 0 || iy >= op.in.h) continue;
            for (int64_t kx = 0; kx < kw; ++kx) {
              const int64_t ix = ox * s.stride_w + kx - s.pads[1];
              const int8_t w = s.weight[((oc * op.in.c + ci) * kh + ky) * kw + kx];
              if (ix < 0 || ix >= op.in.w || w == 0) continue;
              layer.index.push_back(static_cast<int32_t>((ci * op.in.h + iy) * op.in.w + ix));
              layer.weight.push_back(w);
            }
          }
        }
      } else {
        for (int64_t k = 0; k < layer.in; ++k) {
          const int8_t w = s.weight[oc * per_channel + k];
          if (w == 0) continue;
          layer.index.push_back(static_cast<int32_t>(k));
          layer.weight.push_back(w);
        }
      }
      // Positive weights first, so that the interval sums need no branch on the sign (margins()).
      const int64_t first = layer.start.back(), end = static_cast<int64_t>(layer.index.size());
      std::vector<std::pair<int8_t, int32_t>> row;
      for (int64_t e = first; e < end; ++e) row.emplace_back(layer.weight[e], layer.index[e]);
      const auto negative = std::stable_partition(row.begin(), row.end(), [](const auto& x) { return x.first > 0; });
      layer.negative.push_back(first + (negative - row.begin()));
      for (int64_t e = first; e < end; ++e) {
        layer.weight[e] = row[e - first].first, layer.index[e] = row[e - first].second;
        l1 += std::abs(layer.weight[e]);
        ++readers[layer.index[e]];
      }
      // Every sum must fit int32, where the engine's wrapping sums are exact (|code - zero| <= levels).
      if (l1 * layer.levels > INT32_MAX) return nullptr;
      layer.l1.push_back(l1);
      layer.start.push_back(static_cast<int64_t>(layer.index.size()));
      if (static_cast<int64_t>(layer.index.size()) + entries > max_entries) return nullptr;
    }
    entries += static_cast<int64_t>(layer.index.size());
    layer.fan_out = *std::max_element(readers.begin(), readers.end());
    bounds->layers_.push_back(std::move(layer));
  }
  return bounds;
}

// A sum the back-substitution carries: constant + lambda . (q - zero) over some layer's input codes, and what its
// float arithmetic may have lost: `error` outright, beside (terms + 4) 2u `magnitude` (the absolute terms summed,
// each rounded once or twice, then summed: a generous gamma bound).
struct LinearBounds::Sum {
  double constant = 0, error = 0, magnitude = 0, terms = 0;
};

double LinearBounds::minimum(size_t t, Sum sum, const int32_t* q_lo, const int32_t* q_hi, Scratch& s) const {
  std::vector<double>& lambda = s.lambda;
  int32_t zero = layers_[t].zero;
  for (size_t l = t; l-- > 0;) {
    // lambda . (q - zero) over this layer's output codes q, each replaced by the line below it (lambda >= 0) or
    // above it: mu . acc + constant; then acc = W (q' - z') gives lambda' = W^T mu over this layer's input codes.
    const Layer& layer = layers_[l];
    const double* line = s.line[l].data();
    std::vector<double>& mu = s.mu;
    mu.assign(layer.out, 0.0);
    s.sign[l].assign(layer.out, 0);
    s.coef[l].assign(lambda.begin(), lambda.begin() + layer.out);
    double transposed = 0;
    for (int64_t o = 0; o < layer.out; ++o) {
      const double lam = lambda[o];
      if (lam == 0) continue;
      s.sign[l][o] = lam >= 0 ? 1 : -1;
      const double* pick = line + 4 * o + (lam >= 0 ? 0 : 2);
      const double term = lam * (pick[1] - zero);
      sum.constant += term;
      mu[o] = lam * pick[0];
      const double size =
          std::max(std::fabs(static_cast<double>(s.acc_lo[l][o])), std::fabs(static_cast<double>(s.acc_hi[l][o])));
      sum.magnitude += std::fabs(term) + std::fabs(mu[o]) * size, ++sum.terms;
      transposed += std::fabs(mu[o]) * layer.l1[o];
    }
    lambda.assign(layer.in, 0.0);
    for (int64_t o = 0; o < layer.out; ++o) {
      const double m = mu[o];
      if (m == 0) continue;
      for (int64_t e = layer.start[o]; e < layer.start[o + 1]; ++e) lambda[layer.index[e]] += m * layer.weight[e];
    }
    // Each lambda'_i sums at most fan_out products: within (fan_out + 2) u sum |mu w| of W^T mu, times |q' - z'|.
    const double range_in = std::max(layer.zero, layer.levels - layer.zero);
    sum.error += static_cast<double>(layer.fan_out + 2) * kUnit * transposed * range_in;
    zero = layer.zero;
  }
  // The minimum over the box of the first layer's input codes, term by term.
  double total = sum.constant;
  for (int64_t i = 0; i < layers_[0].in; ++i) {
    const double c = lambda[i];
    if (c == 0) continue;
    const double term = c * ((c >= 0 ? q_lo[i] : q_hi[i]) - zero);
    total += term;
    sum.magnitude += std::fabs(term), ++sum.terms;
  }
  if (!std::isfinite(total)) return kMinus;
  return total - (sum.error + (sum.terms + 4) * 2 * kUnit * sum.magnitude) * (1 + 0x1p-20);
}

bool LinearBounds::margins(const int32_t* q_lo, const int32_t* q_hi, int64_t label, double* lower, double* score,
                           bool tighten, Scratch& s, const Domain* domain_or_null, int slope_steps) const {
  const Domain domain = domain_or_null != nullptr ? *domain_or_null : Domain{};
  const size_t count = layers_.size();
  s.acc_lo.resize(count), s.acc_hi.resize(count), s.code_lo.resize(count), s.code_hi.resize(count);
  s.line.resize(count), s.bends.resize(count), s.sign.resize(count), s.coef.resize(count);
  s.worst = std::numeric_limits<double>::infinity();
  s.code_lo[0].assign(q_lo, q_lo + layers_[0].in);
  s.code_hi[0].assign(q_hi, q_hi + layers_[0].in);
  // Layer by layer: interval bounds of the accumulators, as bounds.cc computes them (exact sign-split sums); past the
  // first layer, each accumulator of a neuron whose codes are not single is also bounded by back-substitution to the
  // box (its row of W, through the lines of the layers below) where that is tighter (an accumulator is an integer:
  // the bounds round inward once the float error is taken off); the codes at both ends (requant_code) and the
  // lines enclosing each hidden neuron over its accumulator interval.
  for (size_t l = 0; l < count; ++l) {
    const Layer& layer = layers_[l];
    std::vector<int64_t>& al = s.acc_lo[l];
    std::vector<int64_t>& au = s.acc_hi[l];
    al.assign(layer.out, 0);
    au.assign(layer.out, 0);
    const int32_t* ql = s.code_lo[l].data();
    const int32_t* qh = s.code_hi[l].data();
    const bool hidden = l + 1 < count;
    for (int64_t o = 0; o < layer.out; ++o) {
      if (hidden && domain.acc_lo != nullptr) {
        // A hidden neuron of one code over the larger box has that code here: its interval sums can only narrow an
        // accumulator interval that changes nothing (its lines are that code either way), so they are skipped.
        const int64_t box_lo = (*domain.acc_lo)[l][o], box_hi = (*domain.acc_hi)[l][o];
        if (layer.code(o, box_lo) == layer.code(o, box_hi)) {
          al[o] = box_lo;
          au[o] = box_hi;
          continue;
        }
      }
      int64_t lo = 0, hi = 0;
      for (int64_t e = layer.start[o]; e < layer.negative[o]; ++e) {
        const int64_t w = layer.weight[e], i = layer.index[e];
        lo += w * (ql[i] - layer.zero);
        hi += w * (qh[i] - layer.zero);
      }
      for (int64_t e = layer.negative[o]; e < layer.start[o + 1]; ++e) {
        const int64_t w = layer.weight[e], i = layer.index[e];
        lo += w * (qh[i] - layer.zero);
        hi += w * (ql[i] - layer.zero);
      }
      al[o] = lo;
      au[o] = hi;
    }
    // Bounds that hold over a larger box hold over this one; a clamp keeps the inputs whose accumulator lies in it.
    if (domain.acc_lo != nullptr) {
      for (int64_t o = 0; o < layer.out; ++o) {
        al[o] = std::max(al[o], (*domain.acc_lo)[l][o]);
        au[o] = std::min(au[o], (*domain.acc_hi)[l][o]);
      }
    }
    if (domain.clamps != nullptr) {
      for (const NeuronClamp& c : *domain.clamps) {
        if (c.layer != static_cast<int32_t>(l)) continue;
        al[c.neuron] = std::max(al[c.neuron], c.lo);
        au[c.neuron] = std::min(au[c.neuron], c.hi);
        if (al[c.neuron] > au[c.neuron]) return false;
      }
    }
    if (l + 1 == count) break;
    std::vector<int32_t>& cl = s.code_lo[l + 1];
    std::vector<int32_t>& ch = s.code_hi[l + 1];
    cl.resize(layer.out);
    ch.resize(layer.out);
    s.line[l].resize(4 * layer.out);
    s.bends[l].resize(layer.out);
    for (int64_t o = 0; o < layer.out; ++o) {
      const int64_t c = o / layer.channel_size;
      const float m = layer.multiplier[c], b = layer.bias[c];
      const auto code = [&](int64_t acc) {
        return kernels::requant_code(static_cast<int32_t>(acc), m, b, layer.min, layer.max);
      };
      if (l > 0 && tighten && code(al[o]) != code(au[o])) {
        for (const double sign : {1.0, -1.0}) {
          const auto start = [&] {
            s.lambda.assign(layer.in, 0.0);
            for (int64_t e = layer.start[o]; e < layer.start[o + 1]; ++e) {
              s.lambda[layer.index[e]] = sign * layer.weight[e];
            }
            return Sum{};
          };
          const double bound =  // of sign * acc
              optimised(l, start, minimum(l, start(), q_lo, q_hi, s), slope_steps, q_lo, q_hi, s);
          if (!(bound > -0x1p62)) continue;
          if (sign > 0) {
            al[o] = std::max(al[o], static_cast<int64_t>(std::ceil(bound)));
          } else {
            au[o] = std::min(au[o], static_cast<int64_t>(std::floor(-bound)));
          }
        }
        // Without clamps every input of the box lies in both bounds; with them the domain may be empty.
        if (al[o] > au[o]) {
          if (domain.clamps == nullptr || domain.clamps->empty()) {
            throw std::logic_error("linear bounds: an empty accumulator interval");
          }
          return false;
        }
      }
      cl[o] = code(al[o]);
      ch[o] = code(au[o]);
      // The default lines: of the chord and slope 0, the one closer to the bound at the interval's middle.
      const Bends& k = s.bends[l][o] = bends(al[o], au[o], cl[o], ch[o], m, b, layer.min, layer.max);
      double* line = s.line[l].data() + 4 * o;
      const double middle = 0.5 * (static_cast<double>(al[o]) + static_cast<double>(au[o]));
      best_line(k, false, middle, false, line);
      best_line(k, true, middle, false, line + 2);
    }
  }

  const Layer& out = layers_.back();
  const std::vector<int64_t>& out_lo = s.acc_lo.back();
  const std::vector<int64_t>& out_hi = s.acc_hi.back();
  // The engine's logit fl(fma(float(acc), m, b)) against m acc + b exactly (as bounds.cc's fused margin).
  const auto logit_error = [&](int64_t c) {
    const double a = std::max(std::fabs(static_cast<double>(out_lo[c])), std::fabs(static_cast<double>(out_hi[c])));
    const double m = out.multiplier[c], bias = std::fabs(static_cast<double>(out.bias[c]));
    return std::pair<double, double>{0x1p-24 * ((2 + 0x1p-24) * m * a + bias) + 0x1p-150, m * a + bias};
  };
  const auto proved = [&](int64_t j) { return j < label ? lower[j] > 0 : lower[j] >= 0; };
  for (int64_t j = 0; j < out.out; ++j) {
    if (j == label || proved(j)) continue;  // nothing to raise
    // D = E_label - E_j = sum_k c_k (q_k - z) + (b_label - b_j), c_k = m_label w_label,k - m_j w_j,k: the products
    // are exact in double, the difference rounds once (relative error u).
    const auto start = [&] {
      std::vector<double>& lambda = s.lambda;
      lambda.assign(out.in, 0.0);
      const double my = out.multiplier[label], mj = out.multiplier[j];
      for (int64_t e = out.start[label]; e < out.start[label + 1]; ++e) lambda[out.index[e]] += my * out.weight[e];
      for (int64_t e = out.start[j]; e < out.start[j + 1]; ++e) lambda[out.index[e]] -= mj * out.weight[e];
      Sum sum;
      const double range_out = std::max(out.zero, out.levels - out.zero);
      for (const double c : lambda) sum.error += kUnit * std::fabs(c) * range_out;
      sum.constant = static_cast<double>(out.bias[label]) - static_cast<double>(out.bias[j]);
      sum.magnitude = std::fabs(sum.constant), sum.terms = 1;
      return sum;
    };
    const auto [error_y, size_y] = logit_error(label);
    const auto [error_j, size_j] = logit_error(j);
    // A logit near float32's largest value may round to infinity, where no error bound holds.
    if (!(std::max(size_y, size_j) * (1 + 0x1p-20) < FLT_MAX)) continue;
    double d = minimum(count - 1, start(), q_lo, q_hi, s);
    if (score != nullptr) s.input_score.assign(s.lambda.begin(), s.lambda.end());
    d = optimised(count - 1, start, d, slope_steps, q_lo, q_hi, s, score != nullptr);
    lower[j] = std::max(lower[j], std::nextafter(d - (error_y + error_j) * (1 + 0x1p-20), kMinus));
    if (score != nullptr && !proved(j)) {
      // What each input code's width costs this margin's first bound; and the last pass of the worst margin
      // still open, for choose_neuron().
      for (int64_t i = 0; i < layers_[0].in; ++i) score[i] += std::fabs(s.input_score[i]) * (q_hi[i] - q_lo[i]);
      if (lower[j] < s.worst) {
        s.worst = lower[j];
        s.worst_coef.swap(s.last_coef), s.worst_point.swap(s.point), s.worst_line.swap(s.last_line);
        s.worst_input.assign(s.lambda.begin(), s.lambda.end());
      }
    }
  }
  return true;
}

double LinearBounds::optimised(size_t t, const std::function<Sum()>& start, double bound, int steps,
                               const int32_t* q_lo, const int32_t* q_hi, Scratch& s, bool record) const {
  // Each line of layers t - 1 .. 0 replaced by the best one at the point where the last bound is attained, and the
  // sum bounded again; every such line is valid over its interval, so the largest bound holds. The lines are
  // restored after.
  for (int step = 0; step < steps; ++step) {
    if (step == 0) {
      s.base_line.resize(t);
      for (size_t l = 0; l < t; ++l) s.base_line[l] = s.line[l];
    }
    attained(t, q_lo, q_hi, s);
    for (size_t l = 0; l < t; ++l) {
      for (int64_t o = 0; o < layers_[l].out; ++o) {
        const double x =
            std::min(static_cast<double>(s.acc_hi[l][o]), std::max(static_cast<double>(s.acc_lo[l][o]), s.point[l][o]));
        if (s.sign[l][o] > 0) best_line(s.bends[l][o], false, x, true, s.line[l].data() + 4 * o);
        if (s.sign[l][o] < 0) best_line(s.bends[l][o], true, x, true, s.line[l].data() + 4 * o + 2);
      }
    }
    bound = std::max(bound, minimum(t, start(), q_lo, q_hi, s));
  }
  if (record) {  // the last pass: its coefficients, the point where it is attained, its lines
    attained(t, q_lo, q_hi, s);
    s.last_coef = s.coef;
    s.last_line.resize(t);
    for (size_t l = 0; l < t; ++l) s.last_line[l] = s.line[l];
  }
  for (size_t l = 0; steps > 0 && l < t; ++l) s.line[l].swap(s.base_line[l]);
  return bound;
}

void LinearBounds::attained(size_t t, const int32_t* q_lo, const int32_t* q_hi, Scratch& s) const {
  // The box's corner that minimum() chose (by the sign of each input's coefficient), through every layer with each
  // hidden code replaced by the line minimum() used for it (the midpoint of both where it used none).
  std::vector<double>& value = s.mu;
  value.resize(layers_[0].in);
  for (int64_t i = 0; i < layers_[0].in; ++i) value[i] = s.lambda[i] >= 0 ? q_lo[i] : q_hi[i];
  s.point.resize(layers_.size() - 1);
  std::vector<double>& next = s.next;
  for (size_t l = 0; l < t; ++l) {
    const Layer& layer = layers_[l];
    std::vector<double>& acc = s.point[l];
    acc.assign(layer.out, 0.0);
    next.assign(layer.out, 0.0);
    const double* line = s.line[l].data();
    for (int64_t o = 0; o < layer.out; ++o) {
      const double* li = line + 4 * o;
      if (s.bends[l][o].single) {  // its lines are its one code, whatever the accumulator: no sum needed
        acc[o] = static_cast<double>(s.acc_lo[l][o]);
        next[o] = li[1];
        continue;
      }
      double a = 0;
      for (int64_t e = layer.start[o]; e < layer.start[o + 1]; ++e)
        a += layer.weight[e] * (value[layer.index[e]] - layer.zero);
      acc[o] = a;
      const int8_t sign = s.sign[l][o];
      next[o] = sign > 0   ? li[0] * a + li[1]
                : sign < 0 ? li[2] * a + li[3]
                           : 0.5 * (li[0] * a + li[1] + li[2] * a + li[3]);
    }
    value.swap(next);
  }
}

bool LinearBounds::choose_neuron(const Scratch& s, double threshold, NeuronClamp* left, NeuronClamp* right) const {
  if (!(s.worst < std::numeric_limits<double>::infinity())) return false;
  double best = threshold;
  for (size_t l = 0; l + 1 < layers_.size(); ++l) {
    const Layer& layer = layers_[l];
    for (int64_t o = 0; o < layer.out; ++o) {
      const double coef = s.worst_coef[l][o];
      const int32_t ql = s.code_lo[l + 1][o], qu = s.code_hi[l + 1][o];
      if (coef == 0 || ql == qu) continue;
      const int64_t c = o / layer.channel_size;
      const float m = layer.multiplier[c], b = layer.bias[c];
      const auto code = [&](int64_t acc) {
        return kernels::requant_code(static_cast<int32_t>(acc), m, b, layer.min, layer.max);
      };
      const int64_t al = s.acc_lo[l][o], au = s.acc_hi[l][o];
      // The kinks of the code as a function of the accumulator: where the clamps start to hold it. The cut is at
      // the lower clamp's, else the upper's, else in the middle of the codes: [ql, cut] and [cut + 1, qu].
      const int32_t bottom = code(INT32_MIN), top = code(INT32_MAX);
      const int32_t cut = ql == bottom ? ql : qu == top ? qu - 1 : ql + (qu - ql - 1) / 2;
      int64_t lo = al, hi = au;  // code(lo) <= cut < code(hi): find the largest accumulator with code <= cut
      while (hi - lo > 1) {
        const int64_t mid = lo + (hi - lo) / 2;
        (code(mid) <= cut ? lo : hi) = mid;
      }
      // What each half's best line at the point where the worst margin's bound is attained gains over the line
      // that bound used, times the coefficient: the smaller of the two halves' gains (both must be proved).
      const bool upper = coef < 0;
      const double* used = s.worst_line[l].data() + 4 * o + (upper ? 2 : 0);
      const double x = s.worst_point[l][o];
      double gain = std::numeric_limits<double>::infinity();
      for (const auto& [a0, a1] : {std::pair<int64_t, int64_t>{al, lo}, {lo + 1, au}}) {
        const Bends k = bends(a0, a1, code(a0), code(a1), m, b, layer.min, layer.max);
        const double at = std::min(static_cast<double>(a1), std::max(static_cast<double>(a0), x));
        double line[2];
        best_line(k, upper, at, true, line);
        const double before = used[0] * at + used[1], after = line[0] * at + line[1];
        gain = std::min(gain, std::fabs(coef) * (upper ? before - after : after - before));
      }
      if (gain > best) {
        best = gain;
        *left = {static_cast<int32_t>(l), o, al, lo};
        *right = {static_cast<int32_t>(l), o, lo + 1, au};
      }
    }
  }
  return best > threshold;
}
}  // namespace arq::verify
