#include "engine/float_plan.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <utility>

#include "common/thread_pool.h"

namespace arq::engine {
namespace {

constexpr int64_t kChunkImages = 8;    // images per pool task
constexpr int64_t kConvRowBlock = 192;  // im2col rows per GEMM call (a multiple of every kernel's mr)

const char* kind_name(OpKind kind) {
  switch (kind) {
    case OpKind::kConv: return "conv";
    case OpKind::kGemm: return "gemm";
    case OpKind::kAdd: return "add";
    case OpKind::kClamp: return "clamp";
    case OpKind::kMaxPool: return "maxpool";
    case OpKind::kAvgPool: return "avgpool";
    case OpKind::kGlobalAvgPool: return "globalavgpool";
    case OpKind::kPad: return "pad";
    case OpKind::kElementwise: return "elementwise";
    case OpKind::kRepeat: return "repeat";
    case OpKind::kFlatten: return "flatten";
  }
  return "?";
}

int64_t window_out(int64_t in, int64_t pad_begin, int64_t pad_end, int64_t kernel, int64_t stride) {
  const int64_t span = in + pad_begin + pad_end - kernel;
  return span < 0 ? 0 : span / stride + 1;
}

inline float clampf(float x, float lo, float hi) { return std::min(std::max(x, lo), hi); }

}  // namespace

struct FloatPlan::Op {
  OpSpec spec;
  Shape in, out;
  bool depthwise = false;
  bool pointwise = false;             // 1x1, stride 1, no padding, one group: the input is the GEMM's A
  int64_t group_k = 0;                // im2col row length per group
  std::vector<std::vector<float>> packed;  // per group (conv, gemm) or one dwconv pack
};

struct FloatPlan::Workspace {
  std::vector<std::vector<float>> slots;
  std::vector<float> col;
};

FloatPlan::FloatPlan(PlanSpec spec)
    : input_(spec.input),
      output_value_(spec.output),
      gemm_(&kernels::f32_gemm_config(active_isa())),
      dwconv_(&kernels::f32_dwconv_config(active_isa())) {
  if (input_.c <= 0 || input_.h <= 0 || input_.w <= 0) throw std::invalid_argument("input shape must be positive");
  if (spec.values < 1 || spec.values > (1 << 20)) throw std::invalid_argument("values out of range");
  if (spec.output < 0 || spec.output >= spec.values) throw std::invalid_argument("output value out of range");
  shapes_.assign(spec.values, Shape{});
  std::vector<bool> defined(spec.values, false);
  std::vector<int> last_use(spec.values, -1);
  shapes_[0] = input_;
  defined[0] = true;

  for (size_t index = 0; index < spec.ops.size(); ++index) {
    OpSpec& s = spec.ops[index];
    const std::string where = "op #" + std::to_string(index) + " (" + kind_name(s.kind) + "): ";
    auto fail = [&](const std::string& what) { throw std::invalid_argument(where + what); };
    const size_t arity = s.kind == OpKind::kAdd ? 2 : 1;
    if (s.inputs.size() != arity) fail("expected " + std::to_string(arity) + " inputs");
    for (int value : s.inputs) {
      if (value < 0 || value >= spec.values || !defined[value]) fail("input value " + std::to_string(value) + " is not defined yet");
      last_use[value] = static_cast<int>(index);
    }
    if (s.output <= 0 || s.output >= spec.values || defined[s.output]) fail("output value is out of range or defined twice");
    if (!(s.min <= s.max)) fail("clamp min must not exceed max");

    auto op = std::make_unique<Op>();
    const Shape in = shapes_[s.inputs[0]];
    Shape out = in;
    auto check_window = [&] {
      if (s.kernel_h < 1 || s.kernel_w < 1 || s.stride_h < 1 || s.stride_w < 1) fail("kernel and strides must be >= 1");
      for (int64_t pad : s.pads) if (pad < 0 || pad > 1024) fail("pads must be in [0, 1024]");
      out.h = window_out(in.h, s.pads[0], s.pads[2], s.kernel_h, s.stride_h);
      out.w = window_out(in.w, s.pads[1], s.pads[3], s.kernel_w, s.stride_w);
      if (out.h < 1 || out.w < 1) fail("the window is larger than the padded input");
    };
    switch (s.kind) {
      case OpKind::kConv: {
        if (s.group < 1 || in.c % s.group != 0 || s.out_channels < 1 || s.out_channels % s.group != 0) {
          fail("channels must divide by group");
        }
        check_window();
        out.c = s.out_channels;
        const int64_t in_per_group = in.c / s.group;
        const int64_t out_per_group = s.out_channels / s.group;
        const int64_t taps = s.kernel_h * s.kernel_w;
        if (static_cast<int64_t>(s.weight.size()) != s.out_channels * in_per_group * taps) fail("weight size mismatch");
        if (!s.bias.empty() && static_cast<int64_t>(s.bias.size()) != s.out_channels) fail("bias size mismatch");
        op->depthwise = in_per_group == 1 && out_per_group == 1;
        op->pointwise = s.group == 1 && taps == 1 && s.stride_h == 1 && s.stride_w == 1 &&
                        s.pads[0] == 0 && s.pads[1] == 0 && s.pads[2] == 0 && s.pads[3] == 0;
        if (op->depthwise) {
          op->packed.push_back(kernels::f32_dwconv_pack(*dwconv_, s.weight.data(), s.bias.empty() ? nullptr : s.bias.data(),
                                                        in.c, s.kernel_h, s.kernel_w));
        } else {
          // Reorder each group's weights to [out][ky][kx][in] so one im2col row (NHWC taps) is the GEMM's K.
          op->group_k = taps * in_per_group;
          std::vector<float> reordered(out_per_group * op->group_k);
          for (int64_t g = 0; g < s.group; ++g) {
            for (int64_t o = 0; o < out_per_group; ++o) {
              const float* src = s.weight.data() + (g * out_per_group + o) * in_per_group * taps;
              for (int64_t ci = 0; ci < in_per_group; ++ci)
                for (int64_t t = 0; t < taps; ++t) reordered[o * op->group_k + t * in_per_group + ci] = src[ci * taps + t];
            }
            const float* bias = s.bias.empty() ? nullptr : s.bias.data() + g * out_per_group;
            op->packed.push_back(kernels::f32_gemm_pack(*gemm_, reordered.data(), op->group_k, bias, out_per_group, op->group_k));
          }
          if (!op->pointwise) col_size_ = std::max(col_size_, kConvRowBlock * op->group_k);
        }
        break;
      }
      case OpKind::kGemm: {
        if (in.h != 1 || in.w != 1) fail("input must be a flat vector (flatten first)");
        if (s.out_channels < 1 || static_cast<int64_t>(s.weight.size()) != s.out_channels * in.c) fail("weight size mismatch");
        if (!s.bias.empty() && static_cast<int64_t>(s.bias.size()) != s.out_channels) fail("bias size mismatch");
        out = Shape{s.out_channels, 1, 1};
        op->packed.push_back(kernels::f32_gemm_pack(*gemm_, s.weight.data(), in.c, s.bias.empty() ? nullptr : s.bias.data(),
                                                    s.out_channels, in.c));
        break;
      }
      case OpKind::kAdd: {
        const Shape other = shapes_[s.inputs[1]];
        if (other.c != in.c || other.h != in.h || other.w != in.w) fail("operand shapes differ");
        break;
      }
      case OpKind::kClamp: break;
      case OpKind::kMaxPool:
      case OpKind::kAvgPool: check_window(); break;
      case OpKind::kGlobalAvgPool: out.h = out.w = 1; break;
      case OpKind::kPad: {
        for (int64_t pad : s.pads) if (pad < 0 || pad > 1024) fail("pads must be in [0, 1024]");
        out.h = in.h + s.pads[0] + s.pads[2];
        out.w = in.w + s.pads[1] + s.pads[3];
        break;
      }
      case OpKind::kElementwise: {
        const auto count = static_cast<int64_t>(s.constant.size());
        if (count != 1 && count != in.c) fail("constant must have 1 or " + std::to_string(in.c) + " values");
        break;
      }
      case OpKind::kRepeat:
        if (s.repeat < 1 || s.repeat > 4096) fail("repeat factor must be in [1, 4096]");
        out.c = in.c * s.repeat;
        break;
      case OpKind::kFlatten: out = Shape{in.size(), 1, 1}; break;
    }
    if (out.size() > (int64_t{1} << 26)) fail("tensor too large");
    op->in = in;
    op->out = out;
    op->spec = std::move(s);
    shapes_[op->spec.output] = out;
    defined[op->spec.output] = true;
    ops_.push_back(std::move(op));
  }
  if (!defined[spec.output]) throw std::invalid_argument("the output value is never computed");
  output_shape_ = shapes_[spec.output];

  // Greedy buffer slots by liveness: a value's slot is free again after its last use.
  slot_of_.assign(spec.values, -1);
  std::vector<bool> slot_busy;
  auto take_slot = [&](int value) {
    size_t slot = 0;
    while (slot < slot_busy.size() && slot_busy[slot]) ++slot;
    if (slot == slot_busy.size()) {
      slot_busy.push_back(false);
      slot_size_.push_back(0);
    }
    slot_busy[slot] = true;
    slot_size_[slot] = std::max(slot_size_[slot], shapes_[value].size());
    slot_of_[value] = static_cast<int>(slot);
  };
  take_slot(0);
  last_use[spec.output] = static_cast<int>(ops_.size());  // keep the output alive
  for (size_t index = 0; index < ops_.size(); ++index) {
    take_slot(ops_[index]->spec.output);
    for (int value : ops_[index]->spec.inputs) {
      if (last_use[value] == static_cast<int>(index)) slot_busy[slot_of_[value]] = false;
    }
  }
}

FloatPlan::~FloatPlan() = default;

std::string FloatPlan::kernels() const { return std::string(gemm_->name) + ", " + dwconv_->name; }

void FloatPlan::run(const float* input, int64_t batch, float* logits, int threads) const {
  if (batch <= 0) return;
  threads = std::max(1, threads);
  const int64_t per_thread = (batch + threads - 1) / threads;
  const int64_t chunk = std::max<int64_t>(1, std::min(kChunkImages, per_thread));
  const int64_t tasks = (batch + chunk - 1) / chunk;
  std::vector<Workspace> workspaces(static_cast<size_t>(std::min<int64_t>(threads, tasks)));
  const int64_t in_size = input_.size();
  const int64_t out_size = output_shape_.size();
  global_pool().parallel_for(tasks, threads, [&](int64_t task, int slot) {
    Workspace& ws = workspaces[slot];
    if (ws.slots.empty()) {
      for (int64_t size : slot_size_) ws.slots.emplace_back(static_cast<size_t>(size * chunk));
      ws.col.resize(static_cast<size_t>(col_size_));
    }
    const int64_t first = task * chunk;
    const int64_t images = std::min(chunk, batch - first);
    run_chunk(input + first * in_size, images, logits + first * out_size, ws);
  });
}

void FloatPlan::run_chunk(const float* input, int64_t images, float* logits, Workspace& ws) const {
  auto buffer = [&](int value) { return ws.slots[slot_of_[value]].data(); };
  {  // NCHW -> NHWC
    float* x = buffer(0);
    const int64_t hw = input_.h * input_.w;
    for (int64_t n = 0; n < images; ++n)
      for (int64_t c = 0; c < input_.c; ++c)
        for (int64_t p = 0; p < hw; ++p) x[(n * hw + p) * input_.c + c] = input[(n * input_.c + c) * hw + p];
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
          const kernels::DwconvShape shape{static_cast<size_t>(in.c), static_cast<size_t>(in.h), static_cast<size_t>(in.w),
                                           static_cast<size_t>(out.h), static_cast<size_t>(out.w),
                                           static_cast<size_t>(s.kernel_h), static_cast<size_t>(s.kernel_w),
                                           static_cast<size_t>(s.stride_h), static_cast<size_t>(s.stride_w),
                                           static_cast<size_t>(s.pads[0]), static_cast<size_t>(s.pads[1])};
          for (int64_t n = 0; n < images; ++n) {
            dwconv_->kernel(shape, x + n * in.size(), in.c, op.packed[0].data(), y + n * out.size(), out.c, s.min, s.max);
          }
          break;
        }
        if (op.pointwise) {
          kernels::f32_gemm(*gemm_, images * in.h * in.w, out.c, in.c, x, in.c, op.packed[0].data(), y, out.c, s.min, s.max);
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
      case OpKind::kAvgPool: {
        const bool is_max = s.kind == OpKind::kMaxPool;
        const float full_count = static_cast<float>(s.kernel_h * s.kernel_w);
        for (int64_t n = 0; n < images; ++n) {
          for (int64_t oy = 0; oy < out.h; ++oy) {
            for (int64_t ox = 0; ox < out.w; ++ox) {
              float* dst = y + ((n * out.h + oy) * out.w + ox) * out.c;
              std::fill(dst, dst + out.c, is_max ? -INFINITY : 0.0f);
              int64_t valid = 0;
              for (int64_t ky = 0; ky < s.kernel_h; ++ky) {
                const int64_t iy = oy * s.stride_h + ky - s.pads[0];
                if (iy < 0 || iy >= in.h) continue;
                for (int64_t kx = 0; kx < s.kernel_w; ++kx) {
                  const int64_t ix = ox * s.stride_w + kx - s.pads[1];
                  if (ix < 0 || ix >= in.w) continue;
                  ++valid;
                  const float* src = x + ((n * in.h + iy) * in.w + ix) * in.c;
                  if (is_max) {
                    for (int64_t c = 0; c < in.c; ++c) dst[c] = std::max(dst[c], src[c]);
                  } else {
                    for (int64_t c = 0; c < in.c; ++c) dst[c] += src[c];
                  }
                }
              }
              if (!is_max) {
                const float count = s.count_include_pad ? full_count : static_cast<float>(valid);
                for (int64_t c = 0; c < in.c; ++c) dst[c] /= count;
              }
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
      case OpKind::kPad: {
        std::fill(y, y + images * out.size(), s.pad_value);
        for (int64_t n = 0; n < images; ++n)
          for (int64_t iy = 0; iy < in.h; ++iy) {
            const float* src = x + (n * in.h + iy) * in.w * in.c;
            float* dst = y + ((n * out.h + iy + s.pads[0]) * out.w + s.pads[1]) * out.c;
            std::copy(src, src + in.w * in.c, dst);
          }
        break;
      }
      case OpKind::kElementwise: {
        const int64_t pixels = images * in.h * in.w;
        const bool scalar = s.constant.size() == 1;
        for (int64_t p = 0; p < pixels; ++p) {
          for (int64_t c = 0; c < in.c; ++c) {
            const float a = x[p * in.c + c];
            const float k = s.constant[scalar ? 0 : c];
            const float l = s.constant_first ? k : a;
            const float r = s.constant_first ? a : k;
            float v = 0.0f;
            switch (s.elementwise) {
              case ElementwiseKind::kAdd: v = l + r; break;
              case ElementwiseKind::kSub: v = l - r; break;
              case ElementwiseKind::kMul: v = l * r; break;
              case ElementwiseKind::kDiv: v = l / r; break;
            }
            y[p * in.c + c] = v;
          }
        }
        break;
      }
      case OpKind::kRepeat: {
        const int64_t pixels = images * in.h * in.w;
        for (int64_t p = 0; p < pixels; ++p)
          for (int64_t r = 0; r < s.repeat; ++r) std::copy(x + p * in.c, x + (p + 1) * in.c, y + (p * s.repeat + r) * in.c);
        break;
      }
      case OpKind::kFlatten: {  // NHWC storage -> NCHW element order, as ONNX flattens
        const int64_t hw = in.h * in.w;
        for (int64_t n = 0; n < images; ++n)
          for (int64_t p = 0; p < hw; ++p)
            for (int64_t c = 0; c < in.c; ++c) y[n * in.size() + c * hw + p] = x[(n * hw + p) * in.c + c];
        break;
      }
    }
  }
  const float* result = buffer(output_value_);  // logits in NCHW order
  const int64_t hw = output_shape_.h * output_shape_.w;
  const int64_t channels = output_shape_.c;
  for (int64_t n = 0; n < images; ++n)
    for (int64_t p = 0; p < hw; ++p)
      for (int64_t c = 0; c < channels; ++c) logits[(n * channels + c) * hw + p] = result[(n * hw + p) * channels + c];
}

}  // namespace arq::engine
