#include "engine/float_plan.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <utility>

#include "common/aligned.h"
#include "common/thread_pool.h"
#include "engine/nhwc_ops.h"
#include "engine/run_memory.h"

namespace arq::engine {
namespace {

constexpr int64_t kChunkImages = 8;     // images per pool task
constexpr int64_t kConvRowBlock = 192;  // im2col rows per GEMM call (a multiple of every kernel's mr)

inline float clampf(float x, float lo, float hi) { return std::min(std::max(x, lo), hi); }

// A NaN or infinite parameter makes every output of the op meaningless: rejected, naming the op and the tensor.
void check_finite_values(size_t index, const OpSpec& op, const std::vector<float>& values, const char* tensor) {
  for (size_t i = 0; i < values.size(); ++i) {
    if (!std::isfinite(values[i])) {
      throw std::invalid_argument(op_label(index, op) + ": " + tensor + "[" + std::to_string(i) + "] is " +
                                  (std::isnan(values[i]) ? "NaN" : "infinite"));
    }
  }
}

void check_finite_parameters(size_t index, const OpSpec& op) {
  check_finite_values(index, op, op.weight, "weight");
  check_finite_values(index, op, op.bias, "bias");
  check_finite_values(index, op, op.constant, "constant");
  if (!std::isfinite(op.pad_value)) throw std::invalid_argument(op_label(index, op) + ": the pad value is not finite");
}

}  // namespace

struct FloatPlan::Op {
  OpSpec spec;
  Shape in, out;
  bool depthwise = false;
  bool pointwise = false;                  // 1x1, stride 1, no padding, one group: the input is the GEMM's A
  int64_t group_k = 0;                     // im2col row length per group
  std::vector<std::vector<float>> packed;  // per group (conv, gemm) or one dwconv pack
};

struct FloatPlan::Workspace {
  int64_t images = 0;  // the chunk size the buffers are sized for
  std::vector<AlignedVector<float>> slots;
  AlignedVector<float> col;
};

FloatPlan::FloatPlan(PlanSpec spec)
    : input_(spec.input),
      output_value_(spec.output),
      gemm_(&kernels::f32_gemm_config(active_isa())),
      dwconv_(&kernels::f32_dwconv_config(active_isa())) {
  std::vector<const OpGeometry*> geometry;
  for (OpSpec& s : spec.ops) {
    s.weight_count = s.weight.size();
    s.bias_count = s.bias.size();
    geometry.push_back(&s);
  }
  PlanLayout layout = plan_layout(input_, spec.values, spec.output, geometry);
  for (size_t index = 0; index < spec.ops.size(); ++index) check_finite_parameters(index, spec.ops[index]);
  const int largest_producer = layout.producer[static_cast<size_t>(layout.largest)];
  largest_ =
      value_label(largest_producer, largest_producer < 0 ? nullptr : geometry[static_cast<size_t>(largest_producer)],
                  layout.shapes[static_cast<size_t>(layout.largest)]);
  memory_limit_ = spec.memory_limit;
  shapes_ = std::move(layout.shapes);
  slot_of_ = std::move(layout.slot_of);
  slot_size_ = std::move(layout.slot_size);
  producer_ = std::move(layout.producer);
  output_shape_ = layout.output;

  for (size_t index = 0; index < spec.ops.size(); ++index) {
    OpSpec& s = spec.ops[index];
    auto op = std::make_unique<Op>();
    op->in = layout.op_in[index];
    op->out = layout.op_out[index];
    const Shape& in = op->in;
    if (s.kind == OpKind::kConv) {
      const int64_t in_per_group = in.c / s.group;
      const int64_t out_per_group = s.out_channels / s.group;
      const int64_t taps = s.kernel_h * s.kernel_w;
      op->depthwise = in_per_group == 1 && out_per_group == 1;
      op->pointwise = s.group == 1 && taps == 1 && s.stride_h == 1 && s.stride_w == 1 && s.pads[0] == 0 &&
                      s.pads[1] == 0 && s.pads[2] == 0 && s.pads[3] == 0;
      if (op->depthwise) {
        op->packed.push_back(kernels::f32_dwconv_pack(
            *dwconv_, s.weight.data(), s.bias.empty() ? nullptr : s.bias.data(), in.c, s.kernel_h, s.kernel_w));
      } else {
        // Reorder each group's weights to [out][ky][kx][in] so one im2col row (NHWC taps) is the GEMM's K.
        op->group_k = taps * in_per_group;
        std::vector<float> reordered(out_per_group * op->group_k);
        for (int64_t g = 0; g < s.group; ++g) {
          reorder_conv_weights(s.weight.data(), g, out_per_group, in_per_group, taps, reordered.data());
          const float* bias = s.bias.empty() ? nullptr : s.bias.data() + g * out_per_group;
          op->packed.push_back(
              kernels::f32_gemm_pack(*gemm_, reordered.data(), op->group_k, bias, out_per_group, op->group_k));
        }
        if (!op->pointwise) col_size_ = std::max(col_size_, kConvRowBlock * op->group_k);
      }
    } else if (s.kind == OpKind::kGemm) {
      op->packed.push_back(kernels::f32_gemm_pack(*gemm_, s.weight.data(), in.c,
                                                  s.bias.empty() ? nullptr : s.bias.data(), s.out_channels, in.c));
    }
    s.weight.clear();
    s.weight.shrink_to_fit();
    op->spec = std::move(s);
    ops_.push_back(std::move(op));
  }
  // Packing takes memory in proportion to the weights the caller already holds; workspaces are what can explode.
  check_memory(1, 1);
}

FloatPlan::~FloatPlan() = default;

std::string FloatPlan::kernels() const { return std::string(gemm_->name) + ", " + dwconv_->name; }

double FloatPlan::check_memory(int64_t batch, int threads, int bins) const {
  threads = std::max(1, threads);
  const ImageChunks chunks = image_chunks(batch, threads, kChunkImages);
  double activations = 0;  // floats per image, all slots
  for (int64_t size : slot_size_) activations += static_cast<double>(size);
  MemoryBudget budget = run_budget(batch, input_.size(), output_shape_.size(), chunks, activations * sizeof(float),
                                   static_cast<double>(col_size_) * sizeof(float));
  const int histograms = kRunOwnItems;
  // Per-thread counts, the merged counts and the result array.
  if (bins > 0) budget.add((threads + 2.0) * values() * static_cast<double>(bins) * sizeof(double), histograms);
  budget.check(memory_limit_, [&](int item) {
    if (item != histograms) return run_item_name(item, chunks, largest_);
    return "histograms of " + std::to_string(values()) + " values x " + std::to_string(bins) + " bins x " +
           std::to_string(threads + 2) + " copies";
  });
  return budget.total();
}

void FloatPlan::check_finite(const std::vector<std::vector<int64_t>>& nonfinite, int64_t batch) const {
  auto report = [&](int value) {
    int64_t count = 0;
    for (const auto& slot : nonfinite) count += slot[static_cast<size_t>(value)];
    if (count == 0) return;
    const int producer = producer_[static_cast<size_t>(value)];
    const OpGeometry* op = producer < 0 ? nullptr : &ops_[static_cast<size_t>(producer)]->spec;
    throw std::domain_error(
        "plan value " + std::to_string(value) + ", " + value_label(producer, op, shapes_[static_cast<size_t>(value)]) +
        ", has " + std::to_string(count) + " NaN or infinite elements over " + std::to_string(batch) +
        " images, the first non-finite value of the plan (a weight, a constant such as a divisor of 0, or"
        " the input overflows float32)");
  };
  report(0);
  for (const auto& op : ops_) report(op->spec.output);
}

void FloatPlan::run(const float* input, int64_t batch, float* logits, int threads) const {
  check_memory(batch, threads);
  run_batches(input, batch, logits, threads, [](int) -> const Observer* { return nullptr; });
}

void FloatPlan::run_batches(const float* input, int64_t batch, float* logits, int threads,
                            const std::function<const Observer*(int slot)>& observe) const {
  if (batch <= 0) return;
  threads = std::max(1, threads);
  const ImageChunks chunks = image_chunks(batch, threads, kChunkImages);
  const int64_t chunk = chunks.chunk;
  const int64_t tasks = chunks.tasks;
  auto workspaces = workspaces_.lease(static_cast<size_t>(chunks.slots));
  const int64_t in_size = input_.size();
  const int64_t out_size = output_shape_.size();
  global_pool().parallel_for(tasks, threads, [&](int64_t task, int slot) {
    Workspace& ws = workspaces[static_cast<size_t>(slot)];
    if (ws.images < chunk) {  // first use, or a larger chunk than this workspace has served
      ws.slots.clear();
      for (int64_t size : slot_size_) ws.slots.emplace_back(static_cast<size_t>(size * chunk));
      ws.col.resize(static_cast<size_t>(col_size_));
      ws.images = chunk;
    }
    const int64_t first = task * chunk;
    const int64_t images = std::min(chunk, batch - first);
    float* out = logits == nullptr ? nullptr : logits + first * out_size;
    run_chunk(input + first * in_size, images, out, ws, observe(slot));
  });
}

std::vector<float> FloatPlan::observe_ranges(const float* input, int64_t batch, int threads) const {
  check_memory(batch, threads);
  const int count = values();
  const size_t slots = static_cast<size_t>(std::max(1, threads));
  std::vector<std::vector<float>> partial(slots);
  std::vector<std::vector<int64_t>> nonfinite(slots, std::vector<int64_t>(static_cast<size_t>(count), 0));
  std::vector<Observer> observers;
  for (size_t slot = 0; slot < slots; ++slot) {
    std::vector<float>& ranges = partial[slot];
    ranges.resize(2 * static_cast<size_t>(count));
    for (int v = 0; v < count; ++v) ranges[2 * v] = INFINITY, ranges[2 * v + 1] = -INFINITY;
    observers.emplace_back([&ranges, &bad = nonfinite[slot]](int value, const float* data, int64_t n) {
      float lo = ranges[2 * value], hi = ranges[2 * value + 1];
      int64_t nonfinite_count = 0;
      for (int64_t i = 0; i < n; ++i) {
        lo = std::min(lo, data[i]), hi = std::max(hi, data[i]);
        nonfinite_count += !std::isfinite(data[i]);
      }
      ranges[2 * value] = lo, ranges[2 * value + 1] = hi;
      bad[static_cast<size_t>(value)] += nonfinite_count;
    });
  }
  run_batches(input, batch, nullptr, threads, [&](int slot) { return &observers[slot]; });
  check_finite(nonfinite, batch);
  std::vector<float> merged = partial[0];
  for (const auto& ranges : partial) {
    for (int v = 0; v < count; ++v) {
      merged[2 * v] = std::min(merged[2 * v], ranges[2 * v]);
      merged[2 * v + 1] = std::max(merged[2 * v + 1], ranges[2 * v + 1]);
    }
  }
  return merged;
}

std::vector<double> FloatPlan::observe_histograms(const float* input, int64_t batch, int threads,
                                                  const std::vector<float>& ranges, int bins) const {
  const int count = values();
  if (static_cast<int64_t>(ranges.size()) != 2 * int64_t{count})
    throw std::invalid_argument("ranges must hold 2 floats per value");
  if (bins < 1) throw std::invalid_argument("bins must be positive");
  for (int v = 0; v < count; ++v) {
    if (!std::isfinite(ranges[2 * v]) || !std::isfinite(ranges[2 * v + 1]) || ranges[2 * v] > ranges[2 * v + 1]) {
      throw std::invalid_argument("ranges of value " + std::to_string(v) + " must be finite with min <= max");
    }
  }
  check_memory(batch, threads, bins);
  const size_t slots = static_cast<size_t>(std::max(1, threads));
  std::vector<std::vector<uint64_t>> partial(slots);
  std::vector<std::vector<int64_t>> nonfinite(slots, std::vector<int64_t>(static_cast<size_t>(count), 0));
  std::vector<Observer> observers;
  for (size_t slot = 0; slot < slots; ++slot) {
    std::vector<uint64_t>& counts = partial[slot];
    counts.assign(static_cast<size_t>(count) * bins, 0);
    observers.emplace_back([&counts, &ranges, &bad = nonfinite[slot], bins](int value, const float* data, int64_t n) {
      const float lo = ranges[2 * value];
      // In double: the width of a range near +-FLT_MAX overflows float.
      const double width = static_cast<double>(ranges[2 * value + 1]) - lo;
      const float per_unit = width > 0 ? static_cast<float>(bins / width) : 0.0f;
      const float last = static_cast<float>(bins - 1);
      uint64_t* hist = counts.data() + static_cast<size_t>(value) * bins;
      int64_t nonfinite_count = 0;
      for (int64_t i = 0; i < n; ++i) {
        // Compared in float before the conversion: NaN fails `position > 0` and lands in bin 0 (and is counted),
        // +-infinity and huge values land in an end bin, so the index is always in [0, bins).
        const float position = (data[i] - lo) * per_unit;
        const int bin = position > 0 ? (position < last ? static_cast<int>(position) : bins - 1) : 0;
        ++hist[bin];
        nonfinite_count += !std::isfinite(data[i]);
      }
      bad[static_cast<size_t>(value)] += nonfinite_count;
    });
  }
  run_batches(input, batch, nullptr, threads, [&](int slot) { return &observers[slot]; });
  check_finite(nonfinite, batch);
  std::vector<double> merged(static_cast<size_t>(count) * bins, 0.0);
  for (const auto& counts : partial)
    for (size_t i = 0; i < counts.size(); ++i) merged[i] += static_cast<double>(counts[i]);
  return merged;
}

void FloatPlan::run_chunk(const float* input, int64_t images, float* logits, Workspace& ws,
                          const Observer* observer) const {
  auto buffer = [&](int value) { return ws.slots[slot_of_[value]].data(); };
  {  // NCHW -> NHWC
    float* x = buffer(0);
    const int64_t hw = input_.h * input_.w;
    for (int64_t n = 0; n < images; ++n)
      for (int64_t c = 0; c < input_.c; ++c)
        for (int64_t p = 0; p < hw; ++p) x[(n * hw + p) * input_.c + c] = input[(n * input_.c + c) * hw + p];
    if (observer != nullptr) (*observer)(0, x, images * input_.size());
  }
  for (const auto& op_ptr : ops_) {
    const Op& op = *op_ptr;
    const OpSpec& s = op.spec;
    const float* x = buffer(s.inputs[0]);
    float* y = buffer(s.output);
    const Shape& in = op.in;
    const Shape& out = op.out;
    switch (s.kind) {
      case OpKind::kConv: {
        if (op.depthwise) {
          const kernels::DwconvShape shape{
              static_cast<size_t>(in.c),       static_cast<size_t>(in.h),       static_cast<size_t>(in.w),
              static_cast<size_t>(out.h),      static_cast<size_t>(out.w),      static_cast<size_t>(s.kernel_h),
              static_cast<size_t>(s.kernel_w), static_cast<size_t>(s.stride_h), static_cast<size_t>(s.stride_w),
              static_cast<size_t>(s.pads[0]),  static_cast<size_t>(s.pads[1])};
          for (int64_t n = 0; n < images; ++n) {
            dwconv_->kernel(shape, x + n * in.size(), in.c, op.packed[0].data(), y + n * out.size(), out.c, s.min,
                            s.max);
          }
          break;
        }
        if (op.pointwise) {
          kernels::f32_gemm(*gemm_, images * in.h * in.w, out.c, in.c, x, in.c, op.packed[0].data(), y, out.c, s.min,
                            s.max);
          break;
        }
        const int64_t in_per_group = in.c / s.group;
        const int64_t out_per_group = out.c / s.group;
        const int64_t rows = images * out.h * out.w;
        const int64_t out_hw = out.h * out.w;
        for (int64_t g = 0; g < s.group; ++g) {
          for (int64_t row0 = 0; row0 < rows; row0 += kConvRowBlock) {
            const int64_t block = std::min(kConvRowBlock, rows - row0);
            for (int64_t r = 0; r < block; ++r) {  // im2col of one output pixel: taps in (ky, kx, ci) order
              const int64_t row = row0 + r;
              const int64_t n = row / out_hw, oy = (row % out_hw) / out.w, ox = row % out.w;
              float* col = ws.col.data() + r * op.group_k;
              for (int64_t ky = 0; ky < s.kernel_h; ++ky) {
                const int64_t iy = oy * s.stride_h + ky - s.pads[0];
                for (int64_t kx = 0; kx < s.kernel_w; ++kx, col += in_per_group) {
                  const int64_t ix = ox * s.stride_w + kx - s.pads[1];
                  if (iy < 0 || iy >= in.h || ix < 0 || ix >= in.w) {
                    std::fill(col, col + in_per_group, 0.0f);
                  } else {
                    const float* src = x + ((n * in.h + iy) * in.w + ix) * in.c + g * in_per_group;
                    std::copy(src, src + in_per_group, col);
                  }
                }
              }
            }
            kernels::f32_gemm(*gemm_, block, out_per_group, op.group_k, ws.col.data(), op.group_k, op.packed[g].data(),
                              y + row0 * out.c + g * out_per_group, out.c, s.min, s.max);
          }
        }
        break;
      }
      case OpKind::kGemm:
        kernels::f32_gemm(*gemm_, images, out.c, in.c, x, in.c, op.packed[0].data(), y, out.c, s.min, s.max);
        break;
      case OpKind::kAdd: {
        const float* b = buffer(s.inputs[1]);
        const int64_t total = images * out.size();
        for (int64_t i = 0; i < total; ++i) y[i] = clampf(x[i] + b[i], s.min, s.max);
        break;
      }
      case OpKind::kClamp: {
        const int64_t total = images * out.size();
        for (int64_t i = 0; i < total; ++i) y[i] = clampf(x[i], s.min, s.max);
        break;
      }
      case OpKind::kMaxPool:
        max_pool(x, y, images, in, out, s);
        break;
      case OpKind::kAvgPool: {
        const float full_count = static_cast<float>(s.kernel_h * s.kernel_w);
        for (int64_t n = 0; n < images; ++n) {
          for (int64_t oy = 0; oy < out.h; ++oy) {
            for (int64_t ox = 0; ox < out.w; ++ox) {
              float* dst = y + ((n * out.h + oy) * out.w + ox) * out.c;
              std::fill(dst, dst + out.c, 0.0f);
              int64_t valid = 0;
              for_window(s, in, oy, ox, [&](int64_t pixel, int64_t) {
                ++valid;
                const float* src = x + (n * in.h * in.w + pixel) * in.c;
                for (int64_t c = 0; c < in.c; ++c) dst[c] += src[c];
              });
              const float count = s.count_include_pad ? full_count : static_cast<float>(valid);
              for (int64_t c = 0; c < in.c; ++c) dst[c] /= count;
            }
          }
        }
        break;
      }
      case OpKind::kGlobalAvgPool: {
        const int64_t hw = in.h * in.w;
        for (int64_t n = 0; n < images; ++n) {
          float* dst = y + n * in.c;
          std::fill(dst, dst + in.c, 0.0f);
          for (int64_t p = 0; p < hw; ++p) {
            const float* src = x + (n * hw + p) * in.c;
            for (int64_t c = 0; c < in.c; ++c) dst[c] += src[c];
          }
          for (int64_t c = 0; c < in.c; ++c) dst[c] /= static_cast<float>(hw);
        }
        break;
      }
      case OpKind::kPad:
        pad_spatial(x, y, images, in, out, s.pads, s.pad_value);
        break;
      case OpKind::kElementwise:
        elementwise(x, y, images * in.h * in.w, in.c, s);
        break;
      case OpKind::kRepeat:
        repeat_channels(x, y, images * in.h * in.w, in.c, s.repeat);
        break;
      case OpKind::kFlatten:
        flatten_nchw(x, y, images, in);
        break;
    }
    if (observer != nullptr) (*observer)(s.output, y, images * out.size());
  }
  if (logits == nullptr) return;
  const float* result = buffer(output_value_);  // logits in NCHW order
  const int64_t hw = output_shape_.h * output_shape_.w;
  const int64_t channels = output_shape_.c;
  for (int64_t n = 0; n < images; ++n)
    for (int64_t p = 0; p < hw; ++p)
      for (int64_t c = 0; c < channels; ++c) logits[(n * channels + c) * hw + p] = result[(n * hw + p) * channels + c];
}

}  // namespace arq::engine
