// The forward and backward pass of each training operator over a batch of NHWC images (train_net.h describes the
// layout and the chunking that keeps results independent of the thread count). Backward functions add into dx,
// because a value consumed twice receives two gradient contributions, or, where `overwrite` says so (the value's first
// contribution), write it: then dx may hold anything before the call, and no pass has to zero every gradient first.
// dx == nullptr means that the input needs no gradient. Parameter gradients are written (not added) to Tensor::grad.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "train/chunks.h"
#include "train/train_net.h"

// The trainer's elementwise loops, compiled once per vector width and picked at load time (this code is otherwise
// built for the baseline ISA). Each element goes through the same IEEE operations in every clone and no loop
// reassociates a sum, so the clones agree to the bit.
#define ARQ_TRAIN_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))

namespace arq::train {

// Where one operator runs: its input and output shapes, the batch and the pool threads.
struct Pass {
  Shape in, out;
  int64_t batch = 0;
  int threads = 1;
};

// Conv (any group; depthwise by direct loops, the rest as im2col + f32-gemm) and Gemm, which is a 1x1 conv over a
// [features, 1, 1] image. Tensors: weight [out][in/group][kh][kw], then bias when the op has one. `level`: an f32-gemm
// config of the ISA level to run (each product takes that level's tile for its column count).
void conv_forward(const kernels::F32GemmConfig& level, const TrainOp& op, const Pass& p, const std::vector<Tensor>& t,
                  const float* x, float* y);
void conv_backward(const kernels::F32GemmConfig& level, const TrainOp& op, const Pass& p, std::vector<Tensor>& t,
                   const float* x, const float* dy, float* dx, bool overwrite = false);

// A clamp (ReLU, ReLU6) that is the only consumer of a batch norm's or an add's output, run inside that op's passes:
// the forward writes min(max(y, lo), hi) of the op's y (the clamp's output, bit for bit as clamp_forward gives it; y
// itself is never stored), and the backward takes the clamp's output gradient, passing it where lo < y < hi (as
// clamp_backward does) with y recomputed from the op's inputs by the forward's own float operations.
struct FusedClamp {
  bool on = false;
  float lo = -INFINITY, hi = INFINITY;
};

// Batch norm. Training: normalises by the batch's mean and biased variance (saved in mean/invstd for backward) and,
// when update_stats, moves the running statistics (unbiased variance). Inference: the running statistics.
void batchnorm_forward(const TrainOp& op, const Pass& p, std::vector<Tensor>& t, const float* x, float* y,
                       bool training, bool update_stats, std::vector<double>& mean, std::vector<double>& invstd,
                       FusedClamp clamp = {});
// `training` says which forward ran: batch statistics (dx through the batch mean and variance) or running statistics
// (a fixed affine map per channel, dx = gamma * invstd * dy). With a fused clamp, dy is the clamp's output gradient.
void batchnorm_backward(const TrainOp& op, const Pass& p, std::vector<Tensor>& t, const float* x, const float* dy,
                        float* dx, const std::vector<double>& mean, const std::vector<double>& invstd, bool training,
                        bool overwrite = false, FusedClamp clamp = {});

// Elementwise operators without parameters. maxpool records the input position of each output in argmax. `clamp`:
// only for an add.
void simple_forward(const TrainOp& op, const Pass& p, const std::vector<const float*>& xs, float* y,
                    std::vector<int32_t>& argmax, FusedClamp clamp = {});
// overwrite: per input, as dxs (empty: add into all).
void simple_backward(const TrainOp& op, const Pass& p, const std::vector<const float*>& xs, const float* dy,
                     const std::vector<float*>& dxs, const std::vector<int32_t>& argmax,
                     const std::vector<bool>& overwrite = {}, FusedClamp clamp = {});

// y[i] += a[i] for i < n.
void add_into(const float* __restrict a, float* __restrict y, int64_t n);
// Zeroes dx[0, n) when `overwrite`, for the backward passes that can only add (scatters, pools).
void zero_if(bool overwrite, float* dx, int64_t n);

// Pad and repeat on one image: output (oh, ow, c) is input (oh - top, ow - left, c mod C_in) for a pad and
// (oh, ow, c mod C_in) for a repeat; positions outside the input hold `fill` (the pad value; QAT passes its code).
void copy_image(const OpGeometry& s, const Pass& p, const float* in, float* out, float fill);
// Its backward: each output gradient is added to the input position it was copied from.
void copy_image_backward(const OpGeometry& s, const Pass& p, const float* dy, float* dx);

// The input conversion, loss and update both nets share (defined in train_net.cc).
// NCHW images [batch, C, H, W] -> NHWC x.
void images_to_nhwc(const float* images, const Shape& in, int64_t batch, float* x);
// NHWC x -> NCHW images [batch, C, H, W] (the input gradient's layout).
void nhwc_to_images(const float* x, const Shape& in, int64_t batch, float* images);
// Throws std::invalid_argument unless every label lies in [0, classes).
void check_labels(const int32_t* labels, int64_t batch, int64_t classes);
// Mean softmax cross-entropy of logits [batch x classes]; dlogits (resized) gets d/dz = (softmax - onehot) / batch.
BatchResult softmax_cross_entropy(const float* logits, const int32_t* labels, int64_t batch, int64_t classes,
                                  std::vector<float>& dlogits);
// d/dz of sum over the batch of the margins z[target] - z[label] (labels and targets checked, target != label).
std::vector<float> margin_cotangent(const int32_t* labels, const int32_t* targets, int64_t batch, int64_t classes);
// One SGD step of a trainable tensor: g = grad + wd * w; v = momentum * v + g; w -= lr * v.
void sgd_step(Tensor& tensor, const SgdParams& params);

}  // namespace arq::train
