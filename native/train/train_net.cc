// The trainer's graph executor: validation, the passes operator by operator, softmax cross-entropy and SGD.
#include "train/train_net.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "common/cpu.h"
#include "train/ops.h"

namespace arq::train {
namespace {

// Batch norm is shape-preserving with one input, like a clamp: geometry validates it as one.
std::vector<Shape> validate(const TrainSpec& spec) {
  std::vector<const OpGeometry*> geometry;
  for (const TrainOp& op : spec.ops) geometry.push_back(&op.geo);
  std::vector<Shape> shapes = engine::plan_layout(spec.input, spec.values, spec.output, geometry).shapes;
  for (size_t index = 0; index < spec.ops.size(); ++index) {
    const TrainOp& op = spec.ops[index];
    auto fail = [&](const std::string& what) {
      throw std::invalid_argument("op #" + std::to_string(index) + ": " + what);
    };
    const int64_t channels = shapes[op.geo.output].c;
    for (int tensor : op.tensors) {
      if (tensor < 0 || tensor >= static_cast<int>(spec.tensors.size())) fail("tensor index out of range");
    }
    if (op.kind == Kind::kBatchNorm) {
      if (op.tensors.size() != 4) fail("batch norm needs scale, bias, mean and var");
      for (int tensor : op.tensors) {
        if (static_cast<int64_t>(spec.tensors[tensor].value.size()) != channels)
          fail("batch norm tensors need one value per channel");
      }
      if (!(op.epsilon > 0.0f) || !(op.bn_momentum >= 0.0f && op.bn_momentum <= 1.0f)) fail("bad epsilon or momentum");
    }
    if ((op.kind == Kind::kConv || op.kind == Kind::kGemm) && (op.tensors.empty() || op.tensors.size() > 2)) {
      fail("conv and gemm take a weight and an optional bias");
    }
    if (op.kind == Kind::kElementwise && op.geo.constant.size() != 1 &&
        static_cast<int64_t>(op.geo.constant.size()) != shapes[op.geo.inputs[0]].c) {
      fail("the constant must have one value or one per channel");
    }
  }
  return shapes;
}

// The clamp op #`clamp` (-1: none) as its batch norm runs it.
FusedClamp fused_clamp(const TrainSpec& spec, int clamp) {
  if (clamp < 0) return {};
  return {true, spec.ops[clamp].geo.min, spec.ops[clamp].geo.max};
}

}  // namespace

TrainNet::TrainNet(TrainSpec spec) : spec_(std::move(spec)) {
  shapes_ = validate(spec_);
  needs_grad_.assign(spec_.values, false);
  for (const TrainOp& op : spec_.ops) {
    bool needs = false;
    for (int tensor : op.tensors) needs = needs || spec_.tensors[tensor].trainable;
    for (int value : op.geo.inputs) needs = needs || needs_grad_[value];
    needs_grad_[op.geo.output] = needs;
  }
  for (Tensor& tensor : spec_.tensors) {
    if (!tensor.trainable) continue;
    tensor.grad.assign(tensor.value.size(), 0.0f);
    if (tensor.momentum.size() != tensor.value.size()) tensor.momentum.assign(tensor.value.size(), 0.0f);
  }
  acts_.resize(spec_.values);
  grads_.resize(spec_.values);
  bn_mean_.resize(spec_.ops.size());
  bn_invstd_.resize(spec_.ops.size());
  argmax_.resize(spec_.ops.size());
  gemm_ = &kernels::f32_gemm_config(active_isa());
  std::vector<int> consumers(spec_.values, 0), consumer(spec_.values, -1);
  for (size_t index = 0; index < spec_.ops.size(); ++index) {
    for (int value : spec_.ops[index].geo.inputs) ++consumers[value], consumer[value] = static_cast<int>(index);
  }
  fused_clamp_.assign(spec_.ops.size(), -1);
  fused_.assign(spec_.ops.size(), false);
  for (size_t index = 0; index < spec_.ops.size(); ++index) {
    const int value = spec_.ops[index].geo.output;
    const Kind kind = spec_.ops[index].kind;
    if ((kind != Kind::kBatchNorm && kind != Kind::kAdd) || value == spec_.output || consumers[value] != 1) continue;
    if (spec_.ops[consumer[value]].kind != Kind::kClamp) continue;
    fused_clamp_[index] = consumer[value];
    fused_[consumer[value]] = true;
  }
}

void TrainNet::forward(const float* images, int64_t batch, int threads, bool training, bool update_stats) {
  for (int v = 0; v < spec_.values; ++v) acts_[v].resize(batch * shapes_[v].size());
  images_to_nhwc(images, spec_.input, batch, acts_[0].data());
  for (size_t index = 0; index < spec_.ops.size(); ++index) {
    const TrainOp& op = spec_.ops[index];
    const Pass p{shapes_[op.geo.inputs[0]], shapes_[op.geo.output], batch, threads};
    if (fused_[index]) continue;  // its batch norm wrote its output
    const float* input = acts_[op.geo.inputs[0]].data();
    float* output = acts_[op.geo.output].data();
    switch (op.kind) {
      case Kind::kConv:
      case Kind::kGemm:
        conv_forward(*gemm_, op, p, spec_.tensors, input, output);
        break;
      case Kind::kBatchNorm: {
        const int clamp = fused_clamp_[index];
        batchnorm_forward(op, p, spec_.tensors, input, clamp < 0 ? output : acts_[spec_.ops[clamp].geo.output].data(),
                          training, update_stats, bn_mean_[index], bn_invstd_[index],
                          fused_clamp(spec_, fused_clamp_[index]));
        break;
      }
      default: {
        std::vector<const float*> xs;
        for (int value : op.geo.inputs) xs.push_back(acts_[value].data());
        const int clamp = fused_clamp_[index];
        simple_forward(op, p, xs, clamp < 0 ? output : acts_[spec_.ops[clamp].geo.output].data(), argmax_[index],
                       fused_clamp(spec_, clamp));
      }
    }
  }
}

void TrainNet::backward(const std::vector<float>& dlogits, int64_t batch, int threads, bool training, bool to_input) {
  std::vector<bool> needs_grad(needs_grad_);
  if (to_input) needs_grad.assign(spec_.values, true);
  // No gradient is zeroed up front: the first contribution to a value (its last consumer's backward, the ops running
  // in reverse) overwrites it, and `written` says which values hold one.
  std::vector<bool> written(spec_.values, false);
  for (int v = 0; v < spec_.values; ++v) grads_[v].resize(needs_grad[v] ? batch * shapes_[v].size() : 0);
  auto write = [&](int value) {  // whether this contribution to `value` is its first
    const bool first = !written[value];
    written[value] = true;
    return first;
  };
  std::copy(dlogits.begin(), dlogits.end(), grads_[spec_.output].begin());
  write(spec_.output);
  for (size_t index = spec_.ops.size(); index-- > 0;) {
    const TrainOp& op = spec_.ops[index];
    if (!needs_grad[op.geo.output]) continue;
    // The gradient this op receives: a fused clamp's output's, whose backward the batch norm runs.
    const int out = fused_clamp_[index] < 0 ? op.geo.output : spec_.ops[fused_clamp_[index]].geo.output;
    // An output no op consumed (a dead branch) has a zero gradient.
    if (write(out)) std::fill(grads_[out].begin(), grads_[out].end(), 0.0f);
    if (fused_[index]) continue;
    const Pass p{shapes_[op.geo.inputs[0]], shapes_[op.geo.output], batch, threads};
    auto dx_of = [&](int value) { return needs_grad[value] ? grads_[value].data() : nullptr; };
    auto first_of = [&](int value) { return needs_grad[value] && write(value); };
    const float* input = acts_[op.geo.inputs[0]].data();
    const float* dy = grads_[out].data();
    const int in = op.geo.inputs[0];
    switch (op.kind) {
      case Kind::kConv:
      case Kind::kGemm:
        conv_backward(*gemm_, op, p, spec_.tensors, input, dy, dx_of(in), first_of(in));
        break;
      case Kind::kBatchNorm:
        batchnorm_backward(op, p, spec_.tensors, input, dy, dx_of(in), bn_mean_[index], bn_invstd_[index], training,
                           first_of(in), fused_clamp(spec_, fused_clamp_[index]));
        break;
      default: {
        std::vector<const float*> xs;
        std::vector<float*> dxs;
        std::vector<bool> overwrite;
        for (int value : op.geo.inputs) {
          xs.push_back(acts_[value].data());
          dxs.push_back(dx_of(value));
          overwrite.push_back(first_of(value));
        }
        simple_backward(op, p, xs, dy, dxs, argmax_[index], overwrite, fused_clamp(spec_, fused_clamp_[index]));
      }
    }
  }
  if (to_input && write(0)) std::fill(grads_[0].begin(), grads_[0].end(), 0.0f);
}

void images_to_nhwc(const float* images, const Shape& in, int64_t batch, float* x) {
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t c = 0; c < in.c; ++c) {
      for (int64_t q = 0; q < in.h * in.w; ++q)
        x[(b * in.h * in.w + q) * in.c + c] = images[(b * in.c + c) * in.h * in.w + q];
    }
  }
}

