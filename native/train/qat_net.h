// Quantization-aware training (QAT): a network under a per-layer policy whose forward pass IS the integer engine's
// computation (quantization.md, int_semantics.h), run batch-wise in float32 NHWC buffers that hold integer codes, and
// whose backward pass is the float trainer's (conv.cc, layers.cc) with straight-through estimators.
//
// Forward, per step (every formula is int_semantics.h's, through engine::build_network's constants):
// - weights: per output channel, codes and scale from the clip search (engine/clip_search.h) on the CURRENT float
//   weights (engine::quantize_weights, the same function the plan's spec uses), so that the integer plan built from
//   the fine-tuned graph by intPlanSpec() has exactly the codes the last forward used;
// - activations: the carrier and layer-input grids of the spec (from calibration), fixed during QAT;
// - conv/gemm: layer-input codes (float input quantized, or carrier converted by the 256-entry table), centred by
//   z_a, accumulated exactly (the f32 GEMM on integer values, exact while K * qmax_w * max|q_a - z_a| < 2^24, else
//   a scalar int32 loop), then requant_code / requant_float with the layer's multiplier and bias;
// - add: add_codes; clamp: on codes; max pool on codes; average pools: int32 sum then average_code; flatten, pad
//   (the pad value's code) and repeat copy codes.
// Logits are therefore bit-identical to engine::run_reference on the IntPlanSpec with the current codes.
//
// Backward (straight-through): every rounding is the identity; a clamp passes the gradient only where the value was
// inside it (requantization saturation and fused activations: the pre-rounding value strictly inside [min, max];
// layer-input quantization: x / s_a inside [-z_a, levels - z_a]; weights: |w| <= s_w * qmax). The real-domain
// values the float backward needs are the dequantized codes: s_a * (q_a - z_a) for a layer's input and
// s_w * q_w for its weights. Weight scales and activation grids get no gradient.
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "engine/clip_search.h"
#include "engine/int_plan.h"
#include "train/train_net.h"

namespace arq::train {

struct Pass;  // train/ops.h

using engine::WeightCodes;

// The spec: an integer plan whose conv/gemm ops carry no codes yet (weight and weight_scales empty), plus the float
// weights of those ops (weights[op], empty for other ops). Biases are the spec's, trainable.
struct QatSpec {
  engine::IntPlanSpec plan;
  std::vector<std::vector<float>> weights;
};

class QatNet {
 public:
  // Validates (build_network on the initial codes); throws std::invalid_argument naming the op.
  explicit QatNet(QatSpec spec);

  int64_t classes() const { return shapes_[spec_.plan.output].size(); }
  const Shape& input_shape() const { return spec_.plan.input; }
  // Trainable tensors in op order: each layer's weight, then its bias when it has one.
  const std::vector<Tensor>& tensors() const { return tensors_; }
  // The codes and scales the next forward pass uses (per layer, op order).
  std::vector<WeightCodes> codes() const;

  BatchResult gradients(const float* images, const int32_t* labels, int64_t batch, int threads);
  void sgd(const SgdParams& params);
  // The fake-quantized forward pass: logits [batch x classes].
  void predict(const float* images, int64_t batch, float* logits, int threads);
  // predict's forward pass (the integer engine's logits), then the straight-through gradient of each image's margin
  // logit[target] - logit[label] with respect to its pixels into `gradient` (NCHW); the first layer's input
  // quantization passes the gradient where x / s_a lies inside its grid, as for any layer input. The parameter
  // gradients of the pass are left in Tensor::grad. Labels and targets must lie in [0, classes) and differ per image.
  void input_gradients(const float* images, const int32_t* labels, const int32_t* targets, int64_t batch, int threads,
                       float* logits, float* gradient);

  std::atomic<bool> busy{false};

 private:
  struct Layer {                 // per conv/gemm op
    int weight = -1, bias = -1;  // indices into tensors_
    bool exact_f32 = true;       // the f32 GEMM accumulates exactly (see the bound above)
  };
  // Codes and scales of the current weights (and the current biases) into the plan, then net_ rebuilt from it.
  void rebuild_network();
  void forward(const float* images, int64_t batch, int threads, bool record);
  // to_input: every value gets a gradient (the input's included), not only those downstream of a layer.
  void backward(const std::vector<float>& dlogits, int64_t batch, int threads, bool to_input);
  // The last forward's output as float logits (dequantized when the output is a carrier).
  void read_logits(float* logits) const;
  void conv_accumulate(size_t index, const Pass& p, const float* centred, float* acc);

  QatSpec spec_;
  engine::IntNetwork net_;  // constants of the last forward
  bool stale_ = true;       // the weights moved since net_ was built (an SGD step): the next forward rebuilds it
  std::vector<WeightCodes> codes_;  // per op (layers only)
  std::vector<Tensor> tensors_;
  std::vector<Layer> layers_;         // per op
  std::vector<TrainOp> train_ops_;    // per op: the trainer's view (conv/gemm tensors index fake_)
  std::vector<TrainOp> forward_ops_;  // conv/gemm without bias, reading codes
  std::vector<Tensor> fake_;          // per tensors_ entry: the codes (forward) or dequantized weights (backward)
  std::vector<Shape> shapes_;
  std::vector<bool> needs_grad_;
  std::vector<std::vector<float>> vals_;     // per value: codes as floats (carriers) or float32 values
  std::vector<std::vector<float>> grads_;    // per value: gradient of the loss with respect to the real value
  std::vector<std::vector<float>> centred_;  // per conv/gemm op: q_a - z_a of its input, NHWC
  std::vector<std::vector<uint8_t>> in_pass_, out_pass_;  // per op: straight-through masks
  std::vector<std::vector<int32_t>> argmax_;
  const kernels::F32GemmConfig* gemm_ = nullptr;
};

}  // namespace arq::train
