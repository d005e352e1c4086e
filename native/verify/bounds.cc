#include "verify/bounds.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <mutex>
#include <stdexcept>

#include "common/cpu.h"
#include "engine/nhwc_ops.h"
#include "kernels/qu8-elementwise/elementwise.h"
#include "kernels/requant.h"

namespace arq::verify {

using engine::ElementwiseKind;
using engine::Grid;
using engine::IntOp;
using engine::OpKind;
using engine::Shape;

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr FloatInterval kTop{-kInf, kInf};

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

bool in_int32(int64_t v) { return v >= INT32_MIN && v <= INT32_MAX; }

// A carrier code on a layer's grid: op.lut (quantize(dequantize(c))), by formula for a code outside 0..255 (the -1 of
// a max pool window lying wholly in the padding, which the reference keeps as an int32). dequantize_value is
// scale * (c - zero) with scale > 0 and quantize_value is nondecreasing, so the table is nondecreasing in c.
int32_t layer_code(const IntOp& op, const Grid& carrier, int32_t c) {
  if (c >= 0 && c <= 255) return op.lut[c];
  return engine::quantize_value(engine::dequantize_value(c, carrier), op.spec.input_grid);
}

// x - y rounded toward -infinity (two-sum error term), NaN as -infinity: a lower bound of a difference of floats.
double difference_down(double x, double y) {
  const double s = x - y;
  if (std::isnan(s)) return -std::numeric_limits<double>::infinity();
  const double b = s - x;
  const double error = (x - (s - b)) + (-y - b);
  return error < 0 ? std::nextafter(s, -std::numeric_limits<double>::infinity()) : s;
}

// The sign-split sums of one Conv/Gemm (see IntervalPropagator::layer): acc_lo, acc_hi (zeroed, out.size()) get
// sum_k w_k * (w_k > 0 ? dl_k : dh_k) and sum_k w_k * (w_k > 0 ? dh_k : dl_k), dl <= dh being the layer codes minus z.
template <typename Acc>
void sign_split_sums(const IntOp& op, const int16_t* dl, const int16_t* dh, Acc* acc_lo, Acc* acc_hi) {
  const engine::IntOpSpec& s = op.spec;
  const Shape& in = op.in;
  const Shape& out = op.out;
  const bool conv = s.kind == OpKind::kConv;
  const int64_t group = conv ? s.group : 1;
  const int64_t in_per_group = in.c / group, out_per_group = out.c / group;
  const int64_t kh = conv ? s.kernel_h : 1, kw = conv ? s.kernel_w : 1;
  const int64_t sh = conv ? s.stride_h : 1, sw = conv ? s.stride_w : 1;
  const int64_t pt = conv ? s.pads[0] : 0, pl = conv ? s.pads[1] : 0;
  const int64_t in_hw = in.h * in.w, out_hw = out.h * out.w;
  if (!conv) {  // a Gemm: one dot product per output, the end chosen per term
    for (int64_t oc = 0; oc < out.c; ++oc) {
      const int8_t* row = s.weight.data() + oc * in.c;
      Acc lo = 0, hi = 0;
      for (int64_t k = 0; k < in.c; ++k) {  // w * dl, plus w * (dh - dl) where that lowers (raises) the term
        const Acc w = row[k], low = dl[k], width = static_cast<Acc>(dh[k] - dl[k]);
        const Acc base = w * low;
        lo += base + std::min<Acc>(w, 0) * width;
        hi += base + std::max<Acc>(w, 0) * width;
      }
      acc_lo[oc] = lo;
      acc_hi[oc] = hi;
    }
    return;
  }
  for (int64_t oc = 0; oc < out.c; ++oc) {
    const int64_t g = oc / out_per_group;
    Acc* lo = acc_lo + oc * out_hw;
    Acc* hi = acc_hi + oc * out_hw;
    for (int64_t ci = 0; ci < in_per_group; ++ci) {
      const int64_t channel = (g * in_per_group + ci) * in_hw;
      for (int64_t ky = 0; ky < kh; ++ky) {
        for (int64_t kx = 0; kx < kw; ++kx) {
          const Acc w = s.weight[((oc * in_per_group + ci) * kh + ky) * kw + kx];
          if (w == 0) continue;
          const int16_t* low = (w > 0 ? dl : dh) + channel;  // the end giving the smallest term
          const int16_t* high = (w > 0 ? dh : dl) + channel;
          // Output columns whose input column ix = ox * sw + kx - pl lies inside the image.
          const int64_t first = pl - kx <= 0 ? 0 : (pl - kx + sw - 1) / sw;
          const int64_t last_num = in.w - 1 + pl - kx;
          const int64_t end = last_num < 0 ? 0 : std::min(out.w, last_num / sw + 1);
          for (int64_t oy = 0; oy < out.h; ++oy) {
            const int64_t iy = oy * sh + ky - pt;
            if (iy < 0 || iy >= in.h) continue;
            for (int64_t ox = first; ox < end; ++ox) {
              const int64_t ix = ox * sw + kx - pl;
              lo[oy * out.w + ox] += w * low[iy * in.w + ix];
              hi[oy * out.w + ox] += w * high[iy * in.w + ix];
            }
          }
        }
      }
    }
  }
}

}  // namespace

