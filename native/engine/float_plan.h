// The native fp32 executor: runs a folded, shape-checked network (built by src/engine/float-plan.ts from the graph
// IR) on whole batches. Activations are stored NHWC per image; the batch is split into chunks of images that run
// the whole network on one pool thread each, so a result never depends on the batch size or the thread count.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kernels/f32-dwconv/f32-dwconv.h"
#include "kernels/f32-gemm/f32-gemm.h"

namespace arq::engine {

struct Shape {  // per image; a flat vector is (features, 1, 1)
  int64_t c = 0, h = 0, w = 0;
  int64_t size() const { return c * h * w; }
};

enum class OpKind { kConv, kGemm, kAdd, kClamp, kMaxPool, kAvgPool, kGlobalAvgPool, kPad, kElementwise, kRepeat, kFlatten };
enum class ElementwiseKind { kAdd, kSub, kMul, kDiv };

// One operator as the plan description gives it. Fields not used by a kind stay at their defaults.
struct OpSpec {
  OpKind kind = OpKind::kClamp;
  std::vector<int> inputs;
  int output = -1;
  // conv / gemm
  std::vector<float> weight, bias;  // conv: [out][in/group][kh][kw]; gemm: [out][in]; bias may be empty
  int64_t out_channels = 0, group = 1;
  // conv / pools / pad: kernel, strides, pads [top, left, bottom, right]
  int64_t kernel_h = 1, kernel_w = 1, stride_h = 1, stride_w = 1;
  int64_t pads[4] = {0, 0, 0, 0};
  bool count_include_pad = false;
  float min = -INFINITY, max = INFINITY;  // fused clamp (conv, gemm, add, clamp)
  float pad_value = 0.0f;
  // elementwise with a constant of 1 or C values: y = x op k, or k op x when constant_first
  ElementwiseKind elementwise = ElementwiseKind::kAdd;
  std::vector<float> constant;
  bool constant_first = false;
  int64_t repeat = 1;  // channel repeat factor
};

struct PlanSpec {
  Shape input;
  int values = 0;  // value 0 is the network input
  int output = -1;
  std::vector<OpSpec> ops;
};

class FloatPlan {
 public:
  // Validates the description (value indices, topological order, shapes, weight sizes) and packs weights for the
  // kernels of the active ISA. Throws std::invalid_argument naming the op on any inconsistency.
  explicit FloatPlan(PlanSpec spec);
  ~FloatPlan();
  FloatPlan(const FloatPlan&) = delete;
  FloatPlan& operator=(const FloatPlan&) = delete;

  const Shape& input_shape() const { return input_; }
  int64_t classes() const { return output_shape_.size(); }
  std::string kernels() const;  // names of the kernels chosen

  // input: batch images NCHW float32; logits: batch x classes. Runs on up to `threads` pool threads.
  void run(const float* input, int64_t batch, float* logits, int threads) const;

 private:
  struct Op;
  struct Workspace;
  void run_chunk(const float* input, int64_t images, float* logits, Workspace& ws) const;

  Shape input_;
  Shape output_shape_;
  int output_value_ = -1;
  std::vector<Shape> shapes_;  // per value
  std::vector<int> slot_of_;   // value -> buffer slot
  std::vector<int64_t> slot_size_;  // floats per image per slot
  int64_t col_size_ = 0;            // im2col floats per row block
  std::vector<std::unique_ptr<Op>> ops_;
  const kernels::F32GemmConfig* gemm_;
  const kernels::F32DwconvConfig* dwconv_;
};

}  // namespace arq::engine
