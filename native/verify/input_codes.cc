#include "verify/input_codes.h"

#include <cstdlib>

#include "verify/bounds.h"

namespace arq::verify {

using engine::IntOp;
using engine::OpKind;

InputCodes::InputCodes(const engine::IntNetwork& net) : net_(net) {
  for (size_t index = 0; index < net.ops.size(); ++index) {
    const IntOp& op = net.ops[index];
    if ((op.spec.kind != OpKind::kConv && op.spec.kind != OpKind::kGemm) || !op.float_in) continue;
    layers_.push_back(static_cast<int>(index));
    const bool conv = op.spec.kind == OpKind::kConv;
    const int64_t group = conv ? op.spec.group : 1;
    const int64_t in_per_group = op.in.c / group, out_per_group = op.out.c / group;
    const int64_t taps = conv ? op.spec.kernel_h * op.spec.kernel_w : 1;
    std::vector<double> magnitude(op.in.c, 0.0);
    for (int64_t oc = 0; oc < op.out.c; ++oc) {
      for (int64_t ci = 0; ci < in_per_group; ++ci) {
        double sum = 0;
        for (int64_t t = 0; t < taps; ++t) sum += std::abs(op.spec.weight[(oc * in_per_group + ci) * taps + t]);
        magnitude[(oc / out_per_group) * in_per_group + ci] += sum;
      }
    }
    magnitude_.push_back(std::move(magnitude));
  }
}

int64_t InputCodes::source(int op_index, int64_t i) const {
  const IntOp& op = net_.ops[op_index];
  const engine::Shape& in = op.in;
  const engine::Shape& out = op.out;
  const int64_t c = i / (out.h * out.w), h = (i / out.w) % out.h, w = i % out.w;
  const bool pad = op.spec.kind == OpKind::kPad;
  const int64_t ih = pad ? h - op.spec.pads[0] : h, iw = pad ? w - op.spec.pads[1] : w;
  if (ih < 0 || ih >= in.h || iw < 0 || iw >= in.w) return -1;
  return ((c % in.c) * in.h + ih) * in.w + iw;
}

int64_t InputCodes::pixel_of(int value, int64_t i) const {
  while (value != 0 && i >= 0) {
    const int op_index = net_.layout.producer[value];
    const IntOp& op = net_.ops[op_index];
    if (op.spec.kind == OpKind::kPad || op.spec.kind == OpKind::kRepeat) i = source(op_index, i);
    value = op.spec.inputs[0];
  }
  return i;
}

float InputCodes::value_at(int value, int64_t i, float x) const {
  if (value == 0) return x;
  const int op_index = net_.layout.producer[value];
  const IntOp& op = net_.ops[op_index];
  const engine::IntOpSpec& s = op.spec;
  switch (s.kind) {
    case OpKind::kElementwise: {
      const float k = s.constant[s.constant.size() == 1 ? 0 : i / (op.in.h * op.in.w)];
      const float u = value_at(s.inputs[0], i, x);
      return s.constant_first ? elementwise_value(s.elementwise, k, u) : elementwise_value(s.elementwise, u, k);
    }
    case OpKind::kPad:
    case OpKind::kRepeat: {
      const int64_t src = source(op_index, i);
      return src < 0 ? s.pad_value : value_at(s.inputs[0], src, x);
    }
    default:  // flatten: the same element
      return value_at(s.inputs[0], i, x);
  }
}

}  // namespace arq::verify
