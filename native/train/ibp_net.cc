// IBP and QA-IBP training (ibp_net.h states the method and the rules).
#include "train/ibp_net.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <utility>

#include "common/cpu.h"
#include "kernels/requant.h"
#include "train/chunks.h"
#include "train/ops.h"

namespace arq::train {
namespace {

using engine::OpKind;

Kind ibp_kind(OpKind kind, size_t index) {
  switch (kind) {
    case OpKind::kConv:
      return Kind::kConv;
    case OpKind::kGemm:
      return Kind::kGemm;
    case OpKind::kClamp:
      return Kind::kClamp;
    case OpKind::kFlatten:
      return Kind::kFlatten;
    default:
      throw std::invalid_argument("op #" + std::to_string(index) + " (" + engine::kind_name(kind) +
                                  "): IBP training supports conv, gemm, clamp and flatten only");
  }
}

bool is_layer(Kind kind) { return kind == Kind::kConv || kind == Kind::kGemm; }

int32_t weight_qmax(int bits) { return (1 << (bits - 1)) - 1; }

// Multiply-accumulates per output element of a conv/gemm: in/group * kernel taps (all inputs for a gemm).
int64_t taps_of(const OpGeometry& g, const Shape& in) {
  return g.kind == OpKind::kGemm ? in.size() : in.c / g.group * g.kernel_h * g.kernel_w;
}

Tensor trainable(std::vector<float> value) {
  Tensor t;
  t.grad.assign(value.size(), 0.0f);
  t.value = std::move(value);
  return t;
}

// Index of the largest value (the lowest on ties), as softmax_cross_entropy counts correct images.
int64_t arg_max(const float* z, int64_t n) {
  int64_t best = 0;
  for (int64_t k = 1; k < n; ++k)
    if (z[k] > z[best]) best = k;
  return best;
}

// The int32 accumulators of both ends of a conv/gemm (NHWC; a gemm as a 1x1 conv): positive codes take the lower
// end's centred code for the lower sum, negative ones the upper end's. For layers too wide for the exact f32 GEMM.
void accumulate_ends(const OpGeometry& s, const Pass& p, const std::vector<int8_t>& codes, const float* lo,
                     const float* hi, int32_t* acc_lo, int32_t* acc_hi) {
  const int64_t cin_g = p.in.c / s.group, cout_g = p.out.c / s.group, taps = s.kernel_h * s.kernel_w;
  for_chunks(p.batch, p.threads, [&](int64_t, int64_t first, int64_t end, int) {
    std::vector<int32_t> a(p.in.size()), b(p.in.size());
    for (int64_t image = first; image < end; ++image) {
      for (int64_t e = 0; e < p.in.size(); ++e) {
        a[e] = static_cast<int32_t>(lo[image * p.in.size() + e]);
        b[e] = static_cast<int32_t>(hi[image * p.in.size() + e]);
      }
      for (int64_t oh = 0; oh < p.out.h; ++oh) {
        for (int64_t ow = 0; ow < p.out.w; ++ow) {
          for (int64_t oc = 0; oc < p.out.c; ++oc) {
            const int64_t g = oc / cout_g;
            int32_t sum_lo = 0, sum_hi = 0;
            engine::for_window(s, p.in, oh, ow, [&](int64_t r, int64_t tap) {
              const int64_t base = r * p.in.c + g * cin_g;
              for (int64_t ci = 0; ci < cin_g; ++ci) {
                const int32_t w = codes[(oc * cin_g + ci) * taps + tap];
                const int32_t x = a[base + ci], y = b[base + ci];
                sum_lo += w >= 0 ? w * x : w * y;
                sum_hi += w >= 0 ? w * y : w * x;
              }
            });
            const int64_t out = image * p.out.size() + (oh * p.out.w + ow) * p.out.c + oc;
            acc_lo[out] = sum_lo;
            acc_hi[out] = sum_hi;
          }
        }
      }
    }
  });
}

}  // namespace

IbpNet::IbpNet(engine::PlanSpec spec) : quantized_(false), input_(spec.input), output_(spec.output) {
  std::vector<const OpGeometry*> geos;
  for (engine::OpSpec& s : spec.ops) {
    s.weight_count = s.weight.size();  // plan_layout checks the sizes
    s.bias_count = s.bias.size();
    geos.push_back(&s);
  }
  shapes_ = engine::plan_layout(spec.input, spec.values, spec.output, geos).shapes;
  ops_.resize(spec.ops.size());
  for (size_t index = 0; index < spec.ops.size(); ++index) {
    engine::OpSpec& s = spec.ops[index];
    if (!is_layer(ibp_kind(s.kind, index))) continue;
    ops_[index].weight = static_cast<int>(tensors_.size());
    tensors_.push_back(trainable(std::move(s.weight)));
    if (!s.bias.empty()) {
      ops_[index].bias = static_cast<int>(tensors_.size());
      tensors_.push_back(trainable(std::move(s.bias)));
    }
  }
  init_ops(geos);
}

IbpNet::IbpNet(QatSpec spec) : quantized_(true), qat_(std::move(spec)) {
  engine::IntPlanSpec& plan = qat_.plan;
  if (qat_.weights.size() != plan.ops.size()) throw std::invalid_argument("weights must have one entry per op");
  ops_.resize(plan.ops.size());
  codes_.resize(plan.ops.size());
  for (size_t index = 0; index < plan.ops.size(); ++index) {
    engine::IntOpSpec& s = plan.ops[index];
    if (!is_layer(ibp_kind(s.kind, index))) continue;
    if (s.out_channels <= 0 || qat_.weights[index].empty() || qat_.weights[index].size() % s.out_channels != 0)
      throw std::invalid_argument(engine::op_label(index, s) +
                                  ": the float weights must hold a whole number per channel");
    if (s.wbits < 2 || s.wbits > 8) throw std::invalid_argument(engine::op_label(index, s) + ": wbits must be in 2..8");
    ops_[index].weight = static_cast<int>(tensors_.size());
    tensors_.push_back(trainable(std::move(qat_.weights[index])));
    if (!s.bias.empty()) {
      ops_[index].bias = static_cast<int>(tensors_.size());
      tensors_.push_back(trainable(s.bias));
    }
  }
  qat_.weights.clear();
  rebuild_network();  // build_network validates the whole plan with the initial codes
  shapes_ = net_.shapes;
  input_ = plan.input;
  output_ = plan.output;
  std::vector<const OpGeometry*> geos;
  exact_f32_.assign(plan.ops.size(), false);
  for (size_t index = 0; index < plan.ops.size(); ++index) {
    const engine::IntOpSpec& s = plan.ops[index];
    geos.push_back(&s);
    if (!is_layer(ibp_kind(s.kind, index))) continue;
    const engine::Grid& g = s.input_grid;
    const double a_max = std::max(g.zero, g.levels() - g.zero);
    const double bound = static_cast<double>(taps_of(s, shapes_[s.inputs[0]])) * weight_qmax(s.wbits) * a_max;
    if (bound >= 2147483647.0)
      throw std::invalid_argument(engine::op_label(index, s) + ": the int32 accumulator could overflow");
    exact_f32_[index] = bound < 16777216.0;
  }
  init_ops(geos);
}

void IbpNet::init_ops(const std::vector<const OpGeometry*>& geos) {
  for (size_t index = 0; index < geos.size(); ++index) {
    Op& op = ops_[index];
    op.kind = ibp_kind(geos[index]->kind, index);
    op.geo = *geos[index];
    if (geos[index]->inputs.size() != 1)
      throw std::invalid_argument(engine::op_label(index, *geos[index]) + ": expected one input");
    if (op.kind == Kind::kGemm) {  // a 1x1 convolution of a [features, 1, 1] image, as in the trainer
      op.geo.kernel_h = op.geo.kernel_w = op.geo.stride_h = op.geo.stride_w = 1;
      op.geo.group = 1;
    }
  }
  for (const Tensor& t : tensors_) {
    m_.emplace_back(t.value.size(), 0.0f);
    v_.emplace_back(t.value.size(), 0.0f);
  }
  const size_t values = shapes_.size();
  lo_.resize(values);
  hi_.resize(values);
  glo_.resize(values);
  ghi_.resize(values);
  centre_.resize(ops_.size());
  radius_.resize(ops_.size());
  in_lo_.resize(ops_.size());
  in_hi_.resize(ops_.size());
  out_lo_.resize(ops_.size());
  out_hi_.resize(ops_.size());
  gemm_ = &kernels::f32_gemm_config(active_isa());
}

void IbpNet::rebuild_network() {
  engine::IntPlanSpec& plan = qat_.plan;
  for (size_t index = 0; index < plan.ops.size(); ++index) {
    if (ops_[index].weight < 0) continue;
    engine::IntOpSpec& s = plan.ops[index];
    const std::vector<float>& w = tensors_[ops_[index].weight].value;
    const int64_t per_channel = static_cast<int64_t>(w.size()) / s.out_channels;
    codes_[index] = engine::quantize_weights(w.data(), s.out_channels, per_channel, s.wbits);
    s.weight = codes_[index].codes;
    s.weight_scales = codes_[index].scales;
    if (ops_[index].bias >= 0) s.bias = tensors_[ops_[index].bias].value;
  }
  net_ = engine::build_network(plan);
  stale_ = false;
}

std::vector<std::vector<float>> IbpNet::moments() const {
  std::vector<std::vector<float>> out(m_);
  out.insert(out.end(), v_.begin(), v_.end());
  return out;
}

void IbpNet::set_moments(const std::vector<std::vector<float>>& moments, int64_t step) {
  const size_t n = tensors_.size();
  if (moments.size() != 2 * n || step < 0)
    throw std::invalid_argument("Adam state: expected " + std::to_string(2 * n) + " moments and a step count >= 0");
  for (size_t i = 0; i < 2 * n; ++i) {
    if (moments[i].size() != tensors_[i % n].value.size())
      throw std::invalid_argument("Adam state: moment #" + std::to_string(i) + " has the wrong size");
  }
  m_.assign(moments.begin(), moments.begin() + n);
  v_.assign(moments.begin() + n, moments.end());
  adam_step_ = step;
}

float IbpNet::real(int value, float stored) const {
  if (!quantized_ || !net_.grids[value]) return stored;
  return engine::dequantize_value(static_cast<int32_t>(stored), *net_.grids[value]);
}

void IbpNet::boxes(const float* images, int64_t batch, float eps, int64_t offset, std::vector<float>& lower,
                   std::vector<float>& upper) const {
  const int64_t size = input_.size();
  std::vector<float> x(batch * size);
  images_to_nhwc(images, input_, batch, x.data());
  for (int64_t e = 0; e < batch * size; ++e) {
    // The box always holds x itself, and is clipped to the image range [0, 1] where x lies in it.
    lower[offset * size + e] = std::min(x[e], std::max(x[e] - eps, 0.0f));
    upper[offset * size + e] = std::max(x[e], std::min(x[e] + eps, 1.0f));
  }
}

void IbpNet::forward(const std::vector<float>& lower, const std::vector<float>& upper, int64_t count, int threads) {
  if (quantized_ && stale_) rebuild_network();
  for (size_t v = 0; v < shapes_.size(); ++v) {
    lo_[v].resize(count * shapes_[v].size());
    hi_[v].resize(count * shapes_[v].size());
  }
  lo_[0] = lower;
  hi_[0] = upper;
  for (size_t index = 0; index < ops_.size(); ++index) {
    const Op& op = ops_[index];
    const int in = op.geo.inputs[0], out = op.geo.output;
    const Pass p{shapes_[in], shapes_[out], count, threads};
    switch (op.kind) {
      case Kind::kConv:
      case Kind::kGemm:
        layer_forward(index, p);
        break;
      case Kind::kClamp: {
        float min = op.geo.min, max = op.geo.max;
        if (quantized_ && net_.grids[in]) min = net_.ops[index].clamp_lo, max = net_.ops[index].clamp_hi;
        const int64_t n = count * p.out.size();
        out_lo_[index].resize(n);
        out_hi_[index].resize(n);
        for (int64_t e = 0; e < n; ++e) {
          const float a = lo_[in][e], b = hi_[in][e];
          out_lo_[index][e] = a > min && a < max;
          out_hi_[index][e] = b > min && b < max;
          lo_[out][e] = std::min(std::max(a, min), max);
          hi_[out][e] = std::min(std::max(b, min), max);
        }
        break;
      }
      default: {  // flatten: a permutation of both ends
        TrainOp train;
        train.kind = op.kind;
        train.geo = op.geo;
        simple_forward(train, p, {lo_[in].data()}, lo_[out].data(), no_argmax_);
        simple_forward(train, p, {hi_[in].data()}, hi_[out].data(), no_argmax_);
      }
    }
  }
}

void IbpNet::layer_forward(size_t index, const Pass& p) {
  const Op& op = ops_[index];
  const int in = op.geo.inputs[0], out = op.geo.output;
  const int64_t n_in = p.batch * p.in.size(), n_out = p.batch * p.out.size();
  std::vector<float>& centre = centre_[index];
  std::vector<float>& radius = radius_[index];
  centre.resize(n_in);
  radius.resize(n_in);
  in_lo_[index].assign(n_in, 1);
  in_hi_[index].assign(n_in, 1);
  out_lo_[index].resize(n_out);
  out_hi_[index].resize(n_out);
  std::vector<Tensor> scratch(3);  // the weight (W, W+ codes), the bias, |W| or the W- codes
  TrainOp main, other;
  main.kind = other.kind = op.kind;
  main.geo = other.geo = op.geo;
  main.tensors = {0};
  other.tensors = {2};
  std::vector<float> y1(n_out), y2(n_out);
  if (!quantized_) {
    for (int64_t e = 0; e < n_in; ++e) {
      centre[e] = 0.5f * (lo_[in][e] + hi_[in][e]);
      radius[e] = 0.5f * (hi_[in][e] - lo_[in][e]);
    }
    scratch[0].value = tensors_[op.weight].value;
    scratch[2].value = scratch[0].value;
    for (float& w : scratch[2].value) w = std::fabs(w);
    if (op.bias >= 0) {
      scratch[1].value = tensors_[op.bias].value;
      main.tensors.push_back(1);
    }
    conv_forward(*gemm_, main, p, scratch, centre.data(), y1.data());
    conv_forward(*gemm_, other, p, scratch, radius.data(), y2.data());
    for (int64_t e = 0; e < n_out; ++e) {
      const float a = y1[e] - y2[e], b = y1[e] + y2[e];
      out_lo_[index][e] = a > op.geo.min && a < op.geo.max;
      out_hi_[index][e] = b > op.geo.min && b < op.geo.max;
      lo_[out][e] = std::fmin(std::fmax(a, op.geo.min), op.geo.max);
      hi_[out][e] = std::fmin(std::fmax(b, op.geo.min), op.geo.max);
    }
    return;
  }
  const engine::IntOp& q = net_.ops[index];
  const engine::Grid& g = q.spec.input_grid;
  const float first = static_cast<float>(-g.zero), last = static_cast<float>(g.levels() - g.zero);
  std::vector<float> clo(n_in), chi(n_in);  // centred codes of the two ends
  auto code_of = [&](float stored, uint8_t& pass) {
    float x;
    int32_t code;
    if (q.float_in) {
      x = stored;
      code = engine::quantize_value(x, g);
    } else {
      const auto carried = static_cast<int32_t>(stored);
      x = engine::dequantize_value(carried, *net_.grids[in]);
      code = q.lut[carried];
    }
    const float t = x / g.scale;
    pass = t >= first && t <= last;
    return static_cast<float>(code - g.zero);
  };
  for (int64_t e = 0; e < n_in; ++e) {
    clo[e] = code_of(lo_[in][e], in_lo_[index][e]);
    chi[e] = code_of(hi_[in][e], in_hi_[index][e]);
    centre[e] = g.scale * 0.5f * (clo[e] + chi[e]);
    radius[e] = g.scale * 0.5f * (chi[e] - clo[e]);
  }
  const std::vector<int8_t>& codes = codes_[index].codes;
  scratch[0].value.resize(codes.size());
  scratch[2].value.resize(codes.size());
  for (size_t i = 0; i < codes.size(); ++i) {
    scratch[0].value[i] = static_cast<float>(std::max<int8_t>(codes[i], 0));
    scratch[2].value[i] = static_cast<float>(std::min<int8_t>(codes[i], 0));
  }
  std::vector<int32_t> acc_lo(n_out), acc_hi(n_out);
  if (exact_f32_[index]) {  // every partial sum is exact; their int32 sums are the accumulators of the two ends
    conv_forward(*gemm_, main, p, scratch, clo.data(), y1.data());
    conv_forward(*gemm_, other, p, scratch, chi.data(), y2.data());
    for (int64_t e = 0; e < n_out; ++e) acc_lo[e] = static_cast<int32_t>(y1[e]) + static_cast<int32_t>(y2[e]);
    conv_forward(*gemm_, main, p, scratch, chi.data(), y1.data());
    conv_forward(*gemm_, other, p, scratch, clo.data(), y2.data());
    for (int64_t e = 0; e < n_out; ++e) acc_hi[e] = static_cast<int32_t>(y1[e]) + static_cast<int32_t>(y2[e]);
  } else {
    accumulate_ends(op.geo, p, codes, clo.data(), chi.data(), acc_lo.data(), acc_hi.data());
  }
  const engine::LayerConstants& k = q.layer;
  auto end_of = [&](int32_t a, int64_t c, uint8_t& pass) {
    if (q.float_out) {
      const float v = kernels::requant_float(a, k.multiplier[c], k.bias[c]);
      pass = v > q.spec.min && v < q.spec.max;
      return std::fmin(std::fmax(v, q.spec.min), q.spec.max);
    }
    const float v = std::fma(static_cast<float>(a), k.multiplier[c], k.bias[c]);
    pass = v > k.min && v < k.max;
    return static_cast<float>(kernels::requant_code(a, k.multiplier[c], k.bias[c], k.min, k.max));
  };
  for (int64_t e = 0; e < n_out; ++e) {
    const int64_t c = e % p.out.c;
    lo_[out][e] = end_of(acc_lo[e], c, out_lo_[index][e]);
    hi_[out][e] = end_of(acc_hi[e], c, out_hi_[index][e]);
  }
}

void IbpNet::layer_backward(size_t index, const Pass& p) {
  const Op& op = ops_[index];
  const int in = op.geo.inputs[0], out = op.geo.output;
  const int64_t n_in = p.batch * p.in.size(), n_out = p.batch * p.out.size();
  std::vector<float> gc(n_out), gr(n_out);
  for (int64_t e = 0; e < n_out; ++e) {
    const float a = out_lo_[index][e] ? glo_[out][e] : 0.0f, b = out_hi_[index][e] ? ghi_[out][e] : 0.0f;
    gc[e] = a + b;
    gr[e] = b - a;
  }
  const std::vector<float>& w = tensors_[op.weight].value;
  std::vector<Tensor> scratch(3);
  scratch[0].value = w;
  if (quantized_) {  // the dequantized weights the forward used
    const WeightCodes& wc = codes_[index];
    const size_t per_channel = w.size() / wc.scales.size();
    for (size_t i = 0; i < w.size(); ++i) scratch[0].value[i] = wc.scales[i / per_channel] * wc.codes[i];
  }
  scratch[2].value = scratch[0].value;
  for (float& x : scratch[2].value) x = std::fabs(x);
  scratch[0].grad.assign(w.size(), 0.0f);
  scratch[2].grad.assign(w.size(), 0.0f);
  TrainOp main, other;
  main.kind = other.kind = op.kind;
  main.geo = other.geo = op.geo;
  main.tensors = {0};
  other.tensors = {2};
  if (op.bias >= 0) {
    scratch[1].value = tensors_[op.bias].value;
    scratch[1].grad.assign(scratch[1].value.size(), 0.0f);
    main.tensors.push_back(1);
  }
  const bool to_input = !glo_[in].empty();
  std::vector<float> dc(to_input ? n_in : 0, 0.0f), dr(to_input ? n_in : 0, 0.0f);
  conv_backward(*gemm_, main, p, scratch, centre_[index].data(), gc.data(), to_input ? dc.data() : nullptr);
  conv_backward(*gemm_, other, p, scratch, radius_[index].data(), gr.data(), to_input ? dr.data() : nullptr);
  std::vector<float>& gw = tensors_[op.weight].grad;
  const WeightCodes* wc = quantized_ ? &codes_[index] : nullptr;
  const size_t per_channel = w.size() / static_cast<size_t>(op.geo.out_channels);
  for (size_t i = 0; i < w.size(); ++i) {
    const float sign = w[i] > 0 ? 1.0f : w[i] < 0 ? -1.0f : 0.0f;
    gw[i] = scratch[0].grad[i] + sign * scratch[2].grad[i];
    // Straight-through weight quantizer: no gradient where the clip search clipped the weight.
    if (wc && std::fabs(static_cast<double>(w[i])) >
                  static_cast<double>(wc->scales[i / per_channel]) * weight_qmax(qat_.plan.ops[index].wbits))
      gw[i] = 0.0f;
  }
  if (op.bias >= 0) tensors_[op.bias].grad = scratch[1].grad;
  if (!to_input) return;
  for (int64_t e = 0; e < n_in; ++e) {
    if (in_lo_[index][e]) glo_[in][e] += 0.5f * (dc[e] - dr[e]);
    if (in_hi_[index][e]) ghi_[in][e] += 0.5f * (dc[e] + dr[e]);
  }
}

void IbpNet::backward(int64_t count, int threads) {
  for (size_t index = ops_.size(); index-- > 0;) {
    const Op& op = ops_[index];
    const int in = op.geo.inputs[0], out = op.geo.output;
    const Pass p{shapes_[in], shapes_[out], count, threads};
    if (is_layer(op.kind)) {
      layer_backward(index, p);
      continue;
    }
    if (glo_[in].empty()) continue;
    if (op.kind == Kind::kClamp) {
      for (int64_t e = 0; e < count * p.out.size(); ++e) {
        if (out_lo_[index][e]) glo_[in][e] += glo_[out][e];
        if (out_hi_[index][e]) ghi_[in][e] += ghi_[out][e];
      }
      continue;
    }
    TrainOp train;
    train.kind = op.kind;
    train.geo = op.geo;
    simple_backward(train, p, {lo_[in].data()}, glo_[out].data(), {glo_[in].data()}, no_argmax_);
    simple_backward(train, p, {hi_[in].data()}, ghi_[out].data(), {ghi_[in].data()}, no_argmax_);
  }
}

IbpBatchResult IbpNet::gradients(const float* images, const int32_t* labels, int64_t batch, int threads,
                                 const IbpLossParams& loss) {
  const int64_t classes = this->classes(), size = input_.size(), count = 2 * batch;
  check_labels(labels, batch, classes);
  std::vector<float> lower(count * size), upper(count * size);
  boxes(images, batch, 0.0f, 0, lower, upper);
  boxes(images, batch, loss.eps, batch, lower, upper);
  forward(lower, upper, count, threads);

  // Values below the first layer (the input, a flatten of it) need no gradient.
  std::vector<bool> needs(shapes_.size(), false);
  for (const Op& op : ops_) needs[op.geo.output] = is_layer(op.kind) || needs[op.geo.inputs[0]];
  for (size_t v = 0; v < shapes_.size(); ++v) {
    glo_[v].assign(needs[v] ? count * shapes_[v].size() : 0, 0.0f);
    ghi_[v].assign(needs[v] ? count * shapes_[v].size() : 0, 0.0f);
  }
  const int out = output_;
  std::vector<float> z(batch * classes), low(batch * classes), up(batch * classes);
  for (int64_t i = 0; i < batch * classes; ++i) {
    z[i] = real(out, lo_[out][i]);
    low[i] = real(out, lo_[out][batch * classes + i]);
    up[i] = real(out, hi_[out][batch * classes + i]);
  }
  IbpBatchResult result;
  std::vector<float> dz;
  const BatchResult ce = softmax_cross_entropy(z.data(), labels, batch, classes, dz);
  result.ce = ce.loss;
  result.correct = ce.correct;
  for (int64_t i = 0; i < batch * classes; ++i) {  // the point's two ends are one value
    glo_[out][i] += 0.5f * dz[i];
    ghi_[out][i] += 0.5f * dz[i];
  }
  const float hinge_grad = loss.kappa / static_cast<float>(batch * (classes - 1));
  double hinge = 0;
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t y = labels[b];
    const float* l = low.data() + b * classes;
    const float* u = up.data() + b * classes;
    bool certified = true;
    const bool correct = arg_max(z.data() + b * classes, classes) == y;
    for (int64_t j = 0; j < classes; ++j) {
      if (j == y) continue;
      const float margin = l[y] - u[j];
      certified = certified && margin > 0;
      const float h = loss.delta - margin;
      if (!correct || h <= 0) continue;
      hinge += h;
      glo_[out][(batch + b) * classes + y] -= hinge_grad;
      ghi_[out][(batch + b) * classes + j] += hinge_grad;
    }
    result.certified += certified;
  }
  result.hinge = hinge / static_cast<double>(batch * (classes - 1));

