#include "engine/int_plan.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "common/aligned.h"
#include "common/thread_pool.h"
#include "engine/nhwc_ops.h"
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

struct IntPlan::Layer {
  bool depthwise = false;
  bool direct = false;   // A is the input buffer itself (pointwise conv or gemm on identity-grid codes)
  // Indirect conv: the GEMM reads A through row pointers into the (padded) input, no im2col buffer.
  bool indirect = false;
  bool pad_copy = false;                  // the input is first copied into a padded buffer
  int64_t padded_h = 0, padded_w = 0;     // image size the row pointers address
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
  std::vector<AlignedVector<float>> slots;  // float values or uint8 codes (viewed as bytes)
  AlignedVector<uint8_t> col;
  AlignedVector<uint8_t> converted;  // depthwise input on the layer grid
  AlignedVector<int8_t> scratch;
  AlignedVector<uint8_t> padded;          // input of an indirect conv with padding
  std::vector<const uint8_t*> row_ptrs;   // indirect conv: first tap of each output pixel of a row block
  std::vector<int32_t> sums;       // pooling accumulators, one per channel
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
        // Reorder each group's weights to [out][ky][kx][in] so one im2col row (NHWC taps) is the GEMM's K.
        std::vector<int8_t> reordered(static_cast<size_t>(out_per_group) * layer->k);
        for (int64_t g = 0; g < group; ++g) {
          reorder_conv_weights(s.weight.data(), g, out_per_group, in_per_group, taps, reordered.data());
          layer->packed.push_back(kernels::qgemm_pack(config, reordered.data(), layer->k, out_per_group, layer->k, s.wbits));
          scratch_bytes_ = std::max(scratch_bytes_, kernels::qgemm_scratch_bytes(config, layer->packed.back()));
        }
        // Indirect: ungrouped convs whose channels fill whole k-groups (grouped convs, which no fixture has, and
        // channel counts such as an RGB input's 3 keep im2col).
        layer->indirect = !layer->direct && s.kind == OpKind::kConv && group == 1 && config.iukernel != nullptr &&
                          in_per_group % static_cast<int64_t>(config.kr) == 0;
        if (layer->indirect) {
          // Padded so every tap of every output pixel lies inside (rows/columns past the input are padding too).
          layer->padded_h = std::max(op.in.h + s.pads[0] + s.pads[2], (op.out.h - 1) * s.stride_h + s.kernel_h);
          layer->padded_w = std::max(op.in.w + s.pads[1] + s.pads[3], (op.out.w - 1) * s.stride_w + s.kernel_w);
          layer->pad_copy = layer->padded_h != op.in.h || layer->padded_w != op.in.w;
          // Taps in (ky, kx, c) order as the packed K: the kernel_w pixels of one kernel row are adjacent whole
          // pixels, so each kernel row is one tap of kernel_w * C bytes (fewer, longer taps for the kernel).
          layer->tap_bytes = static_cast<size_t>(s.kernel_w * in_per_group);
          for (int64_t ky = 0; ky < s.kernel_h; ++ky) layer->tap_offsets.push_back(ky * layer->padded_w * op.in.c);
          if (layer->pad_copy) padded_bytes_ = std::max(padded_bytes_, static_cast<size_t>(layer->padded_h * layer->padded_w * op.in.c));
          for (const kernels::QPackedWeights& w : layer->packed)
            scratch_bytes_ = std::max(scratch_bytes_, kernels::qgemm_indirect_scratch_bytes(w));
        } else if (!layer->direct) {
          col_bytes_ = std::max(col_bytes_, static_cast<size_t>(kConvRowBlock) * layer->kc);
        }
      }
    }
    layers_.push_back(std::move(layer));
  }
}

IntPlan::~IntPlan() = default;

std::string IntPlan::kernels() const { return std::string(gemm_->name) + ", " + dwconv_->name; }

void IntPlan::run(const float* input, int64_t batch, float* logits, int threads) const {
  if (batch <= 0) return;
  threads = std::max(1, threads);
  const int64_t per_thread = (batch + threads - 1) / threads;
  const int64_t chunk = std::max<int64_t>(1, std::min(kChunkImages, per_thread));
  const int64_t tasks = (batch + chunk - 1) / chunk;
  std::vector<Workspace> workspaces(static_cast<size_t>(std::min<int64_t>(threads, tasks)));
  const int64_t in_size = net_.input.size();
  const int64_t out_size = classes();
  global_pool().parallel_for(tasks, threads, [&](int64_t task, int slot) {
    Workspace& ws = workspaces[slot];
    if (ws.slots.empty()) {
      // A float value needs 4 bytes per element and a code 1: size every slot for floats.
      for (int64_t size : net_.layout.slot_size) ws.slots.emplace_back(static_cast<size_t>(size * chunk));
      ws.col.resize(col_bytes_);
      ws.padded.resize(padded_bytes_ * static_cast<size_t>(chunk));
      ws.row_ptrs.resize(static_cast<size_t>(kIndirectRows));
      ws.scratch.resize(scratch_bytes_);
      int64_t largest_input = 0;  // of a layer whose input is converted to its own grid
      for (const IntOp& op : net_.ops) {
        if (op.spec.kind == OpKind::kConv || op.spec.kind == OpKind::kGemm) largest_input = std::max(largest_input, op.in.size());
      }
      ws.converted.resize(static_cast<size_t>(largest_input * chunk));
      int64_t channels = 0;
      for (const IntOp& op : net_.ops) channels = std::max(channels, op.in.c);
      ws.sums.resize(static_cast<size_t>(channels));
    }
    const int64_t first = task * chunk;
    const int64_t images = std::min(chunk, batch - first);
    run_chunk(input + first * in_size, images, logits + first * out_size, ws);
  });
}

void IntPlan::run_chunk(const float* input, int64_t images, float* logits, Workspace& ws) const {
  auto floats = [&](int value) { return ws.slots[net_.layout.slot_of[value]].data(); };
  auto codes = [&](int value) { return reinterpret_cast<uint8_t*>(ws.slots[net_.layout.slot_of[value]].data()); };
  {  // NCHW -> NHWC
    float* x = floats(0);
    const Shape& s = net_.input;
    const int64_t hw = s.h * s.w;
    for (int64_t n = 0; n < images; ++n)
      for (int64_t c = 0; c < s.c; ++c)
        for (int64_t p = 0; p < hw; ++p) x[(n * hw + p) * s.c + c] = input[(n * s.c + c) * hw + p];
  }
  for (size_t index = 0; index < net_.ops.size(); ++index) {
    const IntOp& op = net_.ops[index];
    const Layer& layer = *layers_[index];
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
        const int64_t in_elements = images * in.size();
        if (op.float_in) {
          elementwise_->quantize(static_cast<size_t>(in_elements), floats(in_value), ws.converted.data(), layer.quantize);
          x = ws.converted.data();
        } else if (!op.lut_identity) {
          elementwise_->convert(static_cast<size_t>(in_elements), x, ws.converted.data(), layer.convert);
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
          const int64_t image_bytes = layer.padded_h * layer.padded_w * in.c;
          const int64_t row_step = s.stride_h * layer.padded_w * in.c;
          const int64_t col_step = s.stride_w * in.c;
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
        elementwise_->vadd(static_cast<size_t>(images * out.size()), a, b, y, layer.vadd);
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
}

}  // namespace arq::engine
