#include "verify/paired_plan.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "common/memory_limit.h"

namespace arq::verify {

using engine::ElementwiseKind;
using engine::IntOp;
using engine::IntOpSpec;
using engine::OpKind;

namespace {

// Where each channel of a paired value comes from: per channel of the paired value, the original channel (for a
// flat value, the original element) and whether it holds the high end. Channels, not fixed halves, because a channel
// repeat interleaves the ends and a decreasing step swaps them; the next Conv/Gemm's columns follow the map.
struct EndMap {
  std::vector<int64_t> channel;
  std::vector<uint8_t> high;
  bool operator==(const EndMap& o) const { return channel == o.channel && high == o.high; }
};

// Channels [lo 0..c-1 | hi 0..c-1].
EndMap halves(int64_t c) {
  EndMap m;
  for (int64_t e = 0; e < 2; ++e)
    for (int64_t i = 0; i < c; ++i) m.channel.push_back(i), m.high.push_back(static_cast<uint8_t>(e));
  return m;
}

// x op k (or k op x) in float32 is nondecreasing or nonincreasing in x over the extended reals and never NaN for a
// finite x or an infinite one, when k is finite (no inf - inf), nonzero for mul and div (no 0 * inf, x / 0), and x is
// not the divisor (k / x crosses a pole). Returns false for any other step; *decreasing says which way it goes.
bool strictly_monotone(ElementwiseKind kind, bool constant_first, float k, bool* decreasing) {
  if (!std::isfinite(k)) return false;
  switch (kind) {
    case ElementwiseKind::kAdd:
      *decreasing = false;
      return true;
    case ElementwiseKind::kSub:
      *decreasing = constant_first;
      return true;
    case ElementwiseKind::kMul:
      *decreasing = k < 0.0f;
      return k != 0.0f;
    case ElementwiseKind::kDiv:
      *decreasing = k < 0.0f;
      return k != 0.0f && !constant_first;
  }
  return false;
}

}  // namespace

std::unique_ptr<PairedPlan> PairedPlan::build(const engine::IntNetwork& net, const std::vector<bool>& narrow) {
  auto paired = std::unique_ptr<PairedPlan>(new PairedPlan());
  const int output_op = net.layout.producer[net.output];
  if (output_op < 0) return nullptr;
  size_t end = static_cast<size_t>(output_op) + 1;
  paired->value_ = net.output;
  if (!net.grids[net.output]) {  // float logits: the last layer stays with the propagator
    const IntOp& op = net.ops[output_op];
    if (op.spec.kind != OpKind::kConv && op.spec.kind != OpKind::kGemm) return nullptr;
    if (!net.grids[op.spec.inputs[0]]) return nullptr;
    paired->tail_ = output_op;
    paired->value_ = op.spec.inputs[0];
    end = static_cast<size_t>(output_op);
  }
  engine::IntPlanSpec spec;
  spec.input = engine::Shape{2 * net.input.c, net.input.h, net.input.w};
  spec.values = static_cast<int>(net.shapes.size());
  spec.output = paired->value_;
  spec.grids = net.grids;
  spec.memory_limit = net.memory_limit;
  std::vector<std::optional<EndMap>> maps(net.shapes.size());
  maps[0] = halves(net.input.c);
  for (size_t index = 0; index < end; ++index) {
    const IntOp& op = net.ops[index];
    IntOpSpec s = op.spec;
    const EndMap& in = *maps[s.inputs[0]];
    EndMap out = in;
    switch (s.kind) {
      case OpKind::kConv:
      case OpKind::kGemm: {
        // Row o (the low end of output o): a column holding the low end of input c takes W+[o][c], one holding the
        // high end W-[o][c]; row n + o (the high end) the converse. The sums are the sign split exactly: every sum of
        // a narrow layer fits int32, where the engine's wrapping sums are exact.
        if (!narrow[index] || (s.kind == OpKind::kConv && s.group != 1)) return nullptr;
        const int64_t n = s.out_channels, taps = s.kind == OpKind::kConv ? s.kernel_h * s.kernel_w : 1;
        const int64_t columns = static_cast<int64_t>(in.channel.size());
        const int64_t per = op.in.c * taps;
        s.weight.assign(static_cast<size_t>(2 * n * columns * taps), 0);
        for (int64_t r = 0; r < 2 * n; ++r) {
          const int64_t o = r % n;
          const bool high_row = r >= n;
          for (int64_t p = 0; p < columns; ++p) {
            for (int64_t t = 0; t < taps; ++t) {
              const int8_t w = op.spec.weight[o * per + in.channel[p] * taps + t];
              const bool positive_part = (in.high[p] != 0) == high_row;
              s.weight[(r * columns + p) * taps + t] = positive_part ? std::max<int8_t>(w, 0) : std::min<int8_t>(w, 0);
            }
          }
        }
        s.out_channels = 2 * n;
        // Where the input's ends are the halves [lo | hi], the engine may compute the same sums by centre and radius
        // (engine/interval_conv.h: two GEMMs of N x K, or N x 2K and N x K at 8-bit codes, for this one of 2N x 2K).
        s.interval = s.kind == OpKind::kConv && in == halves(op.in.c);
        s.weight_scales.insert(s.weight_scales.end(), op.spec.weight_scales.begin(), op.spec.weight_scales.end());
        s.bias.insert(s.bias.end(), op.spec.bias.begin(), op.spec.bias.end());
        out = halves(n);
        break;
      }
      case OpKind::kElementwise: {
        // The engine applies the step to each end; a decreasing step turns the low end into the high one.
        std::vector<float> constant;
        for (size_t p = 0; p < in.channel.size(); ++p) {
          const float k = s.constant[s.constant.size() == 1 ? 0 : static_cast<size_t>(in.channel[p])];
          bool decreasing = false;
          if (!strictly_monotone(s.elementwise, s.constant_first, k, &decreasing)) return nullptr;
          if (decreasing) out.high[p] ^= 1;
          constant.push_back(k);
        }
        if (s.constant.size() != 1) s.constant = constant;
        break;
      }
      case OpKind::kRepeat: {
        // Paired channel q copies paired channel q mod 2C, which is original channel (q / 2C) * C + its channel.
        const int64_t c = op.in.c, paired_c = 2 * c;
        out.channel.clear();
        out.high.clear();
        for (int64_t q = 0; q < paired_c * s.repeat; ++q) {
          out.channel.push_back((q / paired_c) * c + in.channel[q % paired_c]);
          out.high.push_back(in.high[q % paired_c]);
        }
        break;
      }
      case OpKind::kFlatten: {
        // Element (q, pixel) of the paired value flattens to q * hw + pixel, original element channel * hw + pixel.
        const int64_t hw = op.in.h * op.in.w;
        out.channel.clear();
        out.high.clear();
        for (size_t q = 0; q < in.channel.size(); ++q) {
          for (int64_t pixel = 0; pixel < hw; ++pixel) {
            out.channel.push_back(in.channel[q] * hw + pixel);
            out.high.push_back(in.high[q]);
          }
        }
        break;
      }
      case OpKind::kAdd:
        if (!(*maps[s.inputs[1]] == in)) return nullptr;
        break;
      case OpKind::kPad:
      case OpKind::kClamp:
      case OpKind::kMaxPool:
      case OpKind::kAvgPool:
      case OpKind::kGlobalAvgPool:
        break;  // per channel, and the same constants for every channel
    }
    maps[s.output] = std::move(out);
    spec.ops.push_back(std::move(s));
  }
  const EndMap& result = *maps[paired->value_];
  const engine::Shape& shape = net.shapes[paired->value_];
  const int64_t hw = shape.h * shape.w;
  for (size_t q = 0; q < result.channel.size(); ++q) {
    for (int64_t pixel = 0; pixel < hw; ++pixel) {
      paired->element_.push_back(result.channel[q] * hw + pixel);
      paired->high_.push_back(result.high[q]);
    }
  }
  paired->input_size_ = net.input.size();
  try {
    paired->plan_ = std::make_unique<engine::IntPlan>(std::move(spec));
  } catch (const MemoryLimitError&) {
    return nullptr;  // the propagator's own loops bound the network instead
  }
  return paired;
}

void PairedPlan::run(const float* pairs, int64_t boxes, uint8_t* codes, int threads) const {
  plan_->run_codes(pairs, boxes, codes, threads);
}

void PairedPlan::unpack(const uint8_t* codes, int32_t* lo, int32_t* hi) const {
  for (size_t q = 0; q < element_.size(); ++q) (high_[q] ? hi : lo)[element_[q]] = codes[q];
}

}  // namespace arq::verify