  int layers = 0;
  for (const Op& op : ops_) layers += is_layer(op.kind) && op.geo.output != out;
  for (const Op& op : ops_) {
    if (!is_layer(op.kind) || op.geo.output == out) continue;
    const int v = op.geo.output;
    const int64_t n = batch * shapes_[v].size(), first = batch * shapes_[v].size();
    double sum = 0;
    for (int64_t e = first; e < first + n; ++e) sum += real(v, hi_[v][e]) - real(v, lo_[v][e]);
    result.width += sum / static_cast<double>(n) / layers;
    const float g = loss.lambda / static_cast<float>(n * layers);
    for (int64_t e = first; e < first + n; ++e) {
      ghi_[v][e] += g;
      glo_[v][e] -= g;
    }
  }
  result.loss = result.ce + loss.kappa * result.hinge + loss.lambda * result.width;
  backward(count, threads);
  return result;
}

void IbpNet::adam(const AdamParams& a) {
  ++adam_step_;
  const double c1 = 1.0 - std::pow(static_cast<double>(a.beta1), static_cast<double>(adam_step_));
  const double c2 = 1.0 - std::pow(static_cast<double>(a.beta2), static_cast<double>(adam_step_));
  for (size_t t = 0; t < tensors_.size(); ++t) {
    std::vector<float>& w = tensors_[t].value;
    const std::vector<float>& g = tensors_[t].grad;
    for (size_t i = 0; i < w.size(); ++i) {
      m_[t][i] = a.beta1 * m_[t][i] + (1.0f - a.beta1) * g[i];
      v_[t][i] = a.beta2 * v_[t][i] + (1.0f - a.beta2) * g[i] * g[i];
      const double step = (m_[t][i] / c1) / (std::sqrt(v_[t][i] / c2) + a.epsilon);
      w[i] -= static_cast<float>(a.lr * (step + a.weight_decay * w[i]));
    }
  }
  stale_ = true;
}

void IbpNet::bounds(const float* images, int64_t batch, float eps, int threads, float* logits, float* lower,
                    float* upper) {
  const int64_t classes = this->classes(), size = input_.size();
  std::vector<float> lo(2 * batch * size), hi(2 * batch * size);
  boxes(images, batch, 0.0f, 0, lo, hi);
  boxes(images, batch, eps, batch, lo, hi);
  forward(lo, hi, 2 * batch, threads);
  for (int64_t i = 0; i < batch * classes; ++i) {
    logits[i] = real(output_, lo_[output_][i]);
    lower[i] = real(output_, lo_[output_][batch * classes + i]);
    upper[i] = real(output_, hi_[output_][batch * classes + i]);
  }
}

}  // namespace arq::train
