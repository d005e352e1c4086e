// QAT: the integer engine's forward pass on float32 buffers of codes and the trainer's backward with straight-through
// estimators (qat_net.h states the rules).
#include "train/qat_net.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <utility>

#include "common/cpu.h"
#include "kernels/requant.h"
#include "train/ops.h"

namespace arq::train {
namespace {

using engine::IntOp;
using engine::IntOpSpec;
using engine::OpKind;

bool is_layer(OpKind kind) { return kind == OpKind::kConv || kind == OpKind::kGemm; }

Kind train_kind(OpKind kind) {
  switch (kind) {
    case OpKind::kConv:
      return Kind::kConv;
    case OpKind::kGemm:
      return Kind::kGemm;
    case OpKind::kAdd:
      return Kind::kAdd;
    case OpKind::kClamp:
      return Kind::kClamp;
    case OpKind::kMaxPool:
      return Kind::kMaxPool;
    case OpKind::kAvgPool:
      return Kind::kAvgPool;
    case OpKind::kGlobalAvgPool:
      return Kind::kGlobalAvgPool;
    case OpKind::kFlatten:
      return Kind::kFlatten;
    case OpKind::kElementwise:
      return Kind::kElementwise;
    case OpKind::kPad:
      return Kind::kPad;
    case OpKind::kRepeat:
      return Kind::kRepeat;
    default:
      throw std::invalid_argument(std::string(engine::kind_name(kind)) + " is not supported in QAT");
  }
}

int32_t weight_qmax(int bits) { return (1 << (bits - 1)) - 1; }

}  // namespace

QatNet::QatNet(QatSpec spec) : spec_(std::move(spec)) {
  engine::IntPlanSpec& plan = spec_.plan;
  if (spec_.weights.size() != plan.ops.size()) throw std::invalid_argument("weights must have one entry per op");
  layers_.resize(plan.ops.size());
  codes_.resize(plan.ops.size());
  for (size_t index = 0; index < plan.ops.size(); ++index) {
    IntOpSpec& s = plan.ops[index];
    const std::string where = "op #" + std::to_string(index) + " (" + engine::kind_name(s.kind) + "): ";
    try {
      train_kind(s.kind);
    } catch (const std::invalid_argument& error) {
      throw std::invalid_argument(where + error.what());
    }
    if (!is_layer(s.kind)) continue;
    if (s.out_channels <= 0 || spec_.weights[index].empty() || spec_.weights[index].size() % s.out_channels != 0) {
      throw std::invalid_argument(where + "the float weights must hold a whole number of values per output channel");
    }
    if (s.wbits < 2 || s.wbits > 8) throw std::invalid_argument(where + "wbits must be in 2..8");
    Tensor weight;
    weight.value = std::move(spec_.weights[index]);
    layers_[index].weight = static_cast<int>(tensors_.size());
    tensors_.push_back(std::move(weight));
    if (!s.bias.empty()) {
      Tensor bias;
      bias.value = s.bias;
      layers_[index].bias = static_cast<int>(tensors_.size());
      tensors_.push_back(std::move(bias));
    }
  }
  spec_.weights.clear();
  for (Tensor& t : tensors_) {
    t.grad.assign(t.value.size(), 0.0f);
    t.momentum.assign(t.value.size(), 0.0f);
  }
  fake_ = tensors_;
  rebuild_network();  // codes of the initial weights; build_network validates the whole plan with them
  shapes_ = net_.shapes;

  train_ops_.resize(plan.ops.size());
  forward_ops_.resize(plan.ops.size());
  for (size_t index = 0; index < plan.ops.size(); ++index) {
    const IntOpSpec& s = plan.ops[index];
    TrainOp op;
    op.kind = train_kind(s.kind);
    op.geo = static_cast<const engine::OpGeometry&>(s);
    op.geo.min = -INFINITY;  // clamps act on codes here, never in the trainer's functions
    op.geo.max = INFINITY;
    if (s.kind == OpKind::kGemm) {  // a 1x1 convolution of a [features, 1, 1] image, as in the trainer
      op.geo.kernel_h = op.geo.kernel_w = op.geo.stride_h = op.geo.stride_w = 1;
      op.geo.group = 1;
    }
    if (is_layer(s.kind)) {
      const Layer& layer = layers_[index];
      op.tensors = {layer.weight};
      forward_ops_[index] = op;
      if (layer.bias >= 0) op.tensors.push_back(layer.bias);
      const Shape& in = shapes_[s.inputs[0]];
      const int64_t k = in.c / op.geo.group * op.geo.kernel_h * op.geo.kernel_w;
      const int32_t a_max = std::max(s.input_grid.zero, s.input_grid.levels() - s.input_grid.zero);
      const double bound = static_cast<double>(k) * weight_qmax(s.wbits) * a_max;
      if (bound >= 2147483647.0)
        throw std::invalid_argument("op #" + std::to_string(index) + ": the int32 accumulator could overflow");
      layers_[index].exact_f32 = bound < 16777216.0;
    }
    train_ops_[index] = op;
  }
  needs_grad_.assign(plan.values, false);
  for (size_t index = 0; index < plan.ops.size(); ++index) {
    const IntOpSpec& s = plan.ops[index];
    bool needs = is_layer(s.kind);
    for (int value : s.inputs) needs = needs || needs_grad_[value];
    needs_grad_[s.output] = needs;
  }
  vals_.resize(plan.values);
  grads_.resize(plan.values);
  centred_.resize(plan.ops.size());
  in_pass_.resize(plan.ops.size());
  out_pass_.resize(plan.ops.size());
  argmax_.resize(plan.ops.size());
  gemm_ = &kernels::f32_gemm_config(active_isa());
}

std::vector<WeightCodes> QatNet::codes() const {
  std::vector<WeightCodes> out;
  for (size_t index = 0; index < codes_.size(); ++index) {
    if (is_layer(spec_.plan.ops[index].kind)) out.push_back(codes_[index]);
  }
  return out;
}

void QatNet::rebuild_network() {
  engine::IntPlanSpec& plan = spec_.plan;
  for (size_t index = 0; index < plan.ops.size(); ++index) {
    IntOpSpec& s = plan.ops[index];
    if (!is_layer(s.kind)) continue;
    const std::vector<float>& w = tensors_[layers_[index].weight].value;
    codes_[index] =
        engine::quantize_weights(w.data(), s.out_channels, static_cast<int64_t>(w.size()) / s.out_channels, s.wbits);
    s.weight = codes_[index].codes;
    s.weight_scales = codes_[index].scales;
    if (layers_[index].bias >= 0) s.bias = tensors_[layers_[index].bias].value;
  }
  net_ = engine::build_network(plan);
  stale_ = false;
}

// acc = sum over taps of w_codes * centred (NHWC), per output element.
void QatNet::conv_accumulate(size_t index, const Pass& p, const float* centred, float* acc) {
  const Layer& layer = layers_[index];
  const std::vector<int8_t>& codes = codes_[index].codes;
  if (layer.exact_f32) {
    std::vector<float>& w = fake_[layer.weight].value;
    for (size_t i = 0; i < codes.size(); ++i) w[i] = static_cast<float>(codes[i]);
    conv_forward(*gemm_, forward_ops_[index], p, fake_, centred, acc);
    return;
  }
  const OpGeometry& s = forward_ops_[index].geo;
  const int64_t cin_g = p.in.c / s.group, cout_g = p.out.c / s.group, taps = s.kernel_h * s.kernel_w;
  for_chunks(p.batch, p.threads, [&](int64_t, int64_t first, int64_t end, int) {
    for (int64_t b = first; b < end; ++b) {
      const float* x = centred + b * p.in.size();
      float* y = acc + b * p.out.size();
      for (int64_t oh = 0; oh < p.out.h; ++oh) {
        for (int64_t ow = 0; ow < p.out.w; ++ow) {
          for (int64_t oc = 0; oc < p.out.c; ++oc) {
            const int64_t g = oc / cout_g;
            int32_t sum = 0;
            for (int64_t ci = 0; ci < cin_g; ++ci) {
              engine::for_window(s, p.in, oh, ow, [&](int64_t r, int64_t tap) {
                sum += codes[(oc * cin_g + ci) * taps + tap] * static_cast<int32_t>(x[r * p.in.c + g * cin_g + ci]);
              });
            }
            y[(oh * p.out.w + ow) * p.out.c + oc] = static_cast<float>(sum);
          }
        }
      }
    }
  });
}

void QatNet::forward(const float* images, int64_t batch, int threads, bool record) {
  if (stale_) rebuild_network();
  const engine::IntPlanSpec& plan = spec_.plan;
  for (int v = 0; v < plan.values; ++v) vals_[v].resize(batch * shapes_[v].size());
  images_to_nhwc(images, plan.input, batch, vals_[0].data());
  for (size_t index = 0; index < net_.ops.size(); ++index) {
    const IntOp& op = net_.ops[index];
    const IntOpSpec& s = op.spec;
    const Pass p{shapes_[s.inputs[0]], shapes_[s.output], batch, threads};
    const float* x = vals_[s.inputs[0]].data();
    float* y = vals_[s.output].data();
    const int64_t n_in = batch * p.in.size(), n_out = batch * p.out.size();
    std::vector<uint8_t>& out_pass = out_pass_[index];
    if (record) out_pass.assign(n_out, 1);
    switch (s.kind) {
      case OpKind::kConv:
      case OpKind::kGemm: {
        const engine::Grid& g = s.input_grid;
        const auto& carrier = net_.grids[s.inputs[0]];
        std::vector<float>& centred = centred_[index];
        std::vector<uint8_t>& in_pass = in_pass_[index];
        centred.resize(n_in);
        in_pass.resize(n_in);
        const float lo = static_cast<float>(-g.zero), hi = static_cast<float>(g.levels() - g.zero);
        for_chunks(batch, threads, [&](int64_t, int64_t first, int64_t end, int) {
          for (int64_t e = first * p.in.size(); e < end * p.in.size(); ++e) {
            float real;
            int32_t code;
            if (op.float_in) {
              real = x[e];
              code = engine::quantize_value(real, g);
            } else {
              const int32_t carried = static_cast<int32_t>(x[e]);
              real = engine::dequantize_value(carried, *carrier);
              code = op.lut[carried];
            }
            const float t = real / g.scale;
            in_pass[e] = t >= lo && t <= hi;
            centred[e] = static_cast<float>(code - g.zero);
          }
        });
        std::vector<float> acc(n_out);
        conv_accumulate(index, p, centred.data(), acc.data());
        const engine::LayerConstants& k = op.layer;
        const int64_t channels = p.out.c;
        for_chunks(batch, threads, [&](int64_t, int64_t first, int64_t end, int) {
          for (int64_t e = first * p.out.size(); e < end * p.out.size(); ++e) {
            const int64_t c = e % channels;
            const int32_t a = static_cast<int32_t>(acc[e]);
            if (op.float_out) {
              const float v = kernels::requant_float(a, k.multiplier[c], k.bias[c]);
              if (record) out_pass[e] = v > s.min && v < s.max;
              y[e] = std::fmin(std::fmax(v, s.min), s.max);
            } else {
              if (record) {
                const float v = std::fma(static_cast<float>(a), k.multiplier[c], k.bias[c]);
                out_pass[e] = v > k.min && v < k.max;
              }
              y[e] = kernels::requant_code(a, k.multiplier[c], k.bias[c], k.min, k.max);
            }
          }
        });
        break;
      }
      case OpKind::kAdd: {
        const float* x1 = vals_[s.inputs[1]].data();
        const engine::AddConstants& k = op.add;
        for_chunks(batch, threads, [&](int64_t, int64_t first, int64_t end, int) {
          for (int64_t e = first * p.out.size(); e < end * p.out.size(); ++e) {
            const auto q1 = static_cast<uint8_t>(x[e]), q2 = static_cast<uint8_t>(x1[e]);
            if (record) {
              const float v = std::fma(k.lhs[q1] + k.rhs[q2], k.inv_scale, k.zero);
              out_pass[e] = v > k.min && v < k.max;
            }
            y[e] = engine::add_codes(q1, q2, k);
          }
        });
        break;
      }
      case OpKind::kClamp:
        for (int64_t e = 0; e < n_out; ++e) {
          if (record) out_pass[e] = x[e] > op.clamp_lo && x[e] < op.clamp_hi;
          y[e] = std::min(std::max(x[e], op.clamp_lo), op.clamp_hi);
        }
        break;
      case OpKind::kAvgPool: {
        const int32_t zero = net_.grids[s.inputs[0]]->zero;
        for_chunks(batch, threads, [&](int64_t, int64_t first, int64_t end, int) {
          for (int64_t b = first; b < end; ++b) {
            const float* in = x + b * p.in.size();
            float* out = y + b * p.out.size();
            for (int64_t c = 0; c < p.out.c; ++c)
              for (int64_t oh = 0; oh < p.out.h; ++oh)
                for (int64_t ow = 0; ow < p.out.w; ++ow) {
                  int32_t sum = 0;
                  int64_t count = 0;
                  for (int64_t i = 0; i < s.kernel_h; ++i)
                    for (int64_t j = 0; j < s.kernel_w; ++j) {
                      const int64_t ih = oh * s.stride_h + i - s.pads[0], iw = ow * s.stride_w + j - s.pads[1];
                      if (ih < 0 || ih >= p.in.h || iw < 0 || iw >= p.in.w) {
                        if (s.count_include_pad) sum += zero, ++count;
                        continue;
                      }
                      sum += static_cast<int32_t>(in[(ih * p.in.w + iw) * p.in.c + c]);
                      ++count;
                    }
                  out[(oh * p.out.w + ow) * p.out.c + c] = engine::average_code(sum, engine::inverse_count(count));
                }
          }
        });
        break;
      }
      case OpKind::kGlobalAvgPool:
        for_chunks(batch, threads, [&](int64_t, int64_t first, int64_t end, int) {
          const int64_t pixels = p.in.h * p.in.w;
          for (int64_t b = first; b < end; ++b) {
            for (int64_t c = 0; c < p.in.c; ++c) {
              int32_t sum = 0;
              for (int64_t q = 0; q < pixels; ++q) sum += static_cast<int32_t>(x[(b * pixels + q) * p.in.c + c]);
              y[b * p.in.c + c] = engine::average_code(sum, op.inv_count);
            }
          }
        });
        break;
      case OpKind::kPad:
      case OpKind::kRepeat: {  // copies (codes or float values); padding holds the pad value's code or the value
        const float fill = op.float_in ? s.pad_value : static_cast<float>(op.pad_code);
        for_chunks(batch, threads, [&](int64_t, int64_t first, int64_t end, int) {
          for (int64_t b = first; b < end; ++b) copy_image(s, p, x + b * p.in.size(), y + b * p.out.size(), fill);
        });
        break;
      }
      default:  // max pool on codes, flatten, the float prefix's elementwise operators
        simple_forward(train_ops_[index], p, {x}, y, argmax_[index]);
    }
  }
}

void QatNet::backward(const std::vector<float>& dlogits, int64_t batch, int threads, bool to_input) {
  const engine::IntPlanSpec& plan = spec_.plan;
  std::vector<bool> needs_grad(needs_grad_);
  if (to_input) needs_grad.assign(plan.values, true);
  for (int v = 0; v < plan.values; ++v) grads_[v].assign(needs_grad[v] ? batch * shapes_[v].size() : 0, 0.0f);
  std::copy(dlogits.begin(), dlogits.end(), grads_[plan.output].begin());
  for (size_t index = net_.ops.size(); index-- > 0;) {
    const IntOp& op = net_.ops[index];
    const IntOpSpec& s = op.spec;
    if (!needs_grad[s.output]) continue;
    const Pass p{shapes_[s.inputs[0]], shapes_[s.output], batch, threads};
    const int64_t n_in = batch * p.in.size(), n_out = batch * p.out.size();
    std::vector<float> dy(grads_[s.output]);
    if (!out_pass_[index].empty()) {
      for (int64_t e = 0; e < n_out; ++e)
        if (!out_pass_[index][e]) dy[e] = 0.0f;
    }
    auto dx_of = [&](int value) { return needs_grad[value] ? grads_[value].data() : nullptr; };
    switch (s.kind) {
      case OpKind::kConv:
      case OpKind::kGemm: {
        const Layer& layer = layers_[index];
        const WeightCodes& wc = codes_[index];
        const int64_t per_channel = static_cast<int64_t>(wc.codes.size()) / s.out_channels;
        const int32_t qmax = weight_qmax(s.wbits);
        std::vector<float>& fake_w = fake_[layer.weight].value;
        for (size_t i = 0; i < wc.codes.size(); ++i)
          fake_w[i] = wc.scales[i / per_channel] * static_cast<float>(wc.codes[i]);
        std::vector<float> xf(n_in);
        for (int64_t e = 0; e < n_in; ++e) xf[e] = s.input_grid.scale * centred_[index][e];
        float* dx = dx_of(s.inputs[0]);
        std::vector<float> dx_layer(dx != nullptr ? n_in : 0, 0.0f);
        conv_backward(*gemm_, train_ops_[index], p, fake_, xf.data(), dy.data(),
                      dx != nullptr ? dx_layer.data() : nullptr);
        const std::vector<float>& w = tensors_[layer.weight].value;
        std::vector<float>& gw = tensors_[layer.weight].grad;
        for (size_t i = 0; i < w.size(); ++i) {
          const double clip = static_cast<double>(wc.scales[i / per_channel]) * qmax;
          gw[i] = std::fabs(static_cast<double>(w[i])) <= clip ? fake_[layer.weight].grad[i] : 0.0f;
        }
        if (layer.bias >= 0) tensors_[layer.bias].grad = fake_[layer.bias].grad;
        if (dx != nullptr) {
          for (int64_t e = 0; e < n_in; ++e)
            if (in_pass_[index][e]) dx[e] += dx_layer[e];
        }
        break;
      }
      case OpKind::kClamp: {
        float* dx = dx_of(s.inputs[0]);
        if (dx != nullptr)
          for (int64_t e = 0; e < n_in; ++e) dx[e] += dy[e];
        break;
      }
      case OpKind::kPad:
      case OpKind::kRepeat: {
        float* dx = dx_of(s.inputs[0]);
        if (dx == nullptr) break;
        for (int64_t b = 0; b < batch; ++b)
          copy_image_backward(s, p, dy.data() + b * p.out.size(), dx + b * p.in.size());
        break;
      }
      default: {
        std::vector<const float*> xs;
        std::vector<float*> dxs;
        for (int value : s.inputs) {
          xs.push_back(vals_[value].data());
          dxs.push_back(dx_of(value));
        }
        simple_backward(train_ops_[index], p, xs, dy.data(), dxs, argmax_[index]);
      }
    }
  }
}

BatchResult QatNet::gradients(const float* images, const int32_t* labels, int64_t batch, int threads) {
  check_labels(labels, batch, classes());
  forward(images, batch, threads, true);
  const engine::IntPlanSpec& plan = spec_.plan;
  const auto& out_grid = net_.grids[plan.output];
  std::vector<float> logits(vals_[plan.output]);
  if (out_grid)
    for (float& z : logits) z = engine::dequantize_value(static_cast<int32_t>(z), *out_grid);
  std::vector<float> dlogits;
  const BatchResult result = softmax_cross_entropy(logits.data(), labels, batch, classes(), dlogits);
  backward(dlogits, batch, threads, false);
  return result;
}

void QatNet::sgd(const SgdParams& params) {
  for (Tensor& tensor : tensors_) sgd_step(tensor, params);
  stale_ = true;
}

void QatNet::input_gradients(const float* images, const int32_t* labels, const int32_t* targets, int64_t batch,
                             int threads, float* logits, float* gradient) {
  const std::vector<float> dlogits = margin_cotangent(labels, targets, batch, classes());
  forward(images, batch, threads, true);
  read_logits(logits);
  backward(dlogits, batch, threads, true);
  nhwc_to_images(grads_[0].data(), spec_.plan.input, batch, gradient);
}

void QatNet::predict(const float* images, int64_t batch, float* logits, int threads) {
  forward(images, batch, threads, false);
  read_logits(logits);
}

void QatNet::read_logits(float* logits) const {
  const engine::IntPlanSpec& plan = spec_.plan;
  const auto& out_grid = net_.grids[plan.output];
  const std::vector<float>& out = vals_[plan.output];
  for (size_t i = 0; i < out.size(); ++i) {
    logits[i] = out_grid ? engine::dequantize_value(static_cast<int32_t>(out[i]), *out_grid) : out[i];
  }
}

}  // namespace arq::train