float elementwise_value(ElementwiseKind kind, float l, float r) {
  switch (kind) {
    case ElementwiseKind::kAdd:
      return l + r;
    case ElementwiseKind::kSub:
      return l - r;
    case ElementwiseKind::kMul:
      return l * r;
    case ElementwiseKind::kDiv:
      return l / r;
  }
  return l;
}

// Float32 rounding to nearest is nondecreasing, so x + k, x - k, x * k (k >= 0), x / k (k > 0) are nondecreasing in
// x and k - x, x * k (k < 0), x / k (k < 0), k / x (x away from 0) are monotone too: the interval is the two end
// values, ordered. Those rules need finite ends and a finite constant (inf - inf, 0 * inf and 0 / 0 are NaN) and a
// divisor that keeps its sign over the interval; otherwise [-inf, +inf], which later quantizes to the whole grid
// (the NaN such a step may give quantizes to the zero code, inside it).
FloatInterval elementwise_interval(ElementwiseKind kind, float k, bool constant_first, float a, float b) {
  const auto f = [&](float x) {
    return constant_first ? elementwise_value(kind, k, x) : elementwise_value(kind, x, k);
  };
  return elementwise_ends(kind, k, constant_first, a, b, f(a), f(b));
}

FloatInterval elementwise_ends(ElementwiseKind kind, float k, bool constant_first, float a, float b, float ya,
                               float yb) {
  if (same_bits(a, b)) return {ya, ya};
  if (!std::isfinite(a) || !std::isfinite(b) || !std::isfinite(k)) return kTop;
  if (kind == ElementwiseKind::kDiv && (constant_first ? !(a > 0.0f || b < 0.0f) : k == 0.0f)) return kTop;
  if (std::isnan(ya) || std::isnan(yb)) return kTop;
  // Ordered by <, which keeps two zeros of opposite signs in their order: equal reals, which every later step
  // (quantization, the monotone steps, the pole test of k / x) treats alike.
  return yb < ya ? FloatInterval{yb, ya} : FloatInterval{ya, yb};
}

IntervalPropagator::IntervalPropagator(const engine::IntNetwork& net)
    : net_(net), elementwise_(&kernels::elementwise_config(active_isa())) {
  output_op_ = net.layout.producer[net.output];
  add_tables_.resize(net.ops.size());
  add_once_ = std::make_unique<std::once_flag[]>(net.ops.size());
  for (size_t i = 0; i < net.ops.size(); ++i) {
    const IntOp& op = net.ops[i];
    const bool layer = op.spec.kind == OpKind::kConv || op.spec.kind == OpKind::kGemm;
    // The monotonicity of every requantization rests on multipliers >= 0 (products and quotients of positive scales).
    narrow_.push_back(layer);
    packed_.emplace_back();
    if (layer) {
      const int64_t per_channel = static_cast<int64_t>(op.spec.weight.size()) / op.spec.out_channels;
      bool exact_in_float = true;
      for (int64_t oc = 0; oc < op.spec.out_channels; ++oc) {
        int64_t magnitude = 0;
        for (int64_t k = 0; k < per_channel; ++k) magnitude += std::abs(op.spec.weight[oc * per_channel + k]);
        // Layer codes and the zero point lie in [0, levels]: every |code - zero| and width is at most levels.
        const int64_t largest = magnitude * op.spec.input_grid.levels();
        if (largest > INT32_MAX) narrow_.back() = false;
        if (largest > (int64_t{1} << 24)) exact_in_float = false;
      }
      // The kernels sum in int32, wrapping: exact wherever the true sum fits int32 (narrow). Codes come out of the
      // kernels' own epilogue; a float output (the logits) is bounded from the sums, which float(acc) gives exactly
      // below 2^24.
      const bool one_group = op.spec.kind == OpKind::kGemm || op.spec.group == 1;
      const bool codes_out = !op.float_out && static_cast<int>(i) != output_op_;
      if (one_group && narrow_.back() && (codes_out || exact_in_float)) {
        auto packed = std::make_unique<Packed>();
        packed->codes_out = codes_out;
        const size_t n = static_cast<size_t>(op.spec.out_channels), k = static_cast<size_t>(per_channel);
        packed->config = &kernels::qgemm_config(active_isa(), n);
        // K in tap-major order, (ky, kx, ci), so that an im2col row is whole pixels copied from NHWC codes.
        std::vector<int8_t> weight(op.spec.weight.size());
        const bool conv = op.spec.kind == OpKind::kConv;
        const int64_t taps = conv ? op.spec.kernel_h * op.spec.kernel_w : 1, cin = per_channel / taps;
        for (size_t c = 0; c < n; ++c)
          for (int64_t ci = 0; ci < cin; ++ci)
            for (int64_t t = 0; t < taps; ++t) weight[c * k + t * cin + ci] = op.spec.weight[c * k + ci * taps + t];
        // Rows of 2K codes, [lo | hi]: the low sum reads lo through W+ and hi through W-, the high sum the converse.
        std::vector<int8_t> low(2 * weight.size()), high(2 * weight.size());
        for (size_t c = 0; c < n; ++c) {
          for (size_t q = 0; q < k; ++q) {
            const int8_t w = weight[c * k + q];
            low[c * 2 * k + q] = high[c * 2 * k + k + q] = std::max<int8_t>(w, 0);
            low[c * 2 * k + k + q] = high[c * 2 * k + q] = std::min<int8_t>(w, 0);
          }
        }
        packed->low = kernels::qgemm_pack(*packed->config, low.data(), 2 * k, n, 2 * k, op.spec.wbits);
        packed->high = kernels::qgemm_pack(*packed->config, high.data(), 2 * k, n, 2 * k, op.spec.wbits);
        packed->correction.resize(n);
        for (size_t c = 0; c < n; ++c) {
          int32_t sum = 0;
          for (size_t q = 0; q < k; ++q) sum += op.spec.weight[c * k + q];
          packed->correction[c] = op.spec.input_grid.zero * sum;
        }
        packed->ones.assign(n, 1.0f);
        packed->zeros.assign(n, 0.0f);
        packed_.back() = std::move(packed);
      }
      for (float m : op.layer.multiplier) {
        if (!(m >= 0.0f))
          throw std::invalid_argument(engine::op_label(i, op.spec) + ": a multiplier is negative or NaN");
      }
    }
    if (op.spec.kind == OpKind::kAdd && !(op.add.inv_scale >= 0.0f)) {
      throw std::invalid_argument(engine::op_label(i, op.spec) + ": the output scale's inverse is negative or NaN");
    }
  }
  if (output_op_ >= 0) {
    const IntOp& op = net.ops[output_op_];
    fused_ = op.spec.kind == OpKind::kGemm && op.float_out && op.spec.min == -kInf && op.spec.max == kInf;
    for (size_t c = 0; fused_ && c < op.layer.multiplier.size(); ++c) {
      fused_ = std::isfinite(op.layer.multiplier[c]) && std::isfinite(op.layer.bias[c]);
    }
  }
  paired_ = PairedPlan::build(net, narrow_);
  linear_ = LinearBounds::build(net);
}

