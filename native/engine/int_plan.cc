// The integer executor: runs the layout that plan_int_layout chose over chunks of images, op by op.
#include "engine/int_plan.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "common/aligned.h"
#include "common/thread_pool.h"
#include "engine/nhwc_ops.h"
#include "engine/run_memory.h"

namespace arq::engine {
namespace {

// Images per pool task. 4, 8 and 16 run within noise of each other (docs/benchmarks.md).
constexpr int64_t kChunkImages = 8;

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
void im2col(const uint8_t* x, const Shape& in, const Shape& out, const OpGeometry& s, int64_t c0, int64_t cg,
            uint8_t zero, int64_t row0, int64_t rows, uint8_t* col, size_t k, size_t kc) {
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

// Writes the zero border of images bordered codes (the interior untouched).
void fill_border(uint8_t* y, int64_t images, const ValueStorage& st, uint8_t zero) {
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

}  // namespace

struct IntPlan::Workspace {
  int64_t images = 0;                       // the chunk size the buffers are sized for
  std::vector<AlignedVector<float>> slots;  // float values or uint8 codes (viewed as bytes)
  AlignedVector<uint8_t> col;
  AlignedVector<uint8_t> converted;  // a layer input on the layer grid
  AlignedVector<int8_t> scratch;
  AlignedVector<uint8_t> padded;         // input of an indirect conv with padding
  std::vector<const uint8_t*> row_ptrs;  // indirect conv: first tap of each output pixel of a row block
  AlignedVector<uint8_t> row_out;        // one output row of a conv with a fused add
  AlignedVector<uint8_t> index;          // a lookup layer's index bytes for one block of rows
  AlignedVector<uint8_t> interval;       // an interval conv's centre and radius codes
  AlignedVector<float> interval_sums;    // an interval conv's raw sums: centre, then radius
  std::vector<int32_t> sums;             // pooling accumulators, one per channel
  std::vector<double> op_seconds;        // profiling (IntPlan::run's op_seconds), this slot's share

  // Sizes every buffer for chunks of `chunk` images of `layout` (a float value needs 4 bytes per element and a code
  // 1: every slot is sized for floats).
  void reserve(const IntLayout& layout, int64_t chunk) {
    if (images >= chunk) return;
    slots.clear();
    for (int64_t size : layout.slot_floats) slots.emplace_back(static_cast<size_t>(size * chunk));
    col.resize(layout.col_bytes);
    padded.resize(layout.padded_bytes * static_cast<size_t>(chunk));
    row_ptrs.resize(static_cast<size_t>(kIndirectRows));
    row_out.resize(layout.row_out_bytes);
    index.resize(layout.index_bytes);
    interval.resize(layout.interval_bytes * static_cast<size_t>(chunk));
    interval_sums.resize(layout.interval_floats);
    scratch.resize(layout.scratch_bytes);
    converted.resize(layout.converted_bytes * static_cast<size_t>(chunk));
    sums.resize(layout.sum_channels);
    images = chunk;
  }
};

// One chunk of images through every op, in one workspace. Each op kind (and each path of a conv/gemm) is a method.
class IntPlan::ChunkRun {
 public:
  ChunkRun(const IntPlan& plan, const float* input, int64_t images, Workspace& ws)
      : net_(plan.net_),
        layout_(plan.layout_),
        elementwise_(*plan.layout_.elementwise),
        input_(input),
        images_(images),
        ws_(ws) {}

  // logits: images x classes, NCHW order, or (logits null) codes: the carrier output's codes in the same order.
  // op_seconds: nullptr, or the steps IntPlan::run describes.
  void run(float* logits, uint8_t* output_codes, double* op_seconds) {
    using Clock = std::chrono::steady_clock;
    Clock::time_point started = op_seconds != nullptr ? Clock::now() : Clock::time_point{};
    // Adds the time since the last lap to step `step` of the profile (a no-op unless profiling).
    auto lap = [&](size_t step) {
      if (op_seconds == nullptr) return;
      const Clock::time_point now = Clock::now();
      op_seconds[step] += std::chrono::duration<double>(now - started).count();
      started = now;
    };
    if (!layout_.input_nchw) input_to_nhwc();
    lap(0);
    for (size_t index = 0; index < net_.ops.size(); ++index) {
      if (layout_.layers[index].skipped) continue;
      run_op(net_.ops[index], layout_.layers[index]);
      lap(1 + index);
    }
    write_output(logits, output_codes);
    lap(net_.ops.size() + 1);
  }

 private:
  using RequantParams = kernels::RequantParams;

  float* floats(int value) const { return ws_.slots[net_.layout.slot_of[value]].data(); }
  uint8_t* codes(int value) const { return reinterpret_cast<uint8_t*>(floats(value)); }
  const ValueStorage& storage(int value) const { return layout_.storage[static_cast<size_t>(value)]; }

  // Row r of image n of a code value (bordered or not).
  uint8_t* row_at(uint8_t* base, int value, int64_t n, int64_t r) const {
    const ValueStorage& st = storage(value);
    const Shape& shape = net_.shapes[static_cast<size_t>(value)];
    return st.bordered() ? base + ((n * st.h + r + st.top) * st.w + st.left) * shape.c
                         : base + (n * shape.h + r) * shape.w * shape.c;
  }

  void input_to_nhwc() const {
    float* x = floats(0);
    const Shape& s = net_.input;
    const int64_t hw = s.h * s.w;
    for (int64_t n = 0; n < images_; ++n)
      for (int64_t c = 0; c < s.c; ++c)
        for (int64_t p = 0; p < hw; ++p) x[(n * hw + p) * s.c + c] = input_[(n * s.c + c) * hw + p];
  }

  void run_op(const IntOp& op, const IntLayerPlan& layer) {
    const IntOpSpec& s = op.spec;
    const Shape& in = op.in;
    const Shape& out = op.out;
    const int in_value = s.inputs[0];
    switch (s.kind) {
      case OpKind::kConv:
      case OpKind::kGemm:
        conv_gemm(op, layer);
        break;
      case OpKind::kAdd:
        add(op, layer);
        break;
      case OpKind::kClamp: {
        const uint8_t* x = codes(in_value);
        uint8_t* y = codes(s.output);
        const auto lo = static_cast<uint8_t>(op.clamp_lo), hi = static_cast<uint8_t>(op.clamp_hi);
        for (int64_t i = 0; i < images_ * out.size(); ++i) y[i] = std::min(std::max(x[i], lo), hi);
        break;
      }
      case OpKind::kMaxPool:
        max_pool(codes(in_value), codes(s.output), images_, in, out, s);
        break;
      case OpKind::kAvgPool:
        avg_pool(op);
        break;
      case OpKind::kGlobalAvgPool:
        global_avg_pool(op);
        break;
      case OpKind::kPad:
        if (op.float_in) {
          pad_spatial(floats(in_value), floats(s.output), images_, in, out, s.pads, s.pad_value);
        } else {
          pad_spatial(codes(in_value), codes(s.output), images_, in, out, s.pads, op.pad_code);
        }
        break;
      case OpKind::kElementwise:
        if (layout_.nchw[static_cast<size_t>(in_value)]) {
          elementwise_planes(in_value == 0 ? input_ : floats(in_value), floats(s.output), images_, in.h * in.w, in.c,
                             s);
          break;
        }
        elementwise(floats(in_value), floats(s.output), images_ * in.h * in.w, in.c, s);
        break;
      case OpKind::kRepeat:
        if (op.float_in) {
          repeat_channels(floats(in_value), floats(s.output), images_ * in.h * in.w, in.c, s.repeat);
        } else {
          repeat_channels(codes(in_value), codes(s.output), images_ * in.h * in.w, in.c, s.repeat);
        }
        break;
      case OpKind::kFlatten:
        if (op.float_in) {
          flatten_nchw(floats(in_value), floats(s.output), images_, in);
        } else {
          flatten_nchw(codes(in_value), codes(s.output), images_, in);
        }
        break;
    }
  }

  // A conv/gemm: its input on the layer grid, then the path the layout chose, then the logits' clip.
  void conv_gemm(const IntOp& op, const IntLayerPlan& layer) {
    const uint8_t* x = layer_input(op, layer);
    if (layer.depthwise) {
      depthwise(op, layer, x);
      return;
    }
    if (layer.interval) {
      if (layer.indirect) {
        interval_by_rows(op, layer, x);
      } else {
        interval_by_blocks(op, layer, x);
      }
      return;
    }
    if (layer.indirect) {
      const bool by_rows = storage(op.spec.output).bordered() || layer.fused_add >= 0;
      if (by_rows) {
        indirect_by_rows(op, layer, x);
        return;
      }
      indirect_by_blocks(op, layer, x);
    } else if (layer.direct && layer.lookup) {
      lookup_direct(op, layer, x);
    } else if (layer.direct) {
      const RequantParams params = requant_params(op);
      kernels::qgemm(*layer.gemm, images_ * op.out.h * op.out.w, x, layer.kc, layer.packed[0], output(op), op.out.c,
                     params, op.float_out, ws_.scratch.data());
    } else {
      im2col_groups(op, layer, x);
    }
    const IntOpSpec& s = op.spec;
    if (op.float_out && (std::isfinite(s.min) || std::isfinite(s.max))) {
      float* yf = floats(s.output);
      for (int64_t i = 0; i < images_ * op.out.size(); ++i) yf[i] = std::fmin(std::fmax(yf[i], s.min), s.max);
    }
  }

  static RequantParams requant_params(const IntOp& op) {
    return {op.layer.multiplier.data(), op.layer.bias.data(), op.layer.correction.data(), op.layer.min, op.layer.max};
  }
  void* output(const IntOp& op) const {
    return op.float_out ? static_cast<void*>(floats(op.spec.output)) : static_cast<void*>(codes(op.spec.output));
  }

  // The layer's input codes: the float input quantized (into the padded buffer when the quantization is fused), or
  // the carrier converted, onto the layer grid; the carrier itself when the grids coincide.
  const uint8_t* layer_input(const IntOp& op, const IntLayerPlan& layer) {
    const int in_value = op.spec.inputs[0];
    const uint8_t* x = codes(in_value);
    const ValueStorage& in_store = storage(in_value);
    // A bordered carrier converts whole (its border, the carrier's zero point, becomes the layer's).
    const size_t in_elements = static_cast<size_t>(images_ * (in_store.bordered() ? in_store.size() : op.in.size()));
    if (layer.fused_quantize) return quantize_padded(op, layer);
    if (op.float_in) {
      elementwise_.quantize(in_elements, floats(in_value), ws_.converted.data(), layer.quantize);
      return ws_.converted.data();
    }
    if (op.lut_identity) return x;
    if (elementwise_.lookup != nullptr) {  // the same conversion as a table (op.lut), where that is faster
      elementwise_.lookup(in_elements, x, ws_.converted.data(), op.lut.data());
    } else {
      elementwise_.convert(in_elements, x, ws_.converted.data(), layer.convert);
    }
    return ws_.converted.data();
  }

  // Quantizes (and transposes, from the NCHW network input) the float input into the padded buffer's interior; the
  // border and the padding channels hold the layer's zero point.
  const uint8_t* quantize_padded(const IntOp& op, const IntLayerPlan& layer) {
    const IntOpSpec& s = op.spec;
    const Shape& in = op.in;
    const int in_value = s.inputs[0];
    const uint8_t zero = static_cast<uint8_t>(s.input_grid.zero);
    const bool nchw = layout_.nchw[static_cast<size_t>(in_value)];
    const float* src = in_value == 0 && layout_.input_nchw ? input_ : floats(in_value);
    const size_t channel_stride = nchw ? static_cast<size_t>(in.h * in.w) : 1;
    const size_t pixel_stride = nchw ? 1 : static_cast<size_t>(in.c);
    const int64_t cp = layer.cp;
    const size_t row_bytes = static_cast<size_t>(layer.padded_w * cp);
    const size_t left_bytes = static_cast<size_t>(s.pads[1] * cp);
    const size_t right_bytes = row_bytes - left_bytes - static_cast<size_t>(in.w * cp);
    uint8_t* dst = ws_.padded.data();
    for (int64_t n = 0; n < images_; ++n) {
      const float* image = src + n * in.size();
      std::memset(dst, zero, static_cast<size_t>(s.pads[0]) * row_bytes);
      dst += s.pads[0] * row_bytes;
      for (int64_t iy = 0; iy < in.h; ++iy, dst += row_bytes) {
        std::memset(dst, zero, left_bytes);
        elementwise_.quantize_interleave(static_cast<size_t>(in.w), static_cast<size_t>(in.c),
                                         image + iy * in.w * static_cast<int64_t>(pixel_stride), channel_stride,
                                         pixel_stride, dst + left_bytes, static_cast<size_t>(cp), zero, layer.quantize);
        std::memset(dst + row_bytes - right_bytes, zero, right_bytes);
      }
      const size_t bottom = static_cast<size_t>(layer.padded_h - s.pads[0] - in.h) * row_bytes;
      std::memset(dst, zero, bottom);
      dst += bottom;
    }
    return ws_.padded.data();
  }

  void depthwise(const IntOp& op, const IntLayerPlan& layer, const uint8_t* x) {
    const IntOpSpec& s = op.spec;
    const Shape& in = op.in;
    const Shape& out = op.out;
    const kernels::QDwconvShape shape{
        static_cast<size_t>(in.c),       static_cast<size_t>(in.h),       static_cast<size_t>(in.w),
        static_cast<size_t>(out.h),      static_cast<size_t>(out.w),      static_cast<size_t>(s.kernel_h),
        static_cast<size_t>(s.kernel_w), static_cast<size_t>(s.stride_h), static_cast<size_t>(s.stride_w),
        static_cast<size_t>(s.pads[0]),  static_cast<size_t>(s.pads[1])};
    const RequantParams params{op.layer.multiplier.data(), op.layer.bias.data(), nullptr, op.layer.min, op.layer.max};
    uint8_t* y = codes(s.output);
    for (int64_t n = 0; n < images_; ++n) {
      layout_.dwconv->kernel(shape, x + n * in.size(), in.c, static_cast<uint8_t>(s.input_grid.zero),
                             layer.dw_packed.data(), y + n * out.size(), out.c, params);
    }
  }

  // The buffer an indirect conv's GEMM reads: output pixel (n, oy, ox) reads from start + n * image_bytes +
  // oy * row_step + ox * col_step.
  struct View {
    const uint8_t* start;
    int64_t image_bytes, row_step, col_step;
  };
  // The input (copied into a padded buffer first where the layout says so), from the padded input's first pixel.
  View indirect_view(const IntOp& op, const IntLayerPlan& layer, const uint8_t* x) {
    const IntOpSpec& s = op.spec;
    if (layer.pad_copy) {
      pad_pixels(x, ws_.padded.data(), images_, op.in, s.pads[0], s.pads[1], layer.padded_h, layer.padded_w,
                 static_cast<uint8_t>(s.input_grid.zero));
      x = ws_.padded.data();
    }
    return {x + (layer.view_top * layer.view_w + layer.view_left) * layer.cp, layer.view_h * layer.view_w * layer.cp,
            s.stride_h * layer.view_w * layer.cp, s.stride_w * layer.cp};
  }

  // One strided GEMM per output row (by_rows).
  void indirect_by_rows(const IntOp& op, const IntLayerPlan& layer, const uint8_t* x) {
    const Shape& out = op.out;
    const View view = indirect_view(op, layer, x);
    const RequantParams params = requant_params(op);
    by_rows(op, layer, [&](int64_t n, int64_t oy, uint8_t* dst) {
      // The row's pixels read windows col_step bytes apart: the strided GEMM.
      const uint8_t* row_start = view.start + n * view.image_bytes + oy * view.row_step;
      kernels::qgemm_strided(*layer.gemm, static_cast<size_t>(out.w), row_start, static_cast<size_t>(view.col_step),
                             layer.tap_offsets.data(), layer.tap_offsets.size(), layer.tap_bytes, layer.packed[0], dst,
                             out.c, params, false, ws_.scratch.data());
    });
  }

  // The output rows of a conv, each computed by conv_row(n, oy, dst) into the interior of the bordered output, or
  // into a row buffer that the fused add reads at once; then the output's border.
  template <typename ConvRow>
  void by_rows(const IntOp& op, const IntLayerPlan& layer, ConvRow&& conv_row) {
    const IntOpSpec& s = op.spec;
    const Shape& out = op.out;
    const IntOp* add = layer.fused_add >= 0 ? &net_.ops[static_cast<size_t>(layer.fused_add)] : nullptr;
    for (int64_t n = 0; n < images_; ++n) {
      for (int64_t oy = 0; oy < out.h; ++oy) {
        uint8_t* dst = add ? ws_.row_out.data() : row_at(codes(s.output), s.output, n, oy);
        conv_row(n, oy, dst);
        if (add) {
          const int a = add->spec.inputs[0], b = add->spec.inputs[1];
          const uint8_t* ra = a == s.output ? dst : row_at(codes(a), a, n, oy);
          const uint8_t* rb = b == s.output ? dst : row_at(codes(b), b, n, oy);
          elementwise_.vadd(static_cast<size_t>(out.w * out.c), ra, rb,
                            row_at(codes(add->spec.output), add->spec.output, n, oy),
                            layout_.layers[static_cast<size_t>(layer.fused_add)].vadd);
        }
      }
    }
    const int written = add ? add->spec.output : s.output;
    const ValueStorage& st = storage(written);
    if (st.bordered()) fill_border(codes(written), images_, st, static_cast<uint8_t>(net_.grids[written]->zero));
  }

  // The raw-sum parameters of an interval conv's GEMMs and the parameters of its two-end epilogue.
  static RequantParams raw_sums(const IntervalConv& iv) { return {iv.ones.data(), iv.zeros.data(), nullptr, 0, 0}; }
  static RequantParams two_ends(const IntervalConv& iv) {
    return {iv.multiplier.data(), iv.bias.data(), iv.correction.data(), iv.min, iv.max};
  }

  // An interval conv on the indirect route: the centre and radius codes of the whole view (its border included),
  // then per output row the centre and radius strided GEMMs and the epilogue. The centre GEMM reads the view itself
  // with [W | W] where some lo + hi of this chunk passes a byte.
  void interval_by_rows(const IntOp& op, const IntLayerPlan& layer, const uint8_t* x) {
    const IntervalConv& iv = *layer.interval;
    const size_t width = static_cast<size_t>(op.out.w), n = static_cast<size_t>(iv.outputs);
    const View view = indirect_view(op, layer, x);
    const int64_t c = iv.channels, before = layer.view_top * layer.view_w + layer.view_left;
    const int64_t pixels = images_ * layer.view_h * layer.view_w;
    uint8_t* centre = ws_.interval.data();
    uint8_t* radius = centre + pixels * c;
    const bool split =
        split_ends(view.start - before * layer.cp, static_cast<size_t>(pixels), static_cast<size_t>(c), centre, radius);
    // The halves' views: C of the view's 2C bytes per pixel.
    const int64_t image_bytes = view.image_bytes / 2, row_step = view.row_step / 2, col_step = view.col_step / 2;
    float* centre_sums = ws_.interval_sums.data();
    float* radius_sums = centre_sums + width * n;
    const RequantParams raw = raw_sums(iv), ends = two_ends(iv);
    auto half_gemm = [&](const uint8_t* a, const kernels::QPackedWeights& w, float* sums) {
      kernels::qgemm_strided(*iv.gemm, width, a, static_cast<size_t>(col_step), iv.half_tap_offsets.data(),
                             iv.half_tap_offsets.size(), iv.half_tap_bytes, w, sums, n, raw, true, nullptr);
    };
    by_rows(op, layer, [&](int64_t image, int64_t oy, uint8_t* dst) {
      const int64_t at = before * c + image * image_bytes + oy * row_step;
      if (split) {
        half_gemm(centre + at, iv.centre, centre_sums);
      } else {
        kernels::qgemm_strided(*iv.gemm, width, view.start + image * view.image_bytes + oy * view.row_step,
                               static_cast<size_t>(view.col_step), layer.tap_offsets.data(), layer.tap_offsets.size(),
                               layer.tap_bytes, iv.ends, centre_sums, n, raw, true, nullptr);
      }
      half_gemm(radius + at, iv.radius, radius_sums);
      layout_.interval->epilogue(width, n, centre_sums, radius_sums, ends, dst);
    });
  }

  // An interval conv on the im2col route: the centre and radius codes of the input, then per block of kConvRowBlock
  // output pixels the centre and radius GEMMs over their im2col rows and the epilogue. Padding taps hold both ends at
  // the zero point: a centre of 2z and a radius of 0. The centre GEMM reads the input itself with [W | W] where some
  // lo + hi of this chunk (or 2z) passes a byte.
  void interval_by_blocks(const IntOp& op, const IntLayerPlan& layer, const uint8_t* x) {
    const IntOpSpec& s = op.spec;
    const IntervalConv& iv = *layer.interval;
    const size_t n = static_cast<size_t>(iv.outputs);
    const int64_t c = iv.channels, pixels = images_ * op.in.h * op.in.w, rows = images_ * op.out.h * op.out.w;
    const Shape half{c, op.in.h, op.in.w};
    uint8_t* centre = ws_.interval.data();
    uint8_t* radius = centre + pixels * c;
    const int32_t zero = s.input_grid.zero;
    const bool split =
        split_ends(x, static_cast<size_t>(pixels), static_cast<size_t>(c), centre, radius) && 2 * zero < 256;
    float* centre_sums = ws_.interval_sums.data();
    float* radius_sums = centre_sums + static_cast<size_t>(kConvRowBlock) * n;
    const RequantParams raw = raw_sums(iv), ends = two_ends(iv);
    uint8_t* y = codes(s.output);
    uint8_t* col = ws_.col.data();
    const kernels::QPackedWeights& centre_weights = split ? iv.centre : iv.ends;
    for (int64_t row0 = 0; row0 < rows; row0 += kConvRowBlock) {
      const int64_t block = std::min(kConvRowBlock, rows - row0);
      if (split) {
        im2col(centre, half, op.out, s, 0, c, static_cast<uint8_t>(2 * zero), row0, block, col, iv.k, iv.centre.kc);
      } else {
        im2col(x, op.in, op.out, s, 0, op.in.c, static_cast<uint8_t>(zero), row0, block, col, iv.ends_k, iv.ends.kc);
      }
      kernels::qgemm(*iv.gemm, static_cast<size_t>(block), col, centre_weights.kc, centre_weights, centre_sums, n, raw,
                     true, nullptr);
      im2col(radius, half, op.out, s, 0, c, 0, row0, block, col, iv.k, iv.radius.kc);
      kernels::qgemm(*iv.gemm, static_cast<size_t>(block), col, iv.radius.kc, iv.radius, radius_sums, n, raw, true,
                     nullptr);
      layout_.interval->epilogue(static_cast<size_t>(block), n, centre_sums, radius_sums, ends,
                                 y + row0 * static_cast<int64_t>(2 * n));
    }
  }

  // Indirect GEMMs over blocks of kIndirectRows output pixels of the whole chunk, each pixel's row pointer into the
  // view.
  void indirect_by_blocks(const IntOp& op, const IntLayerPlan& layer, const uint8_t* x) {
    const Shape& out = op.out;
    const View view = indirect_view(op, layer, x);
    const int64_t rows = images_ * out.h * out.w;
    const size_t element = op.float_out ? sizeof(float) : 1;
    const RequantParams params = requant_params(op);
    uint8_t* y = static_cast<uint8_t*>(output(op));
    // Output pixel (n, oy, ox) reads from line_start + ox * col_step; line_start walks the output rows.
    const uint8_t* image_start = view.start;
    const uint8_t* line_start = view.start;
    int64_t oy = 0, ox = 0;
    for (int64_t row0 = 0; row0 < rows; row0 += kIndirectRows) {
      const int64_t block = std::min(kIndirectRows, rows - row0);
      const uint8_t** row_ptrs = ws_.row_ptrs.data();
      for (int64_t r = 0; r < block;) {
        const int64_t run = std::min(out.w - ox, block - r);
        const uint8_t* p = line_start + ox * view.col_step;
        for (int64_t e = 0; e < run; ++e, p += view.col_step) row_ptrs[r + e] = p;
        r += run;
        ox += run;
        if (ox == out.w) {
          ox = 0;
          line_start += view.row_step;
          if (++oy == out.h) oy = 0, image_start += view.image_bytes, line_start = image_start;
        }
      }
      gemm_rows(op, layer, static_cast<size_t>(block), row_ptrs, y + row0 * out.c * element, params);
    }
  }

  // A pointwise lookup layer: its input rows (k codes each) through row pointers, kIndirectRows at a time.
  void lookup_direct(const IntOp& op, const IntLayerPlan& layer, const uint8_t* x) {
    const int64_t rows = images_ * op.out.h * op.out.w;
    const RequantParams params = requant_params(op);
    uint8_t* y = codes(op.spec.output);
    const uint8_t** row_ptrs = ws_.row_ptrs.data();
    for (int64_t row0 = 0; row0 < rows; row0 += kIndirectRows) {
      const int64_t block = std::min(kIndirectRows, rows - row0);
      for (int64_t r = 0; r < block; ++r) row_ptrs[r] = x + (row0 + r) * static_cast<int64_t>(layer.k);
      gemm_rows(op, layer, static_cast<size_t>(block), row_ptrs, y + row0 * op.out.c, params);
    }
  }

  // One block of GEMM rows read through row pointers (taps at layer.tap_offsets): the lookup kernel on index bytes
  // packed from them, or the indirect int8 GEMM.
  void gemm_rows(const IntOp& op, const IntLayerPlan& layer, size_t rows, const uint8_t** row_ptrs, uint8_t* out,
                 const RequantParams& params) {
    if (layer.lookup) {
      const kernels::LutGemmConfig& config = *layout_.lutgemm;
      kernels::lutgemm_pack_rows(config, row_ptrs, rows, layer.tap_offsets.data(), layer.tap_offsets.size(),
                                 layer.tap_bytes, layer.abits, ws_.index.data());
      kernels::lutgemm(config, rows, layer.abits, ws_.index.data(), layer.lut, out, static_cast<size_t>(op.out.c),
                       params);
      return;
    }
    kernels::qgemm_indirect(*layer.gemm, rows, row_ptrs, layer.tap_offsets.data(), layer.tap_offsets.size(),
                            layer.tap_bytes, layer.packed[0], out, op.out.c, params, op.float_out, ws_.scratch.data());
  }

  // Per group, im2col over blocks of kConvRowBlock output pixels, then one GEMM per block.
  void im2col_groups(const IntOp& op, const IntLayerPlan& layer, const uint8_t* x) {
    const IntOpSpec& s = op.spec;
    const Shape& in = op.in;
    const Shape& out = op.out;
    const int64_t group = s.kind == OpKind::kConv ? s.group : 1;
    const int64_t in_per_group = in.c / group;
    const int64_t out_per_group = out.c / group;
    const int64_t rows = images_ * out.h * out.w;
    const size_t element = op.float_out ? sizeof(float) : 1;
    const RequantParams all = requant_params(op);
    uint8_t* y = static_cast<uint8_t*>(output(op));
    for (int64_t g = 0; g < group; ++g) {
      const RequantParams params{all.multiplier + g * out_per_group, all.bias + g * out_per_group,
                                 all.correction + g * out_per_group, all.min, all.max};
      for (int64_t row0 = 0; row0 < rows; row0 += kConvRowBlock) {
        const int64_t block = std::min(kConvRowBlock, rows - row0);
        im2col(x, in, out, s, g * in_per_group, in_per_group, static_cast<uint8_t>(s.input_grid.zero), row0, block,
               ws_.col.data(), layer.k, layer.kc);
        kernels::qgemm(*layer.gemm, block, ws_.col.data(), layer.kc, layer.packed[g],
                       y + (row0 * out.c + g * out_per_group) * element, out.c, params, op.float_out,
                       ws_.scratch.data());
      }
    }
  }

  void add(const IntOp& op, const IntLayerPlan& layer) {
    const IntOpSpec& s = op.spec;
    const Shape& out = op.out;
    const int a = s.inputs[0], b = s.inputs[1];
    uint8_t* y = codes(s.output);
    const ValueStorage& sy = storage(s.output);
    if (!storage(a).bordered() && !storage(b).bordered() && !sy.bordered()) {
      elementwise_.vadd(static_cast<size_t>(images_ * out.size()), codes(a), codes(b), y, layer.vadd);
      return;
    }
    // Row by row: each of a, b, y may be bordered.
    for (int64_t n = 0; n < images_; ++n)
      for (int64_t r = 0; r < out.h; ++r)
        elementwise_.vadd(static_cast<size_t>(out.w * out.c), row_at(codes(a), a, n, r), row_at(codes(b), b, n, r),
                          row_at(y, s.output, n, r), layer.vadd);
    if (sy.bordered()) fill_border(y, images_, sy, static_cast<uint8_t>(net_.grids[s.output]->zero));
  }

  void avg_pool(const IntOp& op) {
    const IntOpSpec& s = op.spec;
    const Shape& in = op.in;
    const Shape& out = op.out;
    const uint8_t* x = codes(s.inputs[0]);
    uint8_t* y = codes(s.output);
    const int32_t zero = (*net_.grids[s.inputs[0]]).zero;
    std::vector<int32_t>& sums = ws_.sums;
    for (int64_t n = 0; n < images_; ++n)
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
  }

  void global_avg_pool(const IntOp& op) {
    const Shape& in = op.in;
    const uint8_t* x = codes(op.spec.inputs[0]);
    uint8_t* y = codes(op.spec.output);
    const int64_t hw = in.h * in.w;
    std::vector<int32_t>& sums = ws_.sums;
    for (int64_t n = 0; n < images_; ++n) {
      std::fill(sums.begin(), sums.begin() + in.c, 0);
      for (int64_t p = 0; p < hw; ++p) {
        const uint8_t* src = x + (n * hw + p) * in.c;
        for (int64_t c = 0; c < in.c; ++c) sums[c] += src[c];
      }
      for (int64_t c = 0; c < in.c; ++c) y[n * in.c + c] = average_code(sums[c], op.inv_count);
    }
  }

  // Logits in NCHW order: float values as they are, codes dequantized; or the codes themselves (output_codes).
  void write_output(float* logits, uint8_t* output_codes) const {
    const Shape& shape = net_.layout.output;
    const int64_t hw = shape.h * shape.w;
    const auto& grid = net_.grids[net_.output];
    const float* result = floats(net_.output);
    const uint8_t* result_codes = codes(net_.output);
    for (int64_t n = 0; n < images_; ++n)
      for (int64_t p = 0; p < hw; ++p)
        for (int64_t c = 0; c < shape.c; ++c) {
          const int64_t at = (n * hw + p) * shape.c + c, to = (n * shape.c + c) * hw + p;
          if (output_codes != nullptr) {
            output_codes[to] = result_codes[at];
          } else {
            logits[to] = grid ? dequantize_value(result_codes[at], *grid) : result[at];
          }
        }
  }

  const IntNetwork& net_;
  const IntLayout& layout_;
  const kernels::ElementwiseConfig& elementwise_;
  const float* input_;
  int64_t images_;
  Workspace& ws_;
};

IntPlan::IntPlan(IntPlanSpec spec)
    : net_(build_network(std::move(spec))), layout_(plan_int_layout(net_, active_isa())) {
  check_memory(1, 1);
}

IntPlan::~IntPlan() = default;

double IntPlan::check_memory(int64_t batch, int threads) const {
  const ImageChunks chunks = image_chunks(batch, std::max(1, threads), kChunkImages);
  double per_image = static_cast<double>(layout_.padded_bytes + layout_.converted_bytes + layout_.interval_bytes);
  for (int64_t floats : layout_.slot_floats) per_image += static_cast<double>(floats) * sizeof(float);
  const double fixed =
      static_cast<double>(layout_.col_bytes + layout_.scratch_bytes + layout_.row_out_bytes + layout_.index_bytes) +
      static_cast<double>(layout_.interval_floats) * sizeof(float) +
      static_cast<double>(kIndirectRows) * sizeof(const uint8_t*) +
      static_cast<double>(layout_.sum_channels) * sizeof(int32_t);
  const MemoryBudget budget = run_budget(batch, net_.input.size(), classes(), chunks, per_image, fixed);
  budget.check(net_.memory_limit, [&](int item) { return run_item_name(item, chunks, layout_.largest); });
  return budget.total();
}

// The family names at the active level (a narrow layer may run the family's narrower tile of that level).
std::string IntPlan::kernels() const {
  std::string names = std::string(kernels::qgemm_config(active_isa()).name) + ", " + layout_.dwconv->name;
  const bool lookup =
      std::any_of(layout_.layers.begin(), layout_.layers.end(), [](const IntLayerPlan& layer) { return layer.lookup; });
  return lookup ? names + ", " + layout_.lutgemm->name : names;
}

void IntPlan::run(const float* input, int64_t batch, float* logits, int threads,
                  std::vector<double>* op_seconds) const {
  run_chunks(input, batch, logits, nullptr, threads, op_seconds);
}

void IntPlan::run_codes(const float* input, int64_t batch, uint8_t* codes, int threads) const {
  if (!net_.grids[net_.output]) throw std::invalid_argument("run_codes needs a plan whose output is a carrier");
  run_chunks(input, batch, nullptr, codes, threads, nullptr);
}

void IntPlan::run_chunks(const float* input, int64_t batch, float* logits, uint8_t* codes, int threads,
                         std::vector<double>* op_seconds) const {
  const size_t steps = net_.ops.size() + 2;
  if (op_seconds != nullptr) op_seconds->assign(steps, 0.0);
  if (batch <= 0) return;
  check_memory(batch, threads);
  threads = std::max(1, threads);
  const ImageChunks chunks = image_chunks(batch, threads, kChunkImages);
  const int64_t chunk = chunks.chunk;
  auto workspaces = workspaces_.lease(static_cast<size_t>(chunks.slots));
  if (op_seconds != nullptr)
    for (int i = 0; i < chunks.slots; ++i) workspaces[static_cast<size_t>(i)].op_seconds.assign(steps, 0.0);
  const int64_t in_size = net_.input.size();
  const int64_t out_size = classes();
  global_pool().parallel_for(chunks.tasks, threads, [&](int64_t task, int slot) {
    Workspace& ws = workspaces[static_cast<size_t>(slot)];
    ws.reserve(layout_, chunk);  // first use, or a larger chunk than this workspace has served
    const int64_t first = task * chunk;
    const int64_t images = std::min(chunk, batch - first);
    ChunkRun(*this, input + first * in_size, images, ws)
        .run(logits != nullptr ? logits + first * out_size : nullptr,
             codes != nullptr ? codes + first * out_size : nullptr,
             op_seconds != nullptr ? ws.op_seconds.data() : nullptr);
  });
  if (op_seconds != nullptr)
    for (int slot = 0; slot < chunks.slots; ++slot)
      for (size_t i = 0; i < steps; ++i) (*op_seconds)[i] += workspaces[static_cast<size_t>(slot)].op_seconds[i];
}

}  // namespace arq::engine
