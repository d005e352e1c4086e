// The native trainer: a network of the graph IR with batch norm kept as its own operator, its parameters, SGD
// momentum buffers and batch-norm running statistics, and the forward and backward passes over a mini-batch.
//
// Activations are stored NHWC per image, [batch][H][W][C]; inputs arrive NCHW. Every pass runs operator by operator
// over the whole batch (batch norm couples the images), each operator split over fixed chunks of kChunkImages images
// on arq's pool. Parameter gradients and batch-norm sums are accumulated per chunk and reduced in chunk order, so a
// result depends on the batch and the ISA, never on the thread count.
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "engine/geometry.h"
#include "kernels/f32-gemm/f32-gemm.h"

namespace arq::train {

using engine::OpGeometry;
using engine::Shape;

enum class Kind {
  kConv,
  kGemm,
  kBatchNorm,
  kClamp,
  kAdd,
  kMaxPool,
  kAvgPool,
  kGlobalAvgPool,
  kFlatten,
  kElementwise,
  kPad,
  kRepeat
};

// A parameter or buffer: conv/gemm weight and bias, batch-norm scale, bias (trainable) and running mean and variance.
struct Tensor {
  std::vector<float> value;
  std::vector<float> grad;      // trainable only
  std::vector<float> momentum;  // trainable only
  bool trainable = true;
};

struct TrainOp {
  Kind kind = Kind::kClamp;
  OpGeometry geo;            // structure; batch norm uses inputs/output only
  std::vector<int> tensors;  // indices into TrainSpec::tensors: conv/gemm weight[, bias]; bn scale, bias, mean, var
  float epsilon = 1e-5f;     // batch norm
  float bn_momentum = 0.1f;  // running = (1 - m) * running + m * batch statistic (PyTorch's convention)
};

struct TrainSpec {
  Shape input;
  int values = 0;  // value 0 is the input
  int output = -1;
  std::vector<TrainOp> ops;
  std::vector<Tensor> tensors;
};

struct SgdParams {
  float lr = 0.1f, momentum = 0.9f, weight_decay = 0.0f;
};

struct BatchResult {
  double loss = 0;      // mean softmax cross-entropy over the batch
  int64_t correct = 0;  // arg-max (lowest index on ties) equals the label
};

constexpr int64_t kChunkImages = 8;

class TrainNet {
 public:
  // Validates structure, shapes and tensor sizes; throws std::invalid_argument naming the op.
  explicit TrainNet(TrainSpec spec);

  int64_t classes() const { return shapes_[spec_.output].size(); }
  const Shape& input_shape() const { return spec_.input; }
  const std::vector<Tensor>& tensors() const { return spec_.tensors; }

  // Batch norm in training mode: loss and gradients of every trainable tensor (left in Tensor::grad); running
  // statistics move towards the batch's when `update_stats`. Labels must lie in [0, classes).
  BatchResult gradients(const float* images, const int32_t* labels, int64_t batch, int threads, bool update_stats);
  // One SGD step on the gradients of the last gradients() call: g = grad + wd * w; v = momentum * v + g; w -= lr * v.
  void sgd(const SgdParams& params);
  // Batch norm in inference mode (running statistics): logits [batch x classes].
  void predict(const float* images, int64_t batch, float* logits, int threads);
  // predict's forward pass, then the gradient of each image's margin logit[target] - logit[label] with respect to
  // its pixels into `gradient` (NCHW, the images' layout); the parameter gradients of the pass are left in
  // Tensor::grad. Labels and targets must lie in [0, classes) and differ per image.
  void input_gradients(const float* images, const int32_t* labels, const int32_t* targets, int64_t batch, int threads,
                       float* logits, float* gradient);

  // Jobs in flight own the net; JavaScript calls check this so that no two touch it at once.
  std::atomic<bool> busy{false};

 private:
  void forward(const float* images, int64_t batch, int threads, bool training, bool update_stats);
  // to_input: every value gets a gradient (the input's included), not only those downstream of a trainable tensor.
  void backward(const std::vector<float>& dlogits, int64_t batch, int threads, bool training, bool to_input);

  TrainSpec spec_;
  std::vector<Shape> shapes_;
  std::vector<bool> needs_grad_;                          // per value: whether any trainable tensor lies upstream
  std::vector<std::vector<float>> acts_;                  // per value, [batch][H][W][C]
  std::vector<std::vector<float>> grads_;                 // per value, same layout
  std::vector<std::vector<double>> bn_mean_, bn_invstd_;  // per op, the batch statistics of the last forward
  std::vector<std::vector<int32_t>> argmax_;              // per op, maxpool: input position of each output
  // Per op: for a batch norm or an add whose output only a clamp consumes (not the network's output), that clamp's
  // index, which the op's passes run (FusedClamp in ops.h); -1 elsewhere. fused_[clamp] marks the clamps they skip.
  std::vector<int> fused_clamp_;
  std::vector<bool> fused_;
  const kernels::F32GemmConfig* gemm_ = nullptr;
};

}  // namespace arq::train
