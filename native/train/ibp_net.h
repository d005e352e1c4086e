// Certified training by interval bound propagation (IBP; Gowal et al. 2018) and its quantization-aware form (QA-IBP;
// Lechner et al., AAAI 2023), on a chain of conv/gemm layers (fused clamps), clamps and flattens.
//
// Every pass propagates boxes: a value holds a lower and an upper end per element. A batch of B images is run as 2B
// boxes, the B points (lower = upper = x, the clean forward pass) and the B boxes [x - eps, x + eps] ∩ [0, 1].
// A conv/gemm maps a box (centre c, radius r) to centre W c + b and radius |W| r, then its clamp acts on both ends.
//
// Float mode: real values. Quantized mode: the integer engine's semantics, as QatNet (qat_net.h) computes them, on
// each end: the layer-input quantizer and the carrier-to-layer table are monotone, so the codes of the ends bound the
// codes of every point of the box; the centred codes are accumulated exactly (W+ codes on one end plus W- codes on
// the other, in the f32 GEMM where K * qmax_w * max|q_a - z_a| < 2^24 makes it exact, else in int32 loops), and
// requant_code / requant_float are monotone in the accumulator (positive multipliers). The ends
// are therefore the bounds the engine's own IBP (verify/) computes for that box: every point of the box, run through
// the integer plan of the trained weights, has logits inside them.
//
// Loss (per batch, Lechner et al.'s QA-IBP loss): mean cross-entropy of the point logits
//   + kappa * mean over the batch of (mean over wrong classes j of max(0, delta - m_j)), m_j = lower_y - upper_j,
//     counted only for images whose point logits classify them correctly
//   + lambda * mean over hidden layers (conv/gemm outputs other than the logits) of the mean width of their box ends.
// Backward: the real-domain chain rule of the centre/radius form (dW = dc (x) c + sign(W) * (dr (x) r)), with the
// straight-through estimators of qat_net.h in quantized mode (rounding is the identity; clamps, layer-input
// quantizers and weight clipping pass gradients only inside their ranges), each end with its own masks.
// Updates: Adam (Kingma & Ba 2015) with bias correction and optional decoupled weight decay.
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "engine/float_plan.h"
#include "engine/int_network.h"
#include "train/qat_net.h"
#include "train/train_net.h"

namespace arq::train {

struct IbpLossParams {
  float eps = 0.0f;     // box radius in input units (images are in [0, 1]; boxes are clipped to it)
  float kappa = 0.0f;   // weight of the margin hinge
  float delta = 0.25f;  // hinge target on each certified margin lower bound
  float lambda = 0.0f;  // weight of the mean hidden width
};

struct IbpBatchResult {
  double loss = 0, ce = 0, hinge = 0, width = 0;  // total and its three parts (unweighted hinge and width)
  int64_t correct = 0;                            // point arg-max equals the label
  int64_t certified = 0;                          // lower_y > upper_j for every j != y
};

struct AdamParams {
  float lr = 1e-3f, beta1 = 0.9f, beta2 = 0.999f, epsilon = 1e-8f, weight_decay = 0.0f;
};

class IbpNet {
 public:
  // Float mode: an fp32 plan description (conv, gemm, clamp, flatten only). Throws std::invalid_argument naming the op.
  explicit IbpNet(engine::PlanSpec spec);
  // Quantized mode: a QAT description (qat_net.h) of the same operators.
  explicit IbpNet(QatSpec spec);

  bool quantized() const { return quantized_; }
  int64_t classes() const { return shapes_[output_].size(); }
  const Shape& input_shape() const { return input_; }
  // Trainable tensors in op order: each layer's weight, then its bias when it has one.
  const std::vector<Tensor>& tensors() const { return tensors_; }
  // Adam's state: first moments of every tensor, then second moments; and the step count.
  std::vector<std::vector<float>> moments() const;
  int64_t adam_step() const { return adam_step_; }
  // Resuming: 2 * tensors().size() arrays of the tensors' sizes, and the step count (>= 0).
  void set_moments(const std::vector<std::vector<float>>& moments, int64_t step);

  IbpBatchResult gradients(const float* images, const int32_t* labels, int64_t batch, int threads,
                           const IbpLossParams& loss);
  void adam(const AdamParams& params);
  // For each image, the logits of the point and the lower and upper ends of its box's logits ([batch x classes]).
  void bounds(const float* images, int64_t batch, float eps, int threads, float* logits, float* lower, float* upper);

  std::atomic<bool> busy{false};

 private:
  struct Op {
    Kind kind = Kind::kClamp;
    OpGeometry geo;
    int weight = -1, bias = -1;  // conv/gemm: indices into tensors_
  };
  void init_ops(const std::vector<const OpGeometry*>& ops);
  void rebuild_network();  // quantized: codes and scales of the current weights into the plan, then net_
  // Boxes [lower, upper] (NCHW) through the net; record: keep what backward needs.
  void forward(const std::vector<float>& lower, const std::vector<float>& upper, int64_t count, int threads);
  void layer_forward(size_t index, const Pass& p);
  void backward(int64_t count, int threads);
  void layer_backward(size_t index, const Pass& p);
  // The real value of a stored end of `value` (dequantized where it is a carrier).
  float real(int value, float stored) const;
  // Writes the boxes [x - eps, x + eps] ∩ [0, 1] of `batch` images (NCHW) from box `offset` on.
  void boxes(const float* images, int64_t batch, float eps, int64_t offset, std::vector<float>& lower,
             std::vector<float>& upper) const;

  bool quantized_ = false;
  Shape input_;
  int output_ = -1;
  std::vector<Shape> shapes_;
  std::vector<Op> ops_;
  std::vector<Tensor> tensors_;
  std::vector<std::vector<float>> m_, v_;  // Adam moments per tensor
  int64_t adam_step_ = 0;

  QatSpec qat_;             // quantized mode: the plan (codes refreshed from tensors_ by rebuild_network)
  engine::IntNetwork net_;  // quantized mode: constants of the last forward
  bool stale_ = true;       // quantized mode: the weights moved since net_ was built
  std::vector<WeightCodes> codes_;
  std::vector<bool> exact_f32_;  // quantized, per op: the f32 GEMM accumulates this layer's ends exactly

  // Per value: the two ends (codes as floats on carriers, else reals), and the gradients of their real values.
  std::vector<std::vector<float>> lo_, hi_, glo_, ghi_;
  // Per op: centre and radius of its input in real units (conv/gemm), pass masks of each end's input and output.
  std::vector<std::vector<float>> centre_, radius_;
  std::vector<std::vector<uint8_t>> in_lo_, in_hi_, out_lo_, out_hi_;
  std::vector<int32_t> no_argmax_;
  const kernels::F32GemmConfig* gemm_ = nullptr;
};

}  // namespace arq::train