// Conv and Gemm (a Gemm is a 1x1 conv of a 1x1 image with in.c inputs).
// Input codes: see layer_codes and layer_code. Accumulator acc = sum_k w_k * (q_k - z) over independent
// q_k in [lo_k, hi_k]: each term is smallest at lo_k when w_k > 0 and at hi_k when w_k < 0 (the sign split), and the
// sum of per-term minima is the minimum of the sum; padded taps read z and add 0. Summed in int64, exact. The engine
// sums in int32 (two's complement, wrapping), so an accumulator whose exact value fits int32 is exact there too;
// where the interval leaves int32 the engine may hold any int32, and the output is bounded over all of them.
// Epilogue: requant_code and requant_float are fma(float(acc), m, b) (float(acc) and the single rounding of fma are
// nondecreasing, m >= 0), a clamp by fmin/fmax (nondecreasing; a NaN becomes the lower clamp, and one only arises
// where every smaller acc also gives the lower clamp) and nearbyint: nondecreasing in acc, so the ends give the bounds.
void IntervalPropagator::layer_codes(size_t index, Bounds& b) const {
  const IntOp& op = net_.ops[index];
  const engine::IntOpSpec& s = op.spec;
  const ValueBounds& x = b.values[s.inputs[0]];
  std::vector<int32_t>& ql = b.layer_lo[index];
  std::vector<int32_t>& qh = b.layer_hi[index];
  const int64_t in_size = op.in.size();
  ql.resize(in_size);
  qh.resize(in_size);
  if (op.float_in) {
    // Layer codes of a float interval. quantize_value is t = x / scale (scale > 0), a clamp, nearbyint: each step is
    // nondecreasing in x, so the ends give the bounds. A non-point interval never has a NaN end (elementwise_ends
    // widens to [-inf, +inf] instead), and the NaN a point may hold maps to the zero code, as in the engine. Both
    // ends by the engine's vectorised quantization, quantize_value bit for bit.
    const Grid& g = s.input_grid;
    const kernels::QuantizeParams params{g.scale, static_cast<float>(-g.zero), static_cast<float>(g.levels() - g.zero),
                                         g.zero};
    b.pixels_lo.resize(in_size);
    b.pixels_hi.resize(in_size);
    elementwise_->quantize(static_cast<size_t>(in_size), x.lo.data(), b.pixels_lo.data(), params);
    elementwise_->quantize(static_cast<size_t>(in_size), x.hi.data(), b.pixels_hi.data(), params);
    std::copy(b.pixels_lo.begin(), b.pixels_lo.begin() + in_size, ql.begin());
    std::copy(b.pixels_hi.begin(), b.pixels_hi.begin() + in_size, qh.begin());
  } else {
    const Grid& carrier = *net_.grids[s.inputs[0]];
    for (int64_t i = 0; i < in_size; ++i) {
      ql[i] = layer_code(op, carrier, x.code_lo[i]);
      qh[i] = layer_code(op, carrier, x.code_hi[i]);
    }
  }
}

