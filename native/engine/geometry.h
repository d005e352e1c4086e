// What the fp32 and integer executors share: operator kinds, per-image shapes, and the validation of a plan
// description (value indices, topological order, shapes, weight sizes) with its buffer-slot assignment.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace arq::engine {

// The most operators a plan may have. Real CNNs lower to well under a thousand; the cap bounds every per-op table
// and keeps building a plan (reading the description from JavaScript, a few microseconds per op, on the JavaScript
// thread) short, and a graph of 200,000 Relus is refused before anything is read.
constexpr int kMaxPlanOps = 4096;

struct Shape {  // per image; a flat vector is (features, 1, 1)
  int64_t c = 0, h = 0, w = 0;
  int64_t size() const { return c * h * w; }
};

enum class OpKind {
  kConv,
  kGemm,
  kAdd,
  kClamp,
  kMaxPool,
  kAvgPool,
  kGlobalAvgPool,
  kPad,
  kElementwise,
  kRepeat,
  kFlatten
};
enum class ElementwiseKind { kAdd, kSub, kMul, kDiv };

const char* kind_name(OpKind kind);

// One operator's structure, as a plan description gives it. Fields not used by a kind keep their defaults.
struct OpGeometry {
  OpKind kind = OpKind::kClamp;
  std::string name;  // the graph node's, for messages (may be empty)
  std::vector<int> inputs;
  int output = -1;
  int64_t out_channels = 0, group = 1;                             // conv, gemm
  int64_t kernel_h = 1, kernel_w = 1, stride_h = 1, stride_w = 1;  // conv, pools
  int64_t pads[4] = {0, 0, 0, 0};                                  // [top, left, bottom, right]: conv, pools, pad
  bool count_include_pad = false;                                  // avgpool
  float min = -INFINITY, max = INFINITY;                           // fused clamp (real values): conv, gemm, add, clamp
  float pad_value = 0.0f;                                          // pad
  ElementwiseKind elementwise = ElementwiseKind::kAdd;             // y = x op k, or k op x when constant_first
  std::vector<float> constant;                                     // 1 or C values
  bool constant_first = false;
  int64_t repeat = 1;                       // channel repeat factor
  size_t weight_count = 0, bias_count = 0;  // conv, gemm: sizes to validate (bias 0 = none)
};

// "op #3 (conv 'layer1.conv')", or "op #3 (conv)" for an unnamed op: how every message names an op.
std::string op_label(size_t index, const OpGeometry& op);

struct PlanLayout {
  std::vector<Shape> shapes;         // per value
  std::vector<Shape> op_in, op_out;  // per op: its first input's and its output's shape
  std::vector<int> slot_of;          // value -> buffer slot
  std::vector<int64_t> slot_size;    // elements per image per slot
  std::vector<int> producer;         // value -> the op computing it (-1 for the input)
  int largest = 0;                   // the value with the most elements per image
  Shape output;
};

// "the network input (3x32x32)" or "the output of op #3 (conv 'c1') (16x32x32)": how a message names a plan
// value computed by op #`producer` (`op`; -1 and null for the input).
std::string value_label(int producer, const OpGeometry* op, const Shape& shape);

// Throws std::invalid_argument naming the op ("op #3 (conv): ...") on any inconsistency.
PlanLayout plan_layout(const Shape& input, int values, int output, const std::vector<const OpGeometry*>& ops);

// Calls fn(input_pixel, tap) for every kernel tap (tap = ky * kernel_w + kx) of output pixel (oy, ox) that falls
// inside the input image `in` (input_pixel = iy * in.w + ix), in tap order; padded taps are skipped.
template <typename Fn>
void for_window(const OpGeometry& s, const Shape& in, int64_t oy, int64_t ox, Fn&& fn) {
  for (int64_t ky = 0; ky < s.kernel_h; ++ky) {
    const int64_t iy = oy * s.stride_h - s.pads[0] + ky;
    if (iy < 0 || iy >= in.h) continue;
    for (int64_t kx = 0; kx < s.kernel_w; ++kx) {
      const int64_t ix = ox * s.stride_w - s.pads[1] + kx;
      if (ix < 0 || ix >= in.w) continue;
      fn(iy * in.w + ix, ky * s.kernel_w + kx);
    }
  }
}

}  // namespace arq::engine