void nhwc_to_images(const float* x, const Shape& in, int64_t batch, float* images) {
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t c = 0; c < in.c; ++c) {
      for (int64_t q = 0; q < in.h * in.w; ++q)
        images[(b * in.c + c) * in.h * in.w + q] = x[(b * in.h * in.w + q) * in.c + c];
    }
  }
}

std::vector<float> margin_cotangent(const int32_t* labels, const int32_t* targets, int64_t batch, int64_t classes) {
  check_labels(labels, batch, classes);
  check_labels(targets, batch, classes);
  std::vector<float> dlogits(batch * classes, 0.0f);
  for (int64_t b = 0; b < batch; ++b) {
    if (labels[b] == targets[b])
      throw std::invalid_argument("image " + std::to_string(b) + ": the target is the label");
    dlogits[b * classes + targets[b]] = 1.0f;
    dlogits[b * classes + labels[b]] = -1.0f;
  }
  return dlogits;
}

void check_labels(const int32_t* labels, int64_t batch, int64_t classes) {
  for (int64_t b = 0; b < batch; ++b) {
    if (labels[b] < 0 || labels[b] >= classes)
      throw std::invalid_argument("label " + std::to_string(labels[b]) + " out of range");
  }
}

BatchResult softmax_cross_entropy(const float* logits, const int32_t* labels, int64_t batch, int64_t classes,
                                  std::vector<float>& dlogits) {
  const int64_t n = classes;
  dlogits.assign(batch * n, 0.0f);
  BatchResult result;
  for (int64_t b = 0; b < batch; ++b) {
    const float* z = logits + b * n;
    int64_t best = 0;
    for (int64_t k = 1; k < n; ++k)
      if (z[k] > z[best]) best = k;
    double total = 0;
    for (int64_t k = 0; k < n; ++k) total += std::exp(static_cast<double>(z[k]) - z[best]);
    result.loss += std::log(total) + z[best] - z[labels[b]];
    result.correct += best == labels[b];
    for (int64_t k = 0; k < n; ++k) {
      const double prob = std::exp(static_cast<double>(z[k]) - z[best]) / total;
      dlogits[b * n + k] = static_cast<float>((prob - (k == labels[b] ? 1.0 : 0.0)) / static_cast<double>(batch));
    }
  }
  result.loss /= static_cast<double>(batch);
  return result;
}

