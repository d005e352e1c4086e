// Validation of an integer plan description and derivation of its constants (int_semantics.h), shared by the
// optimised executor and the reference.
#include <cmath>
#include <stdexcept>
#include <string>
#include <utility>

#include "engine/int_network.h"

namespace arq::engine {
namespace {

bool same_grid(const Grid& a, const Grid& b) { return a.scale == b.scale && a.zero == b.zero && a.bits == b.bits; }

void check_grid(const Grid& grid, const std::string& where, const char* what) {
  if (grid.bits < 2 || grid.bits > 8) throw std::invalid_argument(where + what + " bits must be in 2..8");
  if (!(grid.scale > 0.0f) || !std::isfinite(grid.scale)) throw std::invalid_argument(where + what + " scale must be positive and finite");
  if (grid.zero < 0 || grid.zero > grid.levels()) throw std::invalid_argument(where + what + " zero point is outside the code range");
}

}  // namespace

IntNetwork build_network(IntPlanSpec spec) {
  IntNetwork net;
  net.input = spec.input;
  net.output = spec.output;
  net.memory_limit = spec.memory_limit;
  if (static_cast<int>(spec.grids.size()) != spec.values) throw std::invalid_argument("grids must have one entry per value");
  if (spec.grids.empty() || spec.grids[0].has_value()) throw std::invalid_argument("value 0 (the input) must be float");
  std::vector<const OpGeometry*> geometry;
  for (IntOpSpec& s : spec.ops) {
    s.weight_count = s.weight.size();
    s.bias_count = s.bias.size();
    geometry.push_back(&s);
  }
  net.layout = plan_layout(spec.input, spec.values, spec.output, geometry);
  net.shapes = net.layout.shapes;
  for (const auto& grid : spec.grids) {
    if (grid) check_grid(*grid, "", "a carrier grid's");
    if (grid && grid->bits != 8) throw std::invalid_argument("carrier grids must have 8 bits");
  }
  net.grids = spec.grids;

  for (size_t index = 0; index < spec.ops.size(); ++index) {
    IntOpSpec& s = spec.ops[index];
    const std::string where = op_label(index, s) + ": ";
    auto fail = [&](const std::string& what) { throw std::invalid_argument(where + what); };
    IntOp op;
    op.in = net.layout.op_in[index];
    op.out = net.layout.op_out[index];
    const auto& in_grid = net.grids[s.inputs[0]];
    const auto& out_grid = net.grids[s.output];
    op.float_in = !in_grid.has_value();
    switch (s.kind) {
      case OpKind::kConv:
      case OpKind::kGemm: {
        if (s.wbits < 2 || s.wbits > 8) fail("wbits must be in 2..8");
        check_grid(s.input_grid, where, "the layer input grid's");
        const int limit = (1 << (s.wbits - 1)) - 1;
        for (int8_t code : s.weight) if (code < -limit || code > limit) fail("weight code outside the range of wbits");
        if (static_cast<int64_t>(s.weight_scales.size()) != s.out_channels) fail("weight_scales must have one value per output channel");
        for (float scale : s.weight_scales) if (!(scale > 0.0f) || !std::isfinite(scale)) fail("weight scales must be positive and finite");
        op.float_out = !out_grid.has_value();
        if (op.float_out && s.output != spec.output) fail("only the network output may be float; give this layer an output grid");
        const int64_t per_channel = static_cast<int64_t>(s.weight.size()) / s.out_channels;
        op.layer = layer_constants(s.weight.data(), s.weight_scales.data(), s.bias.empty() ? nullptr : s.bias.data(),
                                   s.out_channels, per_channel, s.input_grid, op.float_out ? nullptr : &*out_grid, s.min, s.max);
        if (!op.float_in) {
          op.lut = conversion_table(*in_grid, s.input_grid);
          op.lut_identity = is_identity(op.lut);
        }
        break;
      }
      case OpKind::kElementwise:
        if (!op.float_in || out_grid) fail("elementwise operators are supported only on the float input, before the first layer");
        break;
      case OpKind::kRepeat:
      case OpKind::kPad:
      case OpKind::kFlatten:
        if (op.float_in != !out_grid.has_value()) fail("the output must be float exactly when the input is");
        if (!op.float_in && !same_grid(*in_grid, *out_grid)) fail("the output grid must equal the input grid");
        if (s.kind == OpKind::kPad && !op.float_in) op.pad_code = quantize_value(s.pad_value, *in_grid);
        break;
      case OpKind::kAdd: {
        const auto& other = net.grids[s.inputs[1]];
        if (!in_grid || !other || !out_grid) fail("add needs quantized inputs and output");
        op.add = add_constants(*in_grid, *other, *out_grid, s.min, s.max);
        break;
      }
      case OpKind::kClamp:
      case OpKind::kMaxPool:
      case OpKind::kAvgPool:
      case OpKind::kGlobalAvgPool:
        if (!in_grid) fail("needs a quantized input: place a Conv or Gemm layer before it");
        if (!out_grid || !same_grid(*in_grid, *out_grid)) fail("the output grid must equal the input grid");
        if (s.kind == OpKind::kClamp) clamp_codes(s.min, s.max, *in_grid, &op.clamp_lo, &op.clamp_hi);
        if (s.kind == OpKind::kGlobalAvgPool) op.inv_count = inverse_count(op.in.h * op.in.w);
        break;
    }
    s.weight_count = s.weight.size();
    op.spec = std::move(s);
    net.ops.push_back(std::move(op));
  }
  return net;
}

}  // namespace arq::engine
