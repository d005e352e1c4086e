#include "engine/geometry.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace arq::engine {
namespace {

int64_t window_out(int64_t in, int64_t pad_begin, int64_t pad_end, int64_t kernel, int64_t stride) {
  const int64_t span = in + pad_begin + pad_end - kernel;
  return span < 0 ? 0 : span / stride + 1;
}

}  // namespace

const char* kind_name(OpKind kind) {
  switch (kind) {
    case OpKind::kConv:
      return "conv";
    case OpKind::kGemm:
      return "gemm";
    case OpKind::kAdd:
      return "add";
    case OpKind::kClamp:
      return "clamp";
    case OpKind::kMaxPool:
      return "maxpool";
    case OpKind::kAvgPool:
      return "avgpool";
    case OpKind::kGlobalAvgPool:
      return "globalavgpool";
    case OpKind::kPad:
      return "pad";
    case OpKind::kElementwise:
      return "elementwise";
    case OpKind::kRepeat:
      return "repeat";
    case OpKind::kFlatten:
      return "flatten";
  }
  return "?";
}

std::string op_label(size_t index, const OpGeometry& op) {
  std::string label = "op #" + std::to_string(index) + " (" + kind_name(op.kind);
  if (!op.name.empty()) label += " '" + op.name + "'";
  return label + ")";
}

std::string value_label(int producer, const OpGeometry* op, const Shape& shape) {
  const std::string dims = std::to_string(shape.c) + "x" + std::to_string(shape.h) + "x" + std::to_string(shape.w);
  if (producer < 0 || op == nullptr) return "the network input (" + dims + ")";
  return "the output of " + op_label(static_cast<size_t>(producer), *op) + " (" + dims + ")";
}