void IntervalPropagator::layer(size_t index, Bounds& b) const {
  const IntOp& op = net_.ops[index];
  const engine::IntOpSpec& s = op.spec;
  const Shape& out = op.out;
  layer_codes(index, b);
  const std::vector<int32_t>& ql = b.layer_lo[index];
  const std::vector<int32_t>& qh = b.layer_hi[index];
  const int64_t in_size = op.in.size();
  const int32_t z = s.input_grid.zero;
  const int64_t out_hw = out.h * out.w;
  std::vector<int64_t>& acc_lo = b.acc_lo;
  std::vector<int64_t>& acc_hi = b.acc_hi;
  // The codes relative to the zero point, the two ends of each term's factor (for the loops).
  std::vector<int16_t>& dl = b.scratch_lo;
  std::vector<int16_t>& dh = b.scratch_hi;
  if (!packed_[index]) {
    dl.resize(in_size);
    dh.resize(in_size);
    for (int64_t i = 0; i < in_size; ++i) {
      dl[i] = static_cast<int16_t>(ql[i] - z);  // codes and zero points lie in [0, 255]
      dh[i] = static_cast<int16_t>(qh[i] - z);
    }
  }
  if (packed_[index]) {
    if (packed_sums(index, b, acc_lo, acc_hi)) return;
  } else if (narrow_[index]) {
    // The same sums in int32 (they cannot overflow there), which vectorizes.
    b.acc32_lo.assign(out.size(), 0);
    b.acc32_hi.assign(out.size(), 0);
    sign_split_sums(op, dl.data(), dh.data(), b.acc32_lo.data(), b.acc32_hi.data());
    acc_lo.assign(b.acc32_lo.begin(), b.acc32_lo.end());
    acc_hi.assign(b.acc32_hi.begin(), b.acc32_hi.end());
  } else {
    acc_lo.assign(out.size(), 0);
    acc_hi.assign(out.size(), 0);
    sign_split_sums(op, dl.data(), dh.data(), acc_lo.data(), acc_hi.data());
  }

  ValueBounds& y = b.values[s.output];
  for (int64_t oc = 0; oc < out.c; ++oc) {
    const float m = op.layer.multiplier[oc], bias = op.layer.bias[oc];
    for (int64_t p = 0; p < out_hw; ++p) {
      const int64_t o = oc * out_hw + p;
      const bool exact = in_int32(acc_lo[o]) && in_int32(acc_hi[o]);
      const int32_t a = exact ? static_cast<int32_t>(acc_lo[o]) : INT32_MIN;
      const int32_t c = exact ? static_cast<int32_t>(acc_hi[o]) : INT32_MAX;
      if (op.float_out) {
        y.lo[o] = std::fmin(std::fmax(kernels::requant_float(a, m, bias), s.min), s.max);
        y.hi[o] = a == c ? y.lo[o] : std::fmin(std::fmax(kernels::requant_float(c, m, bias), s.min), s.max);
      } else {
        y.code_lo[o] = kernels::requant_code(a, m, bias, op.layer.min, op.layer.max);
        y.code_hi[o] = kernels::requant_code(c, m, bias, op.layer.min, op.layer.max);
      }
    }
  }
  if (static_cast<int>(index) == output_op_) {
    b.out_acc_lo = acc_lo;
    b.out_acc_hi = acc_hi;
  }
}