void sgd_step(Tensor& tensor, const SgdParams& params) {
  for (size_t i = 0; i < tensor.value.size(); ++i) {
    const float g = tensor.grad[i] + params.weight_decay * tensor.value[i];
    tensor.momentum[i] = params.momentum * tensor.momentum[i] + g;
    tensor.value[i] -= params.lr * tensor.momentum[i];
  }
}

BatchResult TrainNet::gradients(const float* images, const int32_t* labels, int64_t batch, int threads,
                                bool update_stats) {
  check_labels(labels, batch, classes());
  forward(images, batch, threads, true, update_stats);
  std::vector<float> dlogits;
  const BatchResult result = softmax_cross_entropy(acts_[spec_.output].data(), labels, batch, classes(), dlogits);
  if (needs_grad_[spec_.output]) backward(dlogits, batch, threads, true, false);
  return result;
}

void TrainNet::sgd(const SgdParams& params) {
  for (Tensor& tensor : spec_.tensors) {
    if (tensor.trainable) sgd_step(tensor, params);
  }
}

void TrainNet::predict(const float* images, int64_t batch, float* logits, int threads) {
  forward(images, batch, threads, false, false);
  std::copy(acts_[spec_.output].begin(), acts_[spec_.output].end(), logits);
}

void TrainNet::input_gradients(const float* images, const int32_t* labels, const int32_t* targets, int64_t batch,
                               int threads, float* logits, float* gradient) {
  const std::vector<float> dlogits = margin_cotangent(labels, targets, batch, classes());
  predict(images, batch, logits, threads);
  backward(dlogits, batch, threads, false, true);
  nhwc_to_images(grads_[0].data(), spec_.input, batch, gradient);
}

}  // namespace arq::train
