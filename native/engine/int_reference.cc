// The plain reference of the integer semantics: one image at a time, NCHW, naive loops over the same validated
// network and constants (int_semantics.h, requant.h), no packing, no SIMD, no threads. Tests hold the optimised
// executor to it bit for bit.
#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/int_network.h"
#include "kernels/requant.h"

namespace arq::engine {
namespace {

struct Value {
  std::vector<float> real;    // float values
  std::vector<int32_t> code;  // quantized values
};

}  // namespace

void run_reference(const IntNetwork& net, const float* input, int64_t batch, float* logits) {
  const int64_t classes = net.layout.output.size();
  for (int64_t image = 0; image < batch; ++image) {
    std::vector<Value> values(net.shapes.size());
    values[0].real.assign(input + image * net.input.size(), input + (image + 1) * net.input.size());
    for (const IntOp& op : net.ops) {
      const IntOpSpec& s = op.spec;
      const Shape& in = op.in;
      const Shape& out = op.out;
      const Value& x = values[s.inputs[0]];
      Value& y = values[s.output];
      const auto at = [](const Shape& shape, int64_t c, int64_t h, int64_t w) { return (c * shape.h + h) * shape.w + w; };
      switch (s.kind) {
        case OpKind::kConv:
        case OpKind::kGemm: {
          const bool is_conv = s.kind == OpKind::kConv;
          const int64_t group = is_conv ? s.group : 1;
          const int64_t in_per_group = in.c / group, out_per_group = out.c / group;
          const int64_t kh = is_conv ? s.kernel_h : 1, kw = is_conv ? s.kernel_w : 1;
          // The layer's input codes: the float input quantized, or the carrier converted, onto the layer grid.
          std::vector<int32_t> a(static_cast<size_t>(in.size()));
          for (int64_t i = 0; i < in.size(); ++i) {
            a[i] = op.float_in ? quantize_value(x.real[i], s.input_grid)
                               : quantize_value(dequantize_value(x.code[i], *net.grids[s.inputs[0]]), s.input_grid);
          }
          if (op.float_out) y.real.assign(out.size(), 0.0f); else y.code.assign(out.size(), 0);
          for (int64_t oc = 0; oc < out.c; ++oc) {
            const int64_t g = oc / out_per_group;
            for (int64_t oy = 0; oy < out.h; ++oy)
              for (int64_t ox = 0; ox < out.w; ++ox) {
                int32_t acc = 0;  // sum of q_w * (q_a - z_a); padding reads z_a
                for (int64_t ci = 0; ci < in_per_group; ++ci)
                  for (int64_t ky = 0; ky < kh; ++ky)
                    for (int64_t kx = 0; kx < kw; ++kx) {
                      const int64_t iy = oy * s.stride_h + ky - s.pads[0];
                      const int64_t ix = ox * s.stride_w + kx - s.pads[1];
                      const bool inside = !is_conv || (iy >= 0 && iy < in.h && ix >= 0 && ix < in.w);
                      const int32_t q = inside ? a[is_conv ? at(in, g * in_per_group + ci, iy, ix) : ci] : s.input_grid.zero;
                      acc += s.weight[((oc * in_per_group + ci) * kh + ky) * kw + kx] * (q - s.input_grid.zero);
                    }
                const int64_t o = at(out, oc, oy, ox);
                if (op.float_out) {
                  y.real[o] = std::fmin(std::fmax(kernels::requant_float(acc, op.layer.multiplier[oc], op.layer.bias[oc]), s.min), s.max);
                } else {
                  y.code[o] = kernels::requant_code(acc, op.layer.multiplier[oc], op.layer.bias[oc], op.layer.min, op.layer.max);
                }
              }
          }
          break;
        }
        case OpKind::kAdd: {
          const Value& b = values[s.inputs[1]];
          y.code.resize(out.size());
          for (int64_t i = 0; i < out.size(); ++i) {
            y.code[i] = add_codes(static_cast<uint8_t>(x.code[i]), static_cast<uint8_t>(b.code[i]), op.add);
          }
          break;
        }
        case OpKind::kClamp:
          y.code.resize(out.size());
          for (int64_t i = 0; i < out.size(); ++i) {
            y.code[i] = std::min(std::max(x.code[i], static_cast<int32_t>(op.clamp_lo)), static_cast<int32_t>(op.clamp_hi));
          }
          break;
        case OpKind::kMaxPool:
        case OpKind::kAvgPool: {
          const int32_t zero = net.grids[s.inputs[0]]->zero;
          y.code.resize(out.size());
          for (int64_t c = 0; c < out.c; ++c)
            for (int64_t oy = 0; oy < out.h; ++oy)
              for (int64_t ox = 0; ox < out.w; ++ox) {
                int32_t best = -1, sum = 0;
                int64_t count = 0;
                for (int64_t ky = 0; ky < s.kernel_h; ++ky)
                  for (int64_t kx = 0; kx < s.kernel_w; ++kx) {
                    const int64_t iy = oy * s.stride_h + ky - s.pads[0];
                    const int64_t ix = ox * s.stride_w + kx - s.pads[1];
                    if (iy < 0 || iy >= in.h || ix < 0 || ix >= in.w) {
                      if (s.count_include_pad) sum += zero, ++count;
                      continue;
                    }
                    const int32_t q = x.code[at(in, c, iy, ix)];
                    best = std::max(best, q);
                    sum += q;
                    ++count;
                  }
                y.code[at(out, c, oy, ox)] = s.kind == OpKind::kMaxPool ? best : average_code(sum, inverse_count(count));
              }
          break;
        }
        case OpKind::kGlobalAvgPool:
          y.code.resize(out.size());
          for (int64_t c = 0; c < in.c; ++c) {
            int32_t sum = 0;
            for (int64_t p = 0; p < in.h * in.w; ++p) sum += x.code[c * in.h * in.w + p];
            y.code[c] = average_code(sum, inverse_count(in.h * in.w));
          }
          break;
        case OpKind::kPad:
        case OpKind::kRepeat: {
          const bool real = op.float_in;
          if (real) y.real.assign(out.size(), s.pad_value); else y.code.assign(out.size(), op.pad_code);
          for (int64_t c = 0; c < out.c; ++c)
            for (int64_t h = 0; h < out.h; ++h)
              for (int64_t w = 0; w < out.w; ++w) {
                const int64_t ih = s.kind == OpKind::kPad ? h - s.pads[0] : h;
                const int64_t iw = s.kind == OpKind::kPad ? w - s.pads[1] : w;
                if (ih < 0 || ih >= in.h || iw < 0 || iw >= in.w) continue;
                const int64_t src = at(in, c % in.c, ih, iw);
                if (real) y.real[at(out, c, h, w)] = x.real[src]; else y.code[at(out, c, h, w)] = x.code[src];
              }
          break;
        }
        case OpKind::kElementwise: {
          y.real.resize(out.size());
          const int64_t hw = in.h * in.w;
          for (int64_t i = 0; i < in.size(); ++i) {
            const float k = s.constant[s.constant.size() == 1 ? 0 : i / hw];
            const float l = s.constant_first ? k : x.real[i];
            const float r = s.constant_first ? x.real[i] : k;
            switch (s.elementwise) {
              case ElementwiseKind::kAdd: y.real[i] = l + r; break;
              case ElementwiseKind::kSub: y.real[i] = l - r; break;
              case ElementwiseKind::kMul: y.real[i] = l * r; break;
              case ElementwiseKind::kDiv: y.real[i] = l / r; break;
            }
          }
          break;
        }
        case OpKind::kFlatten:
          y = x;  // NCHW is already ONNX's flatten order
          break;
      }
    }
    const Value& result = values[net.output];
    const auto& grid = net.grids[net.output];
    for (int64_t i = 0; i < classes; ++i) {
      logits[image * classes + i] = grid ? dequantize_value(result.code[i], *grid) : result.real[i];
    }
  }
}

}  // namespace arq::engine