// The sign-split sums by the engine's GEMM kernels, over rows [lo | hi] of 2K codes (im2col in (ky, kx, ci) order, as
// the weights were packed; padding reads the code z at both ends):
//   acc_lo = W+ lo + W- hi - z sum W,   acc_hi = W- lo + W+ hi - z sum W,
// the same sums as sign_split_sums (a term w (lo - z) for w > 0, w (hi - z) for w < 0, and the converse). The kernels
// sum in int32 with wrap-around, exact here because every such sum fits int32 (narrow_). With codes_out the kernels'
// epilogue (requant.h's requant_code, bit for bit, at both ends) writes the output codes; otherwise the sums, below
// 2^24 in magnitude, come back as float(acc) with multiplier 1 and bias 0, exact.
bool IntervalPropagator::packed_sums(size_t index, Bounds& b, std::vector<int64_t>& acc_lo,
                                     std::vector<int64_t>& acc_hi) const {
  const IntOp& op = net_.ops[index];
  const engine::IntOpSpec& s = op.spec;
  const Packed& p = *packed_[index];
  const Shape& in = op.in;
  const Shape& out = op.out;
  const bool conv = s.kind == OpKind::kConv;
  const int64_t kh = conv ? s.kernel_h : 1, kw = conv ? s.kernel_w : 1;
  const size_t kc = p.low.kc, n = static_cast<size_t>(out.c);
  const size_t k = p.low.k / 2;  // taps * channels: the hi half of a row starts there
  const int64_t rows = out.h * out.w;
  const std::vector<int32_t>& ql = b.layer_lo[index];
  const std::vector<int32_t>& qh = b.layer_hi[index];
  const uint8_t zero = static_cast<uint8_t>(s.input_grid.zero);
  // NHWC copies of the low and high codes, then one im2col row per output pixel, tap by tap.
  const int64_t hw = in.h * in.w;
  b.pixels_lo.resize(in.size());
  b.pixels_hi.resize(in.size());
  for (int64_t c = 0; c < in.c; ++c) {
    for (int64_t p = 0; p < hw; ++p) {
      b.pixels_lo[p * in.c + c] = static_cast<uint8_t>(ql[c * hw + p]);
      b.pixels_hi[p * in.c + c] = static_cast<uint8_t>(qh[c * hw + p]);
    }
  }
  b.rows.resize(static_cast<size_t>(rows) * kc);
  const size_t cin = static_cast<size_t>(in.c);
  const size_t span = static_cast<size_t>(kw) * cin;  // one kernel row of taps: contiguous in NHWC and in a row
  for (int64_t oy = 0; oy < out.h; ++oy) {
    for (int64_t ox = 0; ox < out.w; ++ox) {
      uint8_t* row = b.rows.data() + (oy * out.w + ox) * kc;
      std::fill(row + 2 * k, row + kc, uint8_t{0});  // the tail up to the kernels' k-block
      const int64_t ix0 = conv ? ox * s.stride_w - s.pads[1] : 0;
      for (int64_t ky = 0; ky < kh; ++ky) {
        const int64_t iy = conv ? oy * s.stride_h + ky - s.pads[0] : 0;
        if (iy >= 0 && iy < in.h && ix0 >= 0 && ix0 + kw <= in.w) {
          const size_t at = static_cast<size_t>(ky) * span, from = static_cast<size_t>(iy * in.w + ix0) * cin;
          std::copy_n(b.pixels_lo.data() + from, span, row + at);
          std::copy_n(b.pixels_hi.data() + from, span, row + k + at);
          continue;
        }
        for (int64_t kx = 0; kx < kw; ++kx) {
          const size_t at = static_cast<size_t>(ky * kw + kx) * cin;
          const int64_t ix = ix0 + kx;
          if (iy < 0 || iy >= in.h || ix < 0 || ix >= in.w) {
            std::fill(row + at, row + at + cin, zero);  // padding reads z at both ends
            std::fill(row + k + at, row + k + at + cin, zero);
            continue;
          }
          std::copy_n(b.pixels_lo.data() + (iy * in.w + ix) * cin, cin, row + at);
          std::copy_n(b.pixels_hi.data() + (iy * in.w + ix) * cin, cin, row + k + at);
        }
      }
    }
  }
  const size_t scratch =
      std::max(kernels::qgemm_scratch_bytes(*p.config, p.low), kernels::qgemm_scratch_bytes(*p.config, p.high));
  if (b.gemm_scratch.size() < scratch) b.gemm_scratch.resize(scratch);
  int8_t* work = b.gemm_scratch.empty() ? nullptr : b.gemm_scratch.data();
  const size_t count = static_cast<size_t>(rows) * n;
  if (p.codes_out) {
    const kernels::RequantParams params{op.layer.multiplier.data(), op.layer.bias.data(), p.correction.data(),
                                        op.layer.min, op.layer.max};
    b.codes.resize(2 * count);
    kernels::qgemm(*p.config, rows, b.rows.data(), kc, p.low, b.codes.data(), n, params, false, work);
    kernels::qgemm(*p.config, rows, b.rows.data(), kc, p.high, b.codes.data() + count, n, params, false, work);
    ValueBounds& y = b.values[s.output];
    for (size_t c = 0; c < n; ++c) {
      for (int64_t r = 0; r < rows; ++r) {
        y.code_lo[c * rows + r] = b.codes[r * n + c];
        y.code_hi[c * rows + r] = b.codes[count + r * n + c];
      }
    }
    return true;
  }
  const kernels::RequantParams sums{p.ones.data(), p.zeros.data(), p.correction.data(), 0.0f, 0.0f};
  b.sums.resize(2 * count);
  kernels::qgemm(*p.config, rows, b.rows.data(), kc, p.low, b.sums.data(), n, sums, true, work);
  kernels::qgemm(*p.config, rows, b.rows.data(), kc, p.high, b.sums.data() + count, n, sums, true, work);
  acc_lo.resize(out.size());
  acc_hi.resize(out.size());
  for (size_t c = 0; c < n; ++c) {
    for (int64_t r = 0; r < rows; ++r) {
      acc_lo[c * rows + r] = static_cast<int64_t>(b.sums[r * n + c]);
      acc_hi[c * rows + r] = static_cast<int64_t>(b.sums[count + r * n + c]);
    }
  }
  return false;
}

void IntervalPropagator::resize(Bounds& b) const {
  const size_t values = net_.shapes.size();
  b.values.resize(values);
  b.layer_lo.resize(net_.ops.size());
  b.layer_hi.resize(net_.ops.size());
  for (size_t v = 0; v < values; ++v) {
    const size_t size = static_cast<size_t>(net_.shapes[v].size());
    ValueBounds& value = b.values[v];
    if (net_.grids[v]) {
      value.code_lo.resize(size);
      value.code_hi.resize(size);
    } else {
      value.lo.resize(size);
      value.hi.resize(size);
    }
  }
}

void IntervalPropagator::propagate(const float* lo, const float* hi, Bounds& b) const {
  resize(b);
  std::copy(lo, lo + net_.input.size(), b.values[0].lo.begin());
  std::copy(hi, hi + net_.input.size(), b.values[0].hi.begin());
  for (size_t index = 0; index < net_.ops.size(); ++index) step(index, b);
}