PlanLayout plan_layout(const Shape& input, int values, int output, const std::vector<const OpGeometry*>& ops) {
  if (input.c <= 0 || input.h <= 0 || input.w <= 0) throw std::invalid_argument("input shape must be positive");
  if (values < 1 || values > kMaxPlanOps + 1) throw std::invalid_argument("values out of range");
  if (output < 0 || output >= values) throw std::invalid_argument("output value out of range");
  // Each op defines a new value, so a longer list is wrong before any per-op work is done.
  if (ops.size() >= static_cast<size_t>(values)) throw std::invalid_argument("more ops than values to compute");
  PlanLayout layout;
  layout.producer.assign(values, -1);
  layout.shapes.assign(values, Shape{});
  std::vector<bool> defined(values, false);
  std::vector<int> last_use(values, -1);
  layout.shapes[0] = input;
  defined[0] = true;

  for (size_t index = 0; index < ops.size(); ++index) {
    const OpGeometry& s = *ops[index];
    const std::string where = op_label(index, s) + ": ";
    auto fail = [&](const std::string& what) { throw std::invalid_argument(where + what); };
    const size_t arity = s.kind == OpKind::kAdd ? 2 : 1;
    if (s.inputs.size() != arity) fail("expected " + std::to_string(arity) + " inputs");
    for (int value : s.inputs) {
      if (value < 0 || value >= values || !defined[value])
        fail("input value " + std::to_string(value) + " is not defined yet");
      last_use[value] = static_cast<int>(index);
    }
    if (s.output <= 0 || s.output >= values || defined[s.output]) fail("output value is out of range or defined twice");
    if (!(s.min <= s.max)) fail("clamp min must not exceed max");

    const Shape in = layout.shapes[s.inputs[0]];
    Shape out = in;
    auto check_window = [&] {
      if (s.kernel_h < 1 || s.kernel_w < 1 || s.stride_h < 1 || s.stride_w < 1) fail("kernel and strides must be >= 1");
      for (int64_t pad : s.pads)
        if (pad < 0 || pad > 1024) fail("pads must be in [0, 1024]");
      out.h = window_out(in.h, s.pads[0], s.pads[2], s.kernel_h, s.stride_h);
      out.w = window_out(in.w, s.pads[1], s.pads[3], s.kernel_w, s.stride_w);
      if (out.h < 1 || out.w < 1) fail("the window is larger than the padded input");
    };
    auto check_bias = [&](int64_t channels) {
      if (s.bias_count != 0 && static_cast<int64_t>(s.bias_count) != channels) fail("bias size mismatch");
    };
    switch (s.kind) {
      case OpKind::kConv:
        if (s.group < 1 || in.c % s.group != 0 || s.out_channels < 1 || s.out_channels % s.group != 0) {
          fail("channels must divide by group");
        }
        check_window();
        out.c = s.out_channels;
        if (static_cast<int64_t>(s.weight_count) != s.out_channels * (in.c / s.group) * s.kernel_h * s.kernel_w) {
          fail("weight size mismatch");
        }
        check_bias(s.out_channels);
        break;
      case OpKind::kGemm:
        if (in.h != 1 || in.w != 1) fail("input must be a flat vector (flatten first)");
        if (s.out_channels < 1 || static_cast<int64_t>(s.weight_count) != s.out_channels * in.c)
          fail("weight size mismatch");
        check_bias(s.out_channels);
        out = Shape{s.out_channels, 1, 1};
        break;
      case OpKind::kAdd: {
        const Shape other = layout.shapes[s.inputs[1]];
        if (other.c != in.c || other.h != in.h || other.w != in.w) fail("operand shapes differ");
        break;
      }
      case OpKind::kClamp:
        break;
      case OpKind::kMaxPool:
      case OpKind::kAvgPool:
        check_window();
        break;
      case OpKind::kGlobalAvgPool:
        out.h = out.w = 1;
        break;
      case OpKind::kPad:
        for (int64_t pad : s.pads)
          if (pad < 0 || pad > 1024) fail("pads must be in [0, 1024]");
        out.h = in.h + s.pads[0] + s.pads[2];
        out.w = in.w + s.pads[1] + s.pads[3];
        break;
      case OpKind::kElementwise: {
        const auto count = static_cast<int64_t>(s.constant.size());
        if (count != 1 && count != in.c) fail("constant must have 1 or " + std::to_string(in.c) + " values");
        break;
      }
      case OpKind::kRepeat:
        if (s.repeat < 1 || s.repeat > 4096) fail("repeat factor must be in [1, 4096]");
        out.c = in.c * s.repeat;
        break;
      case OpKind::kFlatten:
        out = Shape{in.size(), 1, 1};
        break;
    }
    if (out.size() > (int64_t{1} << 26)) fail("tensor too large");
    layout.op_in.push_back(in);
    layout.op_out.push_back(out);
    layout.shapes[s.output] = out;
    layout.producer[s.output] = static_cast<int>(index);
    if (out.size() > layout.shapes[layout.largest].size()) layout.largest = s.output;
    defined[s.output] = true;
  }
  if (!defined[output]) throw std::invalid_argument("the output value is never computed");
  layout.output = layout.shapes[output];

  // Greedy buffer slots by liveness: a value's slot is free again after its last use.
  layout.slot_of.assign(values, -1);
  std::vector<bool> slot_busy;
  auto take_slot = [&](int value) {
    size_t slot = 0;
    while (slot < slot_busy.size() && slot_busy[slot]) ++slot;
    if (slot == slot_busy.size()) {
      slot_busy.push_back(false);
      layout.slot_size.push_back(0);
    }
    slot_busy[slot] = true;
    layout.slot_size[slot] = std::max(layout.slot_size[slot], layout.shapes[value].size());
    layout.slot_of[value] = static_cast<int>(slot);
  };
  take_slot(0);
  last_use[output] = static_cast<int>(ops.size());  // keep the output alive
  std::vector<int> readers(values, 0);
  for (const OpGeometry* op : ops)
    for (int value : op->inputs) ++readers[value];
  // An op whose output only the next op reads, an add, keeps its own inputs until the add has its output slot: the
  // integer executor computes such a pair row by row (IntPlan's fused add), still reading the op's input while it
  // writes the add's output, so the two must not share a buffer.
  std::vector<int> deferred;
  for (size_t index = 0; index < ops.size(); ++index) {
    take_slot(ops[index]->output);
    for (int value : deferred) slot_busy[layout.slot_of[value]] = false;
    deferred.clear();
    const int out = ops[index]->output;
    const bool feeds_add = index + 1 < ops.size() && ops[index + 1]->kind == OpKind::kAdd && readers[out] == 1 &&
                           (ops[index + 1]->inputs[0] == out || ops[index + 1]->inputs[1] == out);
    for (int value : ops[index]->inputs) {
      if (last_use[value] != static_cast<int>(index)) continue;
      if (feeds_add) {
        deferred.push_back(value);
      } else {
        slot_busy[layout.slot_of[value]] = false;
      }
    }
  }
  return layout;
}

}  // namespace arq::engine
