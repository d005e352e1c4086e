#include "engine/int_plan.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "common/aligned.h"
#include "common/thread_pool.h"
#include "engine/nhwc_ops.h"
#include "engine/run_memory.h"
#include "kernels/qu8-elementwise/elementwise.h"

namespace arq::engine {
namespace {

// Images per pool task. 4, 8 and 16 measured within noise of each other on Zen 5 (ResNet-20, W8A8, 1 and 2
// threads) once convolutions run without im2col.
constexpr int64_t kChunkImages = 8;
constexpr int64_t kConvRowBlock = 192;  // im2col rows per GEMM call
constexpr int64_t kIndirectRows = 512;  // row pointers per indirect GEMM call

size_t round_up(size_t value, size_t multiple) { return (value + multiple - 1) / multiple * multiple; }

// Copies n bytes as 16-byte moves (the last one overlapping) so short spans cost no library call.
inline void copy_span(uint8_t* dst, const uint8_t* src, size_t n) {
  if (n < 16) {
    std::memcpy(dst, src, n);
    return;
  }
  size_t i = 0;
  for (; i + 16 <= n; i += 16) std::memcpy(dst + i, src + i, 16);
  if (i < n) std::memcpy(dst + n - 16, src + n - 16, 16);
}

// im2col of output pixels [row0, row0 + rows) of codes x (NHWC, in.c channels, the channel slice [c0, c0 + cg)):
// row r of col holds the taps in (ky, kx, ci) order, padding taps as `zero`, then zeros up to kc. Taps that are
// adjacent in the image and in the row (consecutive kx, whole pixels) are copied as one span.
void im2col(const uint8_t* x, const Shape& in, const Shape& out, const OpGeometry& s, int64_t c0, int64_t cg, uint8_t zero,
            int64_t row0, int64_t rows, uint8_t* col, size_t k, size_t kc) {
  const int64_t out_hw = out.h * out.w;
  int64_t n = row0 / out_hw, oy = (row0 % out_hw) / out.w, ox = row0 % out.w;
  const bool whole_pixels = cg == in.c;
  for (int64_t r = 0; r < rows; ++r) {
    uint8_t* dst = col + r * kc;
    const int64_t iy0 = oy * s.stride_h - s.pads[0];
    const int64_t ix0 = ox * s.stride_w - s.pads[1];
    const bool inside_x = ix0 >= 0 && ix0 + s.kernel_w <= in.w;
    for (int64_t ky = 0; ky < s.kernel_h; ++ky) {
      const int64_t iy = iy0 + ky;
      if (iy < 0 || iy >= in.h) {
        std::memset(dst, zero, static_cast<size_t>(s.kernel_w * cg));
        dst += s.kernel_w * cg;
        continue;
      }
      const uint8_t* row = x + ((n * in.h + iy) * in.w) * in.c + c0;
      if (inside_x && whole_pixels) {
        copy_span(dst, row + ix0 * in.c, static_cast<size_t>(s.kernel_w * cg));
        dst += s.kernel_w * cg;
        continue;
      }
      for (int64_t kx = 0; kx < s.kernel_w; ++kx, dst += cg) {
        const int64_t ix = ix0 + kx;
        if (ix < 0 || ix >= in.w) {
          std::memset(dst, zero, static_cast<size_t>(cg));
        } else {
          copy_span(dst, row + ix * in.c, static_cast<size_t>(cg));
        }
      }
    }
    if (kc > k) std::memset(col + r * kc + k, 0, kc - k);
    if (++ox == out.w) {
      ox = 0;
      if (++oy == out.h) oy = 0, ++n;
    }
  }
}

// Copies codes x (images of in, NHWC) into y with `top`/`left` rows/columns of `zero` before and zeros after, so y
// holds images of padded_h x padded_w pixels.
void pad_pixels(const uint8_t* x, uint8_t* y, int64_t images, const Shape& in, int64_t top, int64_t left,
               int64_t padded_h, int64_t padded_w, uint8_t zero) {
  const size_t c = static_cast<size_t>(in.c);
  const size_t row_bytes = static_cast<size_t>(padded_w) * c;
  const size_t left_bytes = static_cast<size_t>(left) * c;
  const size_t in_row_bytes = static_cast<size_t>(in.w) * c;
  const size_t right_bytes = row_bytes - left_bytes - in_row_bytes;
  for (int64_t n = 0; n < images; ++n) {
    const uint8_t* src = x + n * in.size();
    uint8_t* dst = y + n * padded_h * static_cast<int64_t>(row_bytes);
    std::memset(dst, zero, static_cast<size_t>(top) * row_bytes);
    dst += top * row_bytes;
    for (int64_t iy = 0; iy < in.h; ++iy, src += in_row_bytes, dst += row_bytes) {
      std::memset(dst, zero, left_bytes);
      std::memcpy(dst + left_bytes, src, in_row_bytes);
      std::memset(dst + left_bytes + in_row_bytes, zero, right_bytes);
    }
    std::memset(dst, zero, static_cast<size_t>(padded_h - top - in.h) * row_bytes);
  }
}

}  // namespace

// Writes the zero border of images bordered codes (the interior untouched).
void IntPlan::fill_border(uint8_t* y, int64_t images, const Storage& st, uint8_t zero) {
  const size_t row_bytes = static_cast<size_t>(st.w * st.c);
  const size_t left_bytes = static_cast<size_t>(st.left * st.c), right_bytes = static_cast<size_t>(st.right * st.c);
  const int64_t interior_h = st.h - st.top - st.bottom;
  for (int64_t n = 0; n < images; ++n) {
    uint8_t* image = y + n * st.size();
    std::memset(image, zero, static_cast<size_t>(st.top) * row_bytes);
    uint8_t* row = image + st.top * static_cast<int64_t>(row_bytes);
    // Each row's right border and the next row's left border are adjacent: one span.
    if (left_bytes) std::memset(row, zero, left_bytes);
    for (int64_t r = 0; r < interior_h; ++r, row += row_bytes) {
      const size_t span = right_bytes + (r + 1 < interior_h ? left_bytes : 0);
      if (span) std::memset(row + row_bytes - right_bytes, zero, span);
    }
    std::memset(row, zero, static_cast<size_t>(st.bottom) * row_bytes);
  }
}

struct IntPlan::Layer {
  bool depthwise = false;
  bool direct = false;   // A is the input buffer itself (pointwise conv or gemm on identity-grid codes)
  // Indirect conv: the GEMM reads A through row pointers into the (padded) input, no im2col buffer.
  bool indirect = false;
  bool pad_copy = false;                  // the input is first copied into a padded buffer
  // The float input is quantized straight into the padded buffer (cp channels, the padding channels and border
  // holding the layer's zero point), reading NCHW from the network input when nothing else reads it.
  bool fused_quantize = false;
  int64_t cp = 0;                         // channels per pixel of the buffer the indirect GEMM reads
  int64_t padded_h = 0, padded_w = 0;     // the conv's padded input extent (pads plus the strided reach)
  // The buffer the row pointers address: images of view_h x view_w pixels, the padded input's first pixel at
  // (view_top, view_left).
  int64_t view_h = 0, view_w = 0, view_top = 0, view_left = 0;
  // Residual add fused into an indirect conv: op index of the add that is the conv output's only reader (the next
  // op); the conv computes each output row into a row buffer and runs the add's vadd on it (the same codes, the same
  // float operations as the separate add), and the add op itself is skipped.
  int fused_add = -1;
  bool skipped = false;
  std::vector<ptrdiff_t> tap_offsets;     // per tap: byte offset from an output pixel's first tap
  size_t tap_bytes = 0;                   // bytes of A per tap (taps * tap_bytes = k)
  const kernels::QGemmConfig* gemm = nullptr;  // per layer: the panel width follows the layer's output channels
  size_t k = 0, kc = 0;  // per-group GEMM depth, padded to the kernel's k-block
  std::vector<kernels::QPackedWeights> packed;  // per group
  std::vector<int8_t> dw_packed;
  kernels::QuantizeParams quantize{};  // float input -> layer grid
  kernels::VaddParams vadd{};          // add
  kernels::ConvertParams convert{};    // carrier -> layer grid
};

struct IntPlan::Workspace {
  int64_t images = 0;  // the chunk size the buffers are sized for
  std::vector<AlignedVector<float>> slots;  // float values or uint8 codes (viewed as bytes)
  AlignedVector<uint8_t> col;
  AlignedVector<uint8_t> converted;  // depthwise input on the layer grid
  AlignedVector<int8_t> scratch;
  AlignedVector<uint8_t> padded;          // input of an indirect conv with padding
  std::vector<const uint8_t*> row_ptrs;   // indirect conv: first tap of each output pixel of a row block
  AlignedVector<uint8_t> row_out;         // one output row of a conv with a fused add
  std::vector<int32_t> sums;       // pooling accumulators, one per channel
  std::vector<double> op_seconds;  // profiling (IntPlan::run's op_seconds), this slot's share
};

IntPlan::IntPlan(IntPlanSpec spec)
    : net_(build_network(std::move(spec))),
      gemm_(&kernels::qgemm_config(active_isa())),
      dwconv_(&kernels::qdwconv_config(active_isa())),
      elementwise_(&kernels::elementwise_config(active_isa())) {
  for (const IntOp& op : net_.ops) {
    auto layer = std::make_unique<Layer>();
    const IntOpSpec& s = op.spec;
    if (s.kind == OpKind::kAdd) {
      const Grid& a = *net_.grids[s.inputs[0]];
      const Grid& b = *net_.grids[s.inputs[1]];
      layer->vadd = {a.scale, static_cast<float>(a.zero), b.scale, static_cast<float>(b.zero),
                     op.add.inv_scale, op.add.zero, op.add.min, op.add.max};
    }
    const Grid& g = s.input_grid;
    layer->quantize = {g.scale, static_cast<float>(-g.zero), static_cast<float>(g.levels() - g.zero), g.zero};
    if (const auto& carrier = net_.grids[s.inputs[0]]) {
      layer->convert = {carrier->scale, static_cast<float>(carrier->zero), layer->quantize};
    }
    if (s.kind == OpKind::kConv || s.kind == OpKind::kGemm) {
      const int64_t group = s.kind == OpKind::kConv ? s.group : 1;
      const int64_t in_per_group = op.in.c / group;
      const int64_t out_per_group = s.out_channels / group;
      const int64_t taps = s.kind == OpKind::kConv ? s.kernel_h * s.kernel_w : 1;
      layer->depthwise = s.kind == OpKind::kConv && in_per_group == 1 && out_per_group == 1 && !op.float_out;
      if (layer->depthwise) {
        layer->dw_packed = kernels::qdwconv_pack(*dwconv_, s.weight.data(), op.in.c, s.kernel_h, s.kernel_w);
      } else {
        const kernels::QGemmConfig& config = kernels::qgemm_config(active_isa(), static_cast<size_t>(out_per_group));
        layer->gemm = &config;
        layer->k = static_cast<size_t>(taps * in_per_group);
        layer->kc = round_up(layer->k, config.kr);
        const bool pointwise = s.kind == OpKind::kGemm ||
                               (group == 1 && taps == 1 && s.stride_h == 1 && s.stride_w == 1 && s.pads[0] == 0 &&
                                s.pads[1] == 0 && s.pads[2] == 0 && s.pads[3] == 0);
        layer->direct = pointwise && layer->k == layer->kc;
        // Indirect: ungrouped convs whose channels fill whole k-groups, or that read the float input (quantized
        // straight into a buffer whose channels are padded to whole k-groups, e.g. an RGB input's 3 to 4, with zero
        // weights in the padded channels so every sum is unchanged). Grouped convs, which no fixture has, keep
        // im2col.
        const int64_t kr = static_cast<int64_t>(config.kr);
        const bool channels_fit = in_per_group % kr == 0;
        layer->indirect = !layer->direct && s.kind == OpKind::kConv && group == 1 && config.iukernel != nullptr &&
                          config.sukernel != nullptr &&
                          (channels_fit || op.float_in);
        layer->fused_quantize = layer->indirect && op.float_in;
        layer->cp = layer->indirect ? (in_per_group + kr - 1) / kr * kr : in_per_group;
        if (layer->cp != in_per_group) layer->k = layer->kc = static_cast<size_t>(taps * layer->cp);
        // Reorder each group's weights to [out][ky][kx][in] so one im2col row (NHWC taps) is the GEMM's K.
        std::vector<int8_t> reordered(static_cast<size_t>(out_per_group * taps * in_per_group));
        std::vector<int8_t> widened;
        for (int64_t g = 0; g < group; ++g) {
          reorder_conv_weights(s.weight.data(), g, out_per_group, in_per_group, taps, reordered.data());
          const int8_t* w = reordered.data();
          if (layer->cp != in_per_group) {  // zero weights for the padded channels
            widened.assign(static_cast<size_t>(out_per_group) * layer->k, 0);
            for (int64_t o = 0; o < out_per_group; ++o)
              for (int64_t t = 0; t < taps; ++t)
                std::memcpy(&widened[static_cast<size_t>((o * taps + t) * layer->cp)], &reordered[static_cast<size_t>((o * taps + t) * in_per_group)],
                            static_cast<size_t>(in_per_group));
            w = widened.data();
          }
          // An indirect conv stores even sub-byte codes as int8 panels: its GEMM runs per output row (or row block)
          // and would unpack a sub-byte panel on every call, while a conv's weights are reused across all its rows
          // and stay in cache, so the packed form saves no memory traffic. Same codes, same sums.
          const int storage_bits = layer->indirect ? 8 : s.wbits;
          layer->packed.push_back(kernels::qgemm_pack(config, w, layer->k, out_per_group, layer->k, storage_bits));
          scratch_bytes_ = std::max(scratch_bytes_, kernels::qgemm_scratch_bytes(config, layer->packed.back()));
        }
        if (layer->indirect) {
          // Padded so every tap of every output pixel lies inside (rows/columns past the input are padding too).
          layer->padded_h = std::max(op.in.h + s.pads[0] + s.pads[2], (op.out.h - 1) * s.stride_h + s.kernel_h);
          layer->padded_w = std::max(op.in.w + s.pads[1] + s.pads[3], (op.out.w - 1) * s.stride_w + s.kernel_w);
          layer->pad_copy = !layer->fused_quantize && (layer->padded_h != op.in.h || layer->padded_w != op.in.w);
          // Taps in (ky, kx, c) order as the packed K: the kernel_w pixels of one kernel row are adjacent whole
          // pixels, so each kernel row is one tap of kernel_w * C bytes (fewer, longer taps for the kernel).
          layer->tap_bytes = static_cast<size_t>(s.kernel_w * layer->cp);
          if (layer->pad_copy || layer->fused_quantize)
            padded_bytes_ = std::max(padded_bytes_, static_cast<size_t>(layer->padded_h * layer->padded_w * layer->cp));
          for (const kernels::QPackedWeights& w : layer->packed)
            scratch_bytes_ = std::max(scratch_bytes_, kernels::qgemm_indirect_scratch_bytes(w));
        } else if (!layer->direct) {
          col_bytes_ = std::max(col_bytes_, static_cast<size_t>(kConvRowBlock) * layer->kc);
        }
      }
    }
    layers_.push_back(std::move(layer));
  }
  // Bordered storage: a code value whose readers are all indirect convs (at least one needing padding) and adds,
  // written by an indirect conv or an add, carries the largest border its conv readers need.
  const size_t values = net_.shapes.size();
  storage_.assign(values, Storage{});
  std::vector<int> producer(values, -1);
  for (size_t i = 0; i < net_.ops.size(); ++i) producer[static_cast<size_t>(net_.ops[i].spec.output)] = static_cast<int>(i);
  for (size_t v = 1; v < values; ++v) {
    const int p = producer[v];
    if (p < 0 || static_cast<int>(v) == net_.output || !net_.grids[v]) continue;
    const IntOp& pop = net_.ops[static_cast<size_t>(p)];
    const bool producer_ok = pop.spec.kind == OpKind::kAdd || (layers_[static_cast<size_t>(p)]->indirect && !pop.float_out);
    if (!producer_ok) continue;
    Storage st;
    bool readers_ok = true;
    for (size_t i = 0; i < net_.ops.size() && readers_ok; ++i) {
      const IntOp& op = net_.ops[i];
      for (size_t j = 0; j < op.spec.inputs.size(); ++j) {
        if (op.spec.inputs[j] != static_cast<int>(v)) continue;
        if (op.spec.kind == OpKind::kAdd) continue;
        const Layer& l = *layers_[i];
        if (j != 0 || !l.indirect || l.fused_quantize) {
          readers_ok = false;
          break;
        }
        st.top = std::max(st.top, op.spec.pads[0]);
        st.left = std::max(st.left, op.spec.pads[1]);
        st.bottom = std::max(st.bottom, l.padded_h - op.spec.pads[0] - op.in.h);
        st.right = std::max(st.right, l.padded_w - op.spec.pads[1] - op.in.w);
      }
    }
    if (!readers_ok || !st.bordered()) continue;
    const Shape& shape = net_.shapes[v];
    st.h = shape.h + st.top + st.bottom;
    st.w = shape.w + st.left + st.right;
    st.c = shape.c;
    storage_[v] = st;
  }
  slot_floats_ = net_.layout.slot_size;
  for (size_t v = 0; v < values; ++v) {
    if (!storage_[v].bordered()) continue;
    int64_t& floats = slot_floats_[static_cast<size_t>(net_.layout.slot_of[v])];
    floats = std::max(floats, (storage_[v].size() + 3) / 4);
  }
  for (size_t i = 0; i < net_.ops.size(); ++i) {
    const IntOp& op = net_.ops[i];
    Layer& l = *layers_[i];
    if (op.spec.kind != OpKind::kConv && op.spec.kind != OpKind::kGemm) continue;
    const Storage& st = storage_[static_cast<size_t>(op.spec.inputs[0])];
    converted_bytes_ = std::max(converted_bytes_, static_cast<size_t>(st.bordered() ? st.size() : op.in.size()));
    if (!l.indirect) continue;
    if (st.bordered()) {
      l.pad_copy = false;
      l.view_h = st.h, l.view_w = st.w, l.view_top = st.top - op.spec.pads[0], l.view_left = st.left - op.spec.pads[1];
    } else if (l.pad_copy || l.fused_quantize) {
      l.view_h = l.padded_h, l.view_w = l.padded_w;
    } else {
      l.view_h = op.in.h, l.view_w = op.in.w;
    }
    for (int64_t ky = 0; ky < op.spec.kernel_h; ++ky) l.tap_offsets.push_back(ky * l.view_w * l.cp);
  }

  // Residual adds fused into the conv just before them (see Layer::fused_add).
  for (size_t i = 0; i + 1 < net_.ops.size(); ++i) {
    const IntOp& conv = net_.ops[i];
    const IntOp& add = net_.ops[i + 1];
    Layer& l = *layers_[i];
    if (!l.indirect || conv.float_out || add.spec.kind != OpKind::kAdd || conv.spec.output == net_.output) continue;
    const int v = conv.spec.output;
    const int a = add.spec.inputs[0], b = add.spec.inputs[1];
    if ((a == v) == (b == v)) continue;  // the conv output exactly once
    int readers = 0;
    for (const IntOp& op : net_.ops)
      for (int input : op.spec.inputs) readers += input == v;
    if (readers != 1 || storage_[static_cast<size_t>(v)].bordered()) continue;
    // The add's output slot must not be one the conv still reads while it writes (its input, the other operand).
    const auto& slot = net_.layout.slot_of;
    const int other = a == v ? b : a;
    const int y = add.spec.output;
    if (slot[static_cast<size_t>(y)] == slot[static_cast<size_t>(conv.spec.inputs[0])] ||
        slot[static_cast<size_t>(y)] == slot[static_cast<size_t>(other)])
      continue;
    l.fused_add = static_cast<int>(i + 1);
    layers_[i + 1]->skipped = true;
  }

  // The network input stays NCHW (no transpose) when it flows through a chain of elementwise ops (per channel,
  // so layout-free), each value read once, into a conv that quantizes it straight from there.
  nchw_.assign(net_.shapes.size(), false);
  std::vector<int> chain;
  for (int value = 0;;) {
    int readers = 0, reader = -1;
    for (size_t i = 0; i < net_.ops.size(); ++i)
      for (int input : net_.ops[i].spec.inputs)
        if (input == value) ++readers, reader = static_cast<int>(i);
    if (readers != 1 || value == net_.output) break;
    const IntOp& op = net_.ops[static_cast<size_t>(reader)];
    chain.push_back(value);
    if (layers_[static_cast<size_t>(reader)]->fused_quantize && op.spec.inputs[0] == value) {
      for (int v : chain) nchw_[static_cast<size_t>(v)] = true;
      break;
    }
    if (op.spec.kind != OpKind::kElementwise || op.spec.inputs.size() != 1) break;
    value = op.spec.output;
  }
  input_nchw_ = nchw_[0];

  for (const IntOp& op : net_.ops) {
    row_out_bytes_ = std::max(row_out_bytes_, static_cast<size_t>(op.out.w * op.out.c));
    sum_channels_ = std::max(sum_channels_, static_cast<size_t>(op.in.c));
  }
  const int largest = net_.layout.largest;
  const int largest_producer = net_.layout.producer[static_cast<size_t>(largest)];
  largest_ = value_label(largest_producer,
                         largest_producer < 0 ? nullptr : &net_.ops[static_cast<size_t>(largest_producer)].spec,
                         net_.shapes[static_cast<size_t>(largest)]);
  memory_limit_ = net_.memory_limit;
  check_memory(1, 1);
}

double IntPlan::check_memory(int64_t batch, int threads) const {
  const ImageChunks chunks = image_chunks(batch, std::max(1, threads), kChunkImages);
  double per_image = static_cast<double>(padded_bytes_ + converted_bytes_);
  for (int64_t floats : slot_floats_) per_image += static_cast<double>(floats) * sizeof(float);
  const double fixed = static_cast<double>(col_bytes_ + scratch_bytes_ + row_out_bytes_) +
                       static_cast<double>(kIndirectRows) * sizeof(const uint8_t*) +
                       static_cast<double>(sum_channels_) * sizeof(int32_t);
  const MemoryBudget budget = run_budget(batch, net_.input.size(), classes(), chunks, per_image, fixed);
  budget.check(memory_limit_, [&](int item) { return run_item_name(item, chunks, largest_); });
  return budget.total();
}

IntPlan::~IntPlan() = default;

std::string IntPlan::kernels() const { return std::string(gemm_->name) + ", " + dwconv_->name; }

void IntPlan::run(const float* input, int64_t batch, float* logits, int threads,
                  std::vector<double>* op_seconds) const {
  const size_t steps = net_.ops.size() + 2;
  if (op_seconds != nullptr) op_seconds->assign(steps, 0.0);
  if (batch <= 0) return;
  check_memory(batch, threads);
  threads = std::max(1, threads);
  const ImageChunks chunks = image_chunks(batch, threads, kChunkImages);
  const int64_t chunk = chunks.chunk;
  const int64_t tasks = chunks.tasks;
  auto workspaces = workspaces_.lease(static_cast<size_t>(chunks.slots));
  if (op_seconds != nullptr)
    for (int i = 0; i < chunks.slots; ++i) workspaces[static_cast<size_t>(i)].op_seconds.assign(steps, 0.0);
  const int64_t in_size = net_.input.size();
  const int64_t out_size = classes();
  global_pool().parallel_for(tasks, threads, [&](int64_t task, int slot) {
    Workspace& ws = workspaces[static_cast<size_t>(slot)];
    if (ws.images < chunk) {  // first use, or a larger chunk than this workspace has served
      // A float value needs 4 bytes per element and a code 1: size every slot for floats.
      ws.slots.clear();
      for (int64_t size : slot_floats_) ws.slots.emplace_back(static_cast<size_t>(size * chunk));
      ws.col.resize(col_bytes_);
      ws.padded.resize(padded_bytes_ * static_cast<size_t>(chunk));
      ws.row_ptrs.resize(static_cast<size_t>(kIndirectRows));
      ws.row_out.resize(row_out_bytes_);
      ws.scratch.resize(scratch_bytes_);
      ws.converted.resize(converted_bytes_ * static_cast<size_t>(chunk));
      ws.sums.resize(sum_channels_);
      ws.images = chunk;
    }
    const int64_t first = task * chunk;
    const int64_t images = std::min(chunk, batch - first);
    run_chunk(input + first * in_size, images, logits + first * out_size, ws,
              op_seconds != nullptr ? ws.op_seconds.data() : nullptr);
  });
  if (op_seconds != nullptr)
    for (int slot = 0; slot < chunks.slots; ++slot)
      for (size_t i = 0; i < steps; ++i) (*op_seconds)[i] += workspaces[static_cast<size_t>(slot)].op_seconds[i];
}

void IntPlan::run_chunk(const float* input, int64_t images, float* logits, Workspace& ws, double* op_seconds) const {
  using Clock = std::chrono::steady_clock;
  Clock::time_point started = op_seconds != nullptr ? Clock::now() : Clock::time_point{};
  // Adds the time since the last lap to step `step` of the profile (a no-op unless profiling).
  auto lap = [&](size_t step) {
    if (op_seconds == nullptr) return;
    const Clock::time_point now = Clock::now();
    op_seconds[step] += std::chrono::duration<double>(now - started).count();
    started = now;
  };
  auto floats = [&](int value) { return ws.slots[net_.layout.slot_of[value]].data(); };
  auto codes = [&](int value) { return reinterpret_cast<uint8_t*>(ws.slots[net_.layout.slot_of[value]].data()); };
  if (!input_nchw_) {  // NCHW -> NHWC
    float* x = floats(0);
    const Shape& s = net_.input;
    const int64_t hw = s.h * s.w;
    for (int64_t n = 0; n < images; ++n)
      for (int64_t c = 0; c < s.c; ++c)
        for (int64_t p = 0; p < hw; ++p) x[(n * hw + p) * s.c + c] = input[(n * s.c + c) * hw + p];
  }
  lap(0);
  // Row r of image n of a code value of the op's shape (bordered or not).
  auto row_at = [&](uint8_t* base, int value, int64_t n, int64_t r) {
    const Storage& st = storage_[static_cast<size_t>(value)];
    const Shape& shape = net_.shapes[static_cast<size_t>(value)];
    return st.bordered() ? base + ((n * st.h + r + st.top) * st.w + st.left) * shape.c
                         : base + (n * shape.h + r) * shape.w * shape.c;
  };
  for (size_t index = 0; index < net_.ops.size(); ++index) {
    const IntOp& op = net_.ops[index];
    const Layer& layer = *layers_[index];
    if (layer.skipped) continue;
    const IntOpSpec& s = op.spec;
    const Shape& in = op.in;
    const Shape& out = op.out;
    const int in_value = s.inputs[0];
    switch (s.kind) {
      case OpKind::kConv:
      case OpKind::kGemm: {
        // The layer's input codes: the float input quantized, or the carrier converted, onto the layer grid
        // (the carrier itself when the grids coincide).
        const uint8_t* x = codes(in_value);
        const Storage& in_store = storage_[static_cast<size_t>(in_value)];
        // A bordered carrier converts whole (its border, the carrier's zero point, becomes the layer's).
        const int64_t in_elements = images * (in_store.bordered() ? in_store.size() : in.size());
        if (layer.fused_quantize) {
          // Quantize (and transpose, from the NCHW network input) into the padded buffer's interior; the border
          // and the padding channels hold the layer's zero point.
          const uint8_t zero = static_cast<uint8_t>(s.input_grid.zero);
          const bool nchw = nchw_[static_cast<size_t>(in_value)];
          const float* src = in_value == 0 && input_nchw_ ? input : floats(in_value);
          const size_t channel_stride = nchw ? static_cast<size_t>(in.h * in.w) : 1;
          const size_t pixel_stride = nchw ? 1 : static_cast<size_t>(in.c);
          const int64_t cp = layer.cp;
          const size_t row_bytes = static_cast<size_t>(layer.padded_w * cp);
          const size_t left_bytes = static_cast<size_t>(s.pads[1] * cp);
          const size_t right_bytes = row_bytes - left_bytes - static_cast<size_t>(in.w * cp);
          uint8_t* dst = ws.padded.data();
          for (int64_t n = 0; n < images; ++n) {
            const float* image = src + n * in.size();
            std::memset(dst, zero, static_cast<size_t>(s.pads[0]) * row_bytes);
            dst += s.pads[0] * row_bytes;
            for (int64_t iy = 0; iy < in.h; ++iy, dst += row_bytes) {
              std::memset(dst, zero, left_bytes);
              elementwise_->quantize_interleave(static_cast<size_t>(in.w), static_cast<size_t>(in.c),
                                                image + iy * in.w * static_cast<int64_t>(pixel_stride), channel_stride,
                                                pixel_stride, dst + left_bytes, static_cast<size_t>(cp), zero,
                                                layer.quantize);
              std::memset(dst + row_bytes - right_bytes, zero, right_bytes);
            }
            const size_t bottom = static_cast<size_t>(layer.padded_h - s.pads[0] - in.h) * row_bytes;
            std::memset(dst, zero, bottom);
            dst += bottom;
          }
          x = ws.padded.data();
        } else if (op.float_in) {
          elementwise_->quantize(static_cast<size_t>(in_elements), floats(in_value), ws.converted.data(), layer.quantize);
          x = ws.converted.data();
        } else if (!op.lut_identity) {
          if (elementwise_->lookup != nullptr) {  // the same conversion as a table (op.lut), where that is faster
            elementwise_->lookup(static_cast<size_t>(in_elements), x, ws.converted.data(), op.lut.data());
          } else {
            elementwise_->convert(static_cast<size_t>(in_elements), x, ws.converted.data(), layer.convert);
          }
          x = ws.converted.data();
        }
        const kernels::RequantParams all{op.layer.multiplier.data(), op.layer.bias.data(), op.layer.correction.data(),
                                         op.layer.min, op.layer.max};
        if (layer.depthwise) {
          const kernels::QDwconvShape shape{static_cast<size_t>(in.c), static_cast<size_t>(in.h), static_cast<size_t>(in.w),
                                            static_cast<size_t>(out.h), static_cast<size_t>(out.w),
                                            static_cast<size_t>(s.kernel_h), static_cast<size_t>(s.kernel_w),
                                            static_cast<size_t>(s.stride_h), static_cast<size_t>(s.stride_w),
                                            static_cast<size_t>(s.pads[0]), static_cast<size_t>(s.pads[1])};
          const kernels::RequantParams params{op.layer.multiplier.data(), op.layer.bias.data(), nullptr, op.layer.min, op.layer.max};
          uint8_t* y = codes(s.output);
          for (int64_t n = 0; n < images; ++n) {
            dwconv_->kernel(shape, x + n * in.size(), in.c, static_cast<uint8_t>(s.input_grid.zero), layer.dw_packed.data(),
                            y + n * out.size(), out.c, params);
          }
          break;
        }
        const bool is_conv = s.kind == OpKind::kConv;
        const int64_t group = is_conv ? s.group : 1;
        const int64_t in_per_group = in.c / group;
        const int64_t out_per_group = out.c / group;
        const int64_t rows = images * out.h * out.w;
        const uint8_t layer_zero = static_cast<uint8_t>(s.input_grid.zero);
        void* y = op.float_out ? static_cast<void*>(floats(s.output)) : static_cast<void*>(codes(s.output));
        const size_t element = op.float_out ? sizeof(float) : 1;
        if (layer.indirect) {
          const uint8_t* xp = x;
          if (layer.pad_copy) {
            pad_pixels(x, ws.padded.data(), images, in, s.pads[0], s.pads[1], layer.padded_h, layer.padded_w, layer_zero);
            xp = ws.padded.data();
          }
          const int64_t image_bytes = layer.view_h * layer.view_w * layer.cp;
          const int64_t row_step = s.stride_h * layer.view_w * layer.cp;
          const int64_t col_step = s.stride_w * layer.cp;
          xp += (layer.view_top * layer.view_w + layer.view_left) * layer.cp;
          const Storage& out_store = storage_[static_cast<size_t>(s.output)];
          if (out_store.bordered() || layer.fused_add >= 0) {
            // One GEMM per output row, written into the interior of the bordered output, or into a row buffer
            // that the fused add reads at once.
            const IntOp* add = layer.fused_add >= 0 ? &net_.ops[static_cast<size_t>(layer.fused_add)] : nullptr;
            for (int64_t n = 0; n < images; ++n) {
              for (int64_t oy = 0; oy < out.h; ++oy) {
                // The row's pixels read windows col_step bytes apart: the strided GEMM.
                const uint8_t* row_start = xp + n * image_bytes + oy * row_step;
                uint8_t* dst = add ? ws.row_out.data() : row_at(codes(s.output), s.output, n, oy);
                kernels::qgemm_strided(*layer.gemm, static_cast<size_t>(out.w), row_start, static_cast<size_t>(col_step),
                                       layer.tap_offsets.data(), layer.tap_offsets.size(), layer.tap_bytes,
                                       layer.packed[0], dst, out.c, all, false, ws.scratch.data());
                if (add) {
                  const int a = add->spec.inputs[0], b = add->spec.inputs[1];
                  const uint8_t* ra = a == s.output ? dst : row_at(codes(a), a, n, oy);
                  const uint8_t* rb = b == s.output ? dst : row_at(codes(b), b, n, oy);
                  elementwise_->vadd(static_cast<size_t>(out.w * out.c), ra, rb,
                                     row_at(codes(add->spec.output), add->spec.output, n, oy),
                                     layers_[static_cast<size_t>(layer.fused_add)]->vadd);
                }
              }
            }
            const int written = add ? add->spec.output : s.output;
            const Storage& st = storage_[static_cast<size_t>(written)];
            if (st.bordered()) fill_border(codes(written), images, st, static_cast<uint8_t>(net_.grids[written]->zero));
            break;
          }
          // Output pixel (n, oy, ox) reads from line_start + ox * col_step; line_start walks the output rows.
          const uint8_t* image_start = xp;
          const uint8_t* line_start = xp;
          int64_t oy = 0, ox = 0;
          for (int64_t row0 = 0; row0 < rows; row0 += kIndirectRows) {
            const int64_t block = std::min(kIndirectRows, rows - row0);
            const uint8_t** row_ptrs = ws.row_ptrs.data();
            for (int64_t r = 0; r < block;) {
              const int64_t run = std::min(out.w - ox, block - r);
              const uint8_t* p = line_start + ox * col_step;
              for (int64_t e = 0; e < run; ++e, p += col_step) row_ptrs[r + e] = p;
              r += run;
              ox += run;
              if (ox == out.w) {
                ox = 0;
                line_start += row_step;
                if (++oy == out.h) oy = 0, image_start += image_bytes, line_start = image_start;
              }
            }
            kernels::qgemm_indirect(*layer.gemm, static_cast<size_t>(block), row_ptrs, layer.tap_offsets.data(),
                                    layer.tap_offsets.size(), layer.tap_bytes, layer.packed[0],
                                    static_cast<uint8_t*>(y) + row0 * out.c * element, out.c, all, op.float_out,
                                    ws.scratch.data());
          }
        } else if (layer.direct) {
          kernels::qgemm(*layer.gemm, rows, x, layer.kc, layer.packed[0], y, out.c, all, op.float_out, ws.scratch.data());
        } else {
          for (int64_t g = 0; g < group; ++g) {
            const kernels::RequantParams params{all.multiplier + g * out_per_group, all.bias + g * out_per_group,
                                                all.correction + g * out_per_group, all.min, all.max};
            for (int64_t row0 = 0; row0 < rows; row0 += kConvRowBlock) {
              const int64_t block = std::min(kConvRowBlock, rows - row0);
              im2col(x, in, out, s, g * in_per_group, in_per_group, layer_zero, row0, block, ws.col.data(), layer.k, layer.kc);
              kernels::qgemm(*layer.gemm, block, ws.col.data(), layer.kc, layer.packed[g],
                             static_cast<uint8_t*>(y) + (row0 * out.c + g * out_per_group) * element, out.c, params,
                             op.float_out, ws.scratch.data());
            }
          }
        }
        if (op.float_out && (std::isfinite(s.min) || std::isfinite(s.max))) {
          float* yf = floats(s.output);
          for (int64_t i = 0; i < images * out.size(); ++i) yf[i] = std::fmin(std::fmax(yf[i], s.min), s.max);
        }
        break;
      }
      case OpKind::kAdd: {
        const uint8_t* a = codes(in_value);
        const uint8_t* b = codes(s.inputs[1]);
        uint8_t* y = codes(s.output);
        const Storage& sa = storage_[static_cast<size_t>(in_value)];
        const Storage& sb = storage_[static_cast<size_t>(s.inputs[1])];
        const Storage& sy = storage_[static_cast<size_t>(s.output)];
        if (!sa.bordered() && !sb.bordered() && !sy.bordered()) {
          elementwise_->vadd(static_cast<size_t>(images * out.size()), a, b, y, layer.vadd);
          break;
        }
        // Row by row: each of a, b, y may be bordered.
        for (int64_t n = 0; n < images; ++n)
          for (int64_t r = 0; r < out.h; ++r)
            elementwise_->vadd(static_cast<size_t>(out.w * out.c), row_at(codes(in_value), in_value, n, r),
                               row_at(codes(s.inputs[1]), s.inputs[1], n, r), row_at(y, s.output, n, r), layer.vadd);
        if (sy.bordered()) fill_border(y, images, sy, static_cast<uint8_t>(net_.grids[s.output]->zero));
        break;
      }
      case OpKind::kClamp: {
        const uint8_t* x = codes(in_value);
        uint8_t* y = codes(s.output);
        const auto lo = static_cast<uint8_t>(op.clamp_lo), hi = static_cast<uint8_t>(op.clamp_hi);
        for (int64_t i = 0; i < images * out.size(); ++i) y[i] = std::min(std::max(x[i], lo), hi);
        break;
      }
      case OpKind::kMaxPool:
        max_pool(codes(in_value), codes(s.output), images, in, out, s);
        break;
      case OpKind::kAvgPool: {
        const uint8_t* x = codes(in_value);
        uint8_t* y = codes(s.output);
        const int32_t zero = (*net_.grids[in_value]).zero;
        std::vector<int32_t>& sums = ws.sums;
        for (int64_t n = 0; n < images; ++n)
          for (int64_t oy = 0; oy < out.h; ++oy)
            for (int64_t ox = 0; ox < out.w; ++ox) {
              std::fill(sums.begin(), sums.begin() + in.c, 0);
              int64_t count = 0;
              for (int64_t ky = 0; ky < s.kernel_h; ++ky) {
                const int64_t iy = oy * s.stride_h + ky - s.pads[0];
                for (int64_t kx = 0; kx < s.kernel_w; ++kx) {
                  const int64_t ix = ox * s.stride_w + kx - s.pads[1];
                  if (iy < 0 || iy >= in.h || ix < 0 || ix >= in.w) {
                    if (!s.count_include_pad) continue;
                    for (int64_t c = 0; c < in.c; ++c) sums[c] += zero;  // a padded tap is real zero
                  } else {
                    const uint8_t* src = x + ((n * in.h + iy) * in.w + ix) * in.c;
                    for (int64_t c = 0; c < in.c; ++c) sums[c] += src[c];
                  }
                  ++count;
                }
              }
              uint8_t* dst = y + ((n * out.h + oy) * out.w + ox) * out.c;
              const float inv = inverse_count(count);
              for (int64_t c = 0; c < in.c; ++c) dst[c] = average_code(sums[c], inv);
            }
        break;
      }
      case OpKind::kGlobalAvgPool: {
        const uint8_t* x = codes(in_value);
        uint8_t* y = codes(s.output);
        const int64_t hw = in.h * in.w;
        std::vector<int32_t>& sums = ws.sums;
        for (int64_t n = 0; n < images; ++n) {
          std::fill(sums.begin(), sums.begin() + in.c, 0);
          for (int64_t p = 0; p < hw; ++p) {
            const uint8_t* src = x + (n * hw + p) * in.c;
            for (int64_t c = 0; c < in.c; ++c) sums[c] += src[c];
          }
          for (int64_t c = 0; c < in.c; ++c) y[n * in.c + c] = average_code(sums[c], op.inv_count);
        }
        break;
      }
      case OpKind::kPad:
        if (op.float_in) {
          pad_spatial(floats(in_value), floats(s.output), images, in, out, s.pads, s.pad_value);
        } else {
          pad_spatial(codes(in_value), codes(s.output), images, in, out, s.pads, op.pad_code);
        }
        break;
      case OpKind::kElementwise:
        if (nchw_[static_cast<size_t>(in_value)]) {
          elementwise_planes(in_value == 0 ? input : floats(in_value), floats(s.output), images, in.h * in.w, in.c, s);
          break;
        }
        elementwise(floats(in_value), floats(s.output), images * in.h * in.w, in.c, s);
        break;
      case OpKind::kRepeat:
        if (op.float_in) {
          repeat_channels(floats(in_value), floats(s.output), images * in.h * in.w, in.c, s.repeat);
        } else {
          repeat_channels(codes(in_value), codes(s.output), images * in.h * in.w, in.c, s.repeat);
        }
        break;
      case OpKind::kFlatten:
        if (op.float_in) {
          flatten_nchw(floats(in_value), floats(s.output), images, in);
        } else {
          flatten_nchw(codes(in_value), codes(s.output), images, in);
        }
        break;
    }
    lap(1 + index);
  }
  // Logits in NCHW order: float values as they are, codes dequantized.
  const Shape& shape = net_.layout.output;
  const int64_t hw = shape.h * shape.w;
  const auto& grid = net_.grids[net_.output];
  const float* result = floats(net_.output);
  const uint8_t* result_codes = codes(net_.output);
  for (int64_t n = 0; n < images; ++n)
    for (int64_t p = 0; p < hw; ++p)
      for (int64_t c = 0; c < shape.c; ++c) {
        const int64_t at = (n * hw + p) * shape.c + c;
        logits[(n * shape.c + c) * hw + p] = grid ? dequantize_value(result_codes[at], *grid) : result[at];
      }
  lap(net_.ops.size() + 1);
}

}  // namespace arq::engine