// Only the ops reading float values: the float prefix, and the first layers' input codes.
void IntervalPropagator::propagate_prefix(const float* lo, const float* hi, Bounds& b) const {
  resize(b);
  std::copy(lo, lo + net_.input.size(), b.values[0].lo.begin());
  std::copy(hi, hi + net_.input.size(), b.values[0].hi.begin());
  for (size_t index = 0; index < net_.ops.size(); ++index) {
    const IntOp& op = net_.ops[index];
    if (!op.float_in) continue;
    const bool layer = op.spec.kind == OpKind::kConv || op.spec.kind == OpKind::kGemm;
    if (layer) {
      layer_codes(index, b);
    } else {
      step(index, b);
    }
  }
}

void IntervalPropagator::finish_paired(const uint8_t* codes, Bounds& b) const {
  resize(b);
  ValueBounds& v = b.values[paired_->value()];
  paired_->unpack(codes, v.code_lo.data(), v.code_hi.data());
  if (paired_->tail() >= 0) layer(static_cast<size_t>(paired_->tail()), b);
}

void IntervalPropagator::step(size_t index, Bounds& b) const {
  const IntOp& op = net_.ops[index];
  const engine::IntOpSpec& s = op.spec;
  const Shape& in = op.in;
  const Shape& out = op.out;
  const ValueBounds& x = b.values[s.inputs[0]];
  ValueBounds& y = b.values[s.output];
  const auto at = [](const Shape& shape, int64_t c, int64_t h, int64_t w) { return (c * shape.h + h) * shape.w + w; };
  switch (s.kind) {
    case OpKind::kConv:
    case OpKind::kGemm:
      layer(index, b);
      break;
    case OpKind::kAdd: {
      // add_codes is fma(lhs[q1] + rhs[q2], inv_scale, zero), a clamp and nearbyint: lhs and rhs are
      // s * float(q - z) with s > 0 (nondecreasing tables), float addition and the fma (inv_scale >= 0) are
      // nondecreasing, so the result is nondecreasing in each code. The engine's uint8 view of its operands is kept.
      // The ends are looked up in the op's table of add_codes over every pair of uint8 codes.
      const ValueBounds& x2 = b.values[s.inputs[1]];
      std::call_once(add_once_[index], [&] {  // built by the first propagation that needs it, off the event loop
        std::vector<uint8_t>& t = add_tables_[index];
        t.resize(256 * 256);
        for (int q1 = 0; q1 < 256; ++q1)
          for (int q2 = 0; q2 < 256; ++q2)
            t[q1 * 256 + q2] = engine::add_codes(static_cast<uint8_t>(q1), static_cast<uint8_t>(q2), op.add);
      });
      const uint8_t* table = add_tables_[index].data();
      const auto pair = [](int32_t q1, int32_t q2) {
        return static_cast<uint8_t>(q1) * 256 + static_cast<uint8_t>(q2);
      };
      for (int64_t i = 0; i < out.size(); ++i) {
        y.code_lo[i] = table[pair(x.code_lo[i], x2.code_lo[i])];
        y.code_hi[i] = table[pair(x.code_hi[i], x2.code_hi[i])];
      }
      break;
    }
    case OpKind::kClamp: {
      // min(max(q, lo), hi): nondecreasing.
      const auto clamp = [&](int32_t q) {
        return std::min(std::max(q, static_cast<int32_t>(op.clamp_lo)), static_cast<int32_t>(op.clamp_hi));
      };
      for (int64_t i = 0; i < out.size(); ++i) y.code_lo[i] = clamp(x.code_lo[i]), y.code_hi[i] = clamp(x.code_hi[i]);
      break;
    }
    case OpKind::kMaxPool:
    case OpKind::kAvgPool: {
      // Max of codes: nondecreasing in each. Average: average_code is nearbyint(float(sum) * inv_count) with
      // inv_count > 0, nondecreasing in the int32 sum, itself nondecreasing in each code; padding adds the
      // constant zero code (count_include_pad) or nothing.
      const int32_t zero = net_.grids[s.inputs[0]]->zero;
      const bool max_pool = s.kind == OpKind::kMaxPool;
      // The taps of a window inside the image: ky in [ky0, ky1), kx in [kx0, kx1); the others read padding.
      const auto inside = [](int64_t start, int64_t kernel, int64_t size, int64_t* k0, int64_t* k1) {
        *k0 = std::max<int64_t>(0, -start);
        *k1 = std::max(*k0, std::min(kernel, size - start));
      };
      for (int64_t c = 0; c < out.c; ++c) {
        const int32_t* lo_plane = x.code_lo.data() + c * in.h * in.w;
        const int32_t* hi_plane = x.code_hi.data() + c * in.h * in.w;
        for (int64_t oy = 0; oy < out.h; ++oy) {
          const int64_t y0 = oy * s.stride_h - s.pads[0];
          int64_t ky0, ky1;
          inside(y0, s.kernel_h, in.h, &ky0, &ky1);
          for (int64_t ox = 0; ox < out.w; ++ox) {
            const int64_t x0 = ox * s.stride_w - s.pads[1];
            int64_t kx0, kx1;
            inside(x0, s.kernel_w, in.w, &kx0, &kx1);
            int32_t best_lo = -1, best_hi = -1, sum_lo = 0, sum_hi = 0;
            for (int64_t ky = ky0; ky < ky1; ++ky) {
              const int64_t i0 = (y0 + ky) * in.w + x0;
              for (int64_t kx = kx0; kx < kx1; ++kx) {
                if (max_pool) {
                  best_lo = std::max(best_lo, lo_plane[i0 + kx]);
                  best_hi = std::max(best_hi, hi_plane[i0 + kx]);
                } else {
                  sum_lo += lo_plane[i0 + kx];
                  sum_hi += hi_plane[i0 + kx];
                }
              }
            }
            const int64_t o = at(out, c, oy, ox);
            if (max_pool) {
              y.code_lo[o] = best_lo;
              y.code_hi[o] = best_hi;
              continue;
            }
            const int64_t valid = (ky1 - ky0) * (kx1 - kx0), taps = s.kernel_h * s.kernel_w;
            if (s.count_include_pad) {
              sum_lo += static_cast<int32_t>(taps - valid) * zero;
              sum_hi += static_cast<int32_t>(taps - valid) * zero;
            }
            const float inv = engine::inverse_count(s.count_include_pad ? taps : valid);
            y.code_lo[o] = engine::average_code(sum_lo, inv);
            y.code_hi[o] = engine::average_code(sum_hi, inv);
          }
        }
      }
      break;
    }
    case OpKind::kGlobalAvgPool: {
      const int64_t hw = in.h * in.w;
      const float inv = engine::inverse_count(hw);
      for (int64_t c = 0; c < in.c; ++c) {
        int32_t sum_lo = 0, sum_hi = 0;
        for (int64_t p = 0; p < hw; ++p) sum_lo += x.code_lo[c * hw + p], sum_hi += x.code_hi[c * hw + p];
        y.code_lo[c] = engine::average_code(sum_lo, inv);
        y.code_hi[c] = engine::average_code(sum_hi, inv);
      }
      break;
    }
    case OpKind::kPad:
    case OpKind::kRepeat: {
      // Copies, and a constant (the pad value, or the code it quantizes to) outside the input.
      const bool real = op.float_in;
      if (real) {
        std::fill(y.lo.begin(), y.lo.end(), s.pad_value);
        std::fill(y.hi.begin(), y.hi.end(), s.pad_value);
      } else {
        std::fill(y.code_lo.begin(), y.code_lo.end(), static_cast<int32_t>(op.pad_code));
        std::fill(y.code_hi.begin(), y.code_hi.end(), static_cast<int32_t>(op.pad_code));
      }
      for (int64_t c = 0; c < out.c; ++c) {
        for (int64_t h = 0; h < out.h; ++h) {
          for (int64_t w = 0; w < out.w; ++w) {
            const int64_t ih = s.kind == OpKind::kPad ? h - s.pads[0] : h;
            const int64_t iw = s.kind == OpKind::kPad ? w - s.pads[1] : w;
            if (ih < 0 || ih >= in.h || iw < 0 || iw >= in.w) continue;
            const int64_t src = at(in, c % in.c, ih, iw), dst = at(out, c, h, w);
            if (real) {
              y.lo[dst] = x.lo[src];
              y.hi[dst] = x.hi[src];
            } else {
              y.code_lo[dst] = x.code_lo[src];
              y.code_hi[dst] = x.code_hi[src];
            }
          }
        }
      }
      break;
    }
    case OpKind::kElementwise: {
      // The step at both ends by the engine's own vectorised loop (the same float operation per element), then
      // ordered (elementwise_ends).
      const int64_t hw = in.h * in.w;
      for (int64_t c = 0; c < in.c; ++c) {
        const float k = s.constant[s.constant.size() == 1 ? 0 : c];
        engine::apply_constant(x.lo.data() + c * hw, y.lo.data() + c * hw, hw, s.elementwise, s.constant_first, k);
        engine::apply_constant(x.hi.data() + c * hw, y.hi.data() + c * hw, hw, s.elementwise, s.constant_first, k);
        // The common case inline: finite ends, no pole, no NaN (then elementwise_ends only orders the two values);
        // anything else through elementwise_ends.
        const bool simple_constant =
            std::isfinite(k) && !(s.elementwise == ElementwiseKind::kDiv && !s.constant_first && k == 0.0f);
        const bool pole = s.elementwise == ElementwiseKind::kDiv && s.constant_first;
        for (int64_t i = c * hw; i < (c + 1) * hw; ++i) {
          const float a = x.lo[i], b = x.hi[i], ya = y.lo[i], yb = y.hi[i];
          if (simple_constant && !pole && std::isfinite(a) && std::isfinite(b) && !std::isnan(ya) && !std::isnan(yb)) {
            // A point (a, b the same bits) has ya and yb the same bits too: the same operation on the same float.
            y.lo[i] = yb < ya ? yb : ya;
            y.hi[i] = yb < ya ? ya : yb;
            continue;
          }
          const FloatInterval r = elementwise_ends(s.elementwise, k, s.constant_first, a, b, ya, yb);
          y.lo[i] = r.lo;
          y.hi[i] = r.hi;
        }
      }
      break;
    }
    case OpKind::kFlatten:
      y.lo = x.lo, y.hi = x.hi, y.code_lo = x.code_lo, y.code_hi = x.code_hi;  // NCHW is flatten order
      break;
  }
}

void IntervalPropagator::logit_bounds(const Bounds& b, std::vector<float>& lo, std::vector<float>& hi) const {
  const ValueBounds& out = b.values[net_.output];
  const int64_t classes = this->classes();
  lo.resize(classes);
  hi.resize(classes);
  const auto& grid = net_.grids[net_.output];
  for (int64_t c = 0; c < classes; ++c) {
    // A carrier output's logits are dequantize_value(code): scale * float(q - zero), nondecreasing in q.
    lo[c] = grid ? engine::dequantize_value(out.code_lo[c], *grid) : out.lo[c];
    hi[c] = grid ? engine::dequantize_value(out.code_hi[c], *grid) : out.hi[c];
  }
}

// logit_label - logit_j from the last Gemm's input codes q_k in [lo_k, hi_k] (the output layer fused with the
// specification). With E_c = m_c * acc_c + b_c (exact reals), D = E_label - E_j = sum_k c_k (q_k - z) + (b_label -
// b_j), c_k = m_label w_label,k - m_j w_j,k, is smallest term by term at lo_k (c_k >= 0) or hi_k (c_k < 0). In double:
// the products m w are exact (24 x 8 bits), c_k, each term and each partial sum round once, so the computed sum is
// within (K + 3) u * S of D (u = 2^-53, S the sum of the absolute terms); we subtract (K + 4) 2^-52 S. The engine's
// logit is fl(fma(float(acc), m, b)): float(acc) is within 2^-24 |acc| of acc and the fma rounds once (relative
// 2^-24, absolute 2^-150 when subnormal), so |logit_c - E_c| <= 2^-24 ((2 + 2^-24) |m_c| A_c + |b_c|) + 2^-150 with
// A_c = max |acc_c| over the box. The total error is enlarged by 2^-20 relative and the result rounded down once more.
double IntervalPropagator::fused_margin(const Bounds& b, int64_t label, int64_t j) const {
  constexpr double kMinus = -std::numeric_limits<double>::infinity();
  const IntOp& op = net_.ops[output_op_];
  const int64_t k_count = op.in.size();
  const int64_t a_lo = std::min(b.out_acc_lo[label], b.out_acc_lo[j]),
                a_hi = std::max(b.out_acc_hi[label], b.out_acc_hi[j]);
  if (!in_int32(a_lo) || !in_int32(a_hi)) return kMinus;  // the engine's accumulator may have wrapped
  const std::vector<int32_t>& ql = b.layer_lo[output_op_];
  const std::vector<int32_t>& qh = b.layer_hi[output_op_];
  const int32_t z = op.spec.input_grid.zero;
  const double my = op.layer.multiplier[label], mj = op.layer.multiplier[j];
  const int8_t* wy = op.spec.weight.data() + label * k_count;
  const int8_t* wj = op.spec.weight.data() + j * k_count;
  double sum = 0, magnitude = 0;
  for (int64_t k = 0; k < k_count; ++k) {
    const double c = my * wy[k] - mj * wj[k];
    const double term = c * static_cast<double>((c >= 0 ? ql[k] : qh[k]) - z);
    sum += term;
    magnitude += std::fabs(term);
  }
  const double by = op.layer.bias[label], bj = op.layer.bias[j];
  sum += by - bj;
  magnitude += std::fabs(by - bj);
  const auto logit_error = [&](int64_t c) {
    const double a =
        std::max(std::fabs(static_cast<double>(b.out_acc_lo[c])), std::fabs(static_cast<double>(b.out_acc_hi[c])));
    const double m = op.layer.multiplier[c], bias = std::fabs(static_cast<double>(op.layer.bias[c]));
    return std::pair<double, double>{0x1p-24 * ((2 + 0x1p-24) * m * a + bias) + 0x1p-150, m * a + bias};
  };
  const auto [error_y, size_y] = logit_error(label);
  const auto [error_j, size_j] = logit_error(j);
  // A logit near float32's largest value may round to infinity, where no error bound holds.
  if (std::max(size_y, size_j) * (1 + 0x1p-20) >= FLT_MAX) return kMinus;
  const double error = (static_cast<double>(k_count + 4) * 0x1p-52 * magnitude + error_y + error_j) * (1 + 0x1p-20);
  return std::nextafter(sum - error, kMinus);
}

bool IntervalPropagator::margins(const Bounds& b, int64_t label, double* lower) const {
  std::vector<float> lo, hi;
  logit_bounds(b, lo, hi);
  bool verified = true;
  for (int64_t j = 0; j < classes(); ++j) {
    if (j == label) {
      lower[j] = std::numeric_limits<double>::infinity();
      continue;
    }
    // logit_label >= lo[label] and logit_j <= hi[j] for every input in the box.
    double bound = difference_down(lo[label], hi[j]);
    if (fused_) bound = std::max(bound, fused_margin(b, label, j));
    lower[j] = bound;
    if (j < label ? !(bound > 0) : !(bound >= 0)) verified = false;
  }
  return verified;
}

}  // namespace arq::verify
