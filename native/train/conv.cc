// Conv and Gemm training passes. Grouped convolutions are GEMMs over im2col rows whose K runs tap-major, (i, j, ci):
// the channels of one tap are contiguous in NHWC, so a row is assembled from runs of copies. The weights are
// reordered to match (engine::reorder_conv_weights, as the fp32 plan does) and the weight gradient back to ONNX order.
// - forward: y = col * W^T + bias (f32-gemm over packed weights); a pointwise conv (1x1, stride 1, no padding) and a
//   Gemm multiply the input rows themselves, and a conv without groups reads col's rows straight from a zero-padded
//   copy of each image (conv_image: f32-gemm's A in segments, one per kernel row);
// - weight gradient: dW = dy^T * col, with im2col writing straight into the packed panels of the GEMM's right side
//   and dy^T read in place (f32-gemm's A in segments of one value);
// - input gradient of a stride-1 conv without groups: the convolution of dy with the flipped, transposed kernel (pads
//   kernel - 1 - pad), run like the forward (K = taps * cout) and added onto dx;
// - other input gradients: dcol = dy * W (the reordered weights are K-major for this product), added back onto dx.
// Every product takes the f32-gemm tile for its column count (f32_gemm_config(isa, n)), which never changes a value.
// Each chunk of images (chunks.h) runs in blocks of output pixels sized to stay in L2; the sums over pixels follow
// the blocks, which depend on the shapes only, so results never depend on the thread count. Scratch lives per thread
// and is reused from step to step. Depthwise convolutions (one input and one output channel per group) run as direct
// loops over channels, where a GEMM would be one column wide.
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

#include "engine/nhwc_ops.h"
#include "train/ops.h"

namespace arq::train {
namespace {

constexpr int64_t kBlockFloats = 32 * 1024;  // one block's im2col rows (128 KiB)

struct ConvDims {
  int64_t groups, cin_g, cout_g, taps, k, pixels;  // k = taps * cin_g; pixels = output H * W
  bool pointwise;                                  // im2col would copy the input rows unchanged
  int64_t block;                                   // output pixels (GEMM rows) per block
};

ConvDims dims_of(const OpGeometry& s, const Pass& p) {
  ConvDims d;
  d.groups = s.group;
  d.cin_g = p.in.c / s.group;
  d.cout_g = p.out.c / s.group;
  d.taps = s.kernel_h * s.kernel_w;
  d.k = d.cin_g * d.taps;
  d.pixels = p.out.h * p.out.w;
  d.pointwise = d.taps == 1 && s.stride_h == 1 && s.stride_w == 1 && s.pads[0] == 0 && s.pads[1] == 0 &&
                s.pads[2] == 0 && s.pads[3] == 0;
  d.block = std::max<int64_t>(8, kBlockFloats / d.k);
  return d;
}

bool is_depthwise(const ConvDims& d) { return d.cin_g == 1 && d.cout_g == 1; }

// Scratch of one thread, kept across calls so that a warm training step allocates no im2col or GEMM buffers.
struct Scratch {
  std::vector<float> col, packed, out, dxt, padded;
  std::vector<float> partials;  // the calling thread's per-chunk weight gradients
};
Scratch& scratch() {
  thread_local Scratch s;
  return s;
}
float* sized(std::vector<float>& v, size_t size) {
  if (v.size() < size) v.resize(size);
  return v.data();
}

// Calls fn(r, image, oh, ow) for the output pixels [row0, row0 + rows) of a chunk (row = image * pixels + pixel),
// stepping the coordinates rather than dividing per row.
template <typename Fn>
void for_rows(const Pass& p, const ConvDims& d, int64_t row0, int64_t rows, Fn&& fn) {
  int64_t b = row0 / d.pixels, oh = row0 % d.pixels / p.out.w, ow = row0 % p.out.w;
  for (int64_t r = 0; r < rows; ++r) {
    fn(r, b, oh, ow);
    if (++ow == p.out.w) {
      ow = 0;
      if (++oh == p.out.h) oh = 0, ++b;
    }
  }
}

// im2col destinations: put(r, c, count, src) writes columns [c, c + count) of row r from src (zeros when null).
// A row-major [rows][k] block:
struct ColRows {
  float* dst;
  int64_t k;
  void put(int64_t r, int64_t c, int64_t count, const float* src) const {
    float* to = dst + r * k + c;
    if (src != nullptr) {
      std::copy(src, src + count, to);
    } else {
      std::fill(to, to + count, 0.0f);
    }
  }
};
// f32-gemm's packed panels of width nr (a power of two) over K = rows, each led by a bias row: column c of row r
// lies at dst + (c / nr) * panel + nr + r * nr + c % nr.
struct ColPanels {
  float* dst;
  int64_t shift, panel;  // nr = 1 << shift
  void put(int64_t r, int64_t c, int64_t count, const float* src) const {
    const int64_t nr = int64_t{1} << shift;
    while (count > 0) {
      const int64_t offset = c & (nr - 1), run = std::min(count, nr - offset);
      float* to = dst + (c >> shift) * panel + nr + r * nr + offset;
      if (src != nullptr) {
        std::copy(src, src + run, to);
        src += run;
      } else {
        std::fill(to, to + run, 0.0f);
      }
      c += run;
      count -= run;
    }
  }
};

// The taps [lo, hi) of kernel row i that fall inside the image for output column ow (lo = hi when none does).
struct TapRange {
  int64_t lo, hi, iw;  // iw: the input column of tap lo
};
TapRange inside_taps(const OpGeometry& s, const Pass& p, int64_t ih, int64_t ow) {
  if (ih < 0 || ih >= p.in.h) return {0, 0, 0};
  const int64_t left = ow * s.stride_w - s.pads[1];
  const int64_t lo = std::max<int64_t>(0, -left), hi = std::min<int64_t>(s.kernel_w, p.in.w - left);
  return {lo, std::max(lo, hi), left + lo};
}

// im2col of group g for output pixels [row0, row0 + rows) of the images at x. The taps of one kernel row are
// neighbouring pixels: without groups their channels form one contiguous run.
template <typename Cols>
void im2col(const OpGeometry& s, const Pass& p, const ConvDims& d, int64_t g, const float* x, int64_t row0,
            int64_t rows, const Cols& cols) {
  const bool whole_pixels = d.cin_g == p.in.c;
  for_rows(p, d, row0, rows, [&](int64_t r, int64_t b, int64_t oh, int64_t ow) {
    const float* image = x + b * p.in.size() + g * d.cin_g;
    for (int64_t i = 0; i < s.kernel_h; ++i) {
      const int64_t ih = oh * s.stride_h - s.pads[0] + i;
      const TapRange t = inside_taps(s, p, ih, ow);
      const int64_t c0 = i * s.kernel_w * d.cin_g;
      if (t.lo > 0) cols.put(r, c0, t.lo * d.cin_g, nullptr);
      if (t.hi > t.lo) {
        const float* src = image + (ih * p.in.w + t.iw) * p.in.c;
        if (whole_pixels) {
          cols.put(r, c0 + t.lo * d.cin_g, (t.hi - t.lo) * d.cin_g, src);
        } else {
          for (int64_t j = t.lo; j < t.hi; ++j) cols.put(r, c0 + j * d.cin_g, d.cin_g, src + (j - t.lo) * p.in.c);
        }
      }
      if (t.hi < s.kernel_w) cols.put(r, c0 + t.hi * d.cin_g, (s.kernel_w - t.hi) * d.cin_g, nullptr);
    }
  });
}

// The adjoint of im2col: adds the rows of a [rows][k] block back onto the gradients of the images at dx.
void col2im_add(const OpGeometry& s, const Pass& p, const ConvDims& d, int64_t g, const float* col, int64_t row0,
                int64_t rows, float* dx) {
  const bool whole_pixels = d.cin_g == p.in.c;
  for_rows(p, d, row0, rows, [&](int64_t r, int64_t b, int64_t oh, int64_t ow) {
    float* image = dx + b * p.in.size() + g * d.cin_g;
    for (int64_t i = 0; i < s.kernel_h; ++i) {
      const int64_t ih = oh * s.stride_h - s.pads[0] + i;
      const TapRange t = inside_taps(s, p, ih, ow);
      if (t.hi == t.lo) continue;
      const float* from = col + r * d.k + (i * s.kernel_w + t.lo) * d.cin_g;
      float* to = image + (ih * p.in.w + t.iw) * p.in.c;
      if (whole_pixels) {
        for (int64_t e = 0; e < (t.hi - t.lo) * d.cin_g; ++e) to[e] += from[e];
      } else {
        for (int64_t j = 0; j < t.hi - t.lo; ++j) {
          for (int64_t ci = 0; ci < d.cin_g; ++ci) to[j * p.in.c + ci] += from[j * d.cin_g + ci];
        }
      }
    }
  });
}

// The weights of every group reordered to [cout_g][taps][cin_g] (one im2col row per output channel).
std::vector<float> tap_major_weights(const std::vector<float>& w, const ConvDims& d) {
  std::vector<float> out(w.size());
  for (int64_t g = 0; g < d.groups; ++g)
    engine::reorder_conv_weights(w.data(), g, d.cout_g, d.cin_g, d.taps, out.data() + g * d.cout_g * d.k);
  return out;
}

// The input gradient of a stride-1 conv without groups as a conv of dy: output pixel oh receives dy[oh + pad - i] *
// W[i], which is dy convolved with the kernel flipped in both axes and with input and output channels swapped, under
// pads kernel - 1 - pad (the output is then the input's size). Pads of a kernel size or more (taps that only ever
// see padding) keep the dcol path.
bool transposes(const OpGeometry& s, const ConvDims& d) {
  return s.stride_h == 1 && s.stride_w == 1 && d.groups == 1 && !d.pointwise && s.pads[0] < s.kernel_h &&
         s.pads[2] < s.kernel_h && s.pads[1] < s.kernel_w && s.pads[3] < s.kernel_w;
}
OpGeometry transposed_geometry(const OpGeometry& s, int64_t in_channels) {
  OpGeometry t = s;
  t.out_channels = in_channels;
  t.pads[0] = s.kernel_h - 1 - s.pads[0];
  t.pads[1] = s.kernel_w - 1 - s.pads[1];
  t.pads[2] = s.kernel_h - 1 - s.pads[2];
  t.pads[3] = s.kernel_w - 1 - s.pads[3];
  return t;
}
// ONNX weights [cout][cin][kh][kw] as the transposed conv's tap-major rows [cin][kh][kw][cout], flipped in both axes.
std::vector<float> transposed_weights(const std::vector<float>& w, const OpGeometry& s, int64_t cin, int64_t cout) {
  const int64_t kh = s.kernel_h, kw = s.kernel_w;
  std::vector<float> out(w.size());
  for (int64_t co = 0; co < cout; ++co) {
    for (int64_t ci = 0; ci < cin; ++ci) {
      for (int64_t i = 0; i < kh; ++i) {
        for (int64_t j = 0; j < kw; ++j) {
          out[((ci * kh + (kh - 1 - i)) * kw + (kw - 1 - j)) * cout + co] = w[((co * cin + ci) * kh + i) * kw + j];
        }
      }
    }
  }
  return out;
}

// Calls fn(pixel_index, input_pixel_index, tap) for every output pixel of one image and every tap inside the image.
template <typename Fn>
void for_taps(const OpGeometry& s, const Pass& p, Fn&& fn) {
  for (int64_t oh = 0; oh < p.out.h; ++oh) {
    for (int64_t ow = 0; ow < p.out.w; ++ow) {
      engine::for_window(s, p.in, oh, ow, [&](int64_t r, int64_t tap) { fn(oh * p.out.w + ow, r, tap); });
    }
  }
}

// Depthwise weights [C][taps] as [taps][C], so the channel loops run over contiguous memory.
std::vector<float> taps_major(const std::vector<float>& w, int64_t channels, int64_t taps) {
  std::vector<float> out(w.size());
  for (int64_t c = 0; c < channels; ++c) {
    for (int64_t t = 0; t < taps; ++t) out[t * channels + c] = w[c * taps + t];
  }
  return out;
}

void depthwise_forward(const TrainOp& op, const Pass& p, const float* w, const float* bias, const float* x, float* y) {
  const OpGeometry& s = op.geo;
  const int64_t channels = p.out.c;
  for_chunks(p.batch, p.threads, [&](int64_t, int64_t first, int64_t end, int) {
    for (int64_t b = first; b < end; ++b) {
      const float* image = x + b * p.in.size();
      float* out = y + b * p.out.size();
      for (int64_t q = 0; q < p.out.h * p.out.w; ++q) {
        for (int64_t c = 0; c < channels; ++c) out[q * channels + c] = bias != nullptr ? bias[c] : 0.0f;
      }
      for_taps(s, p, [&](int64_t q, int64_t r, int64_t tap) {
        const float* in_row = image + r * channels;
        const float* w_row = w + tap * channels;
        float* out_row = out + q * channels;
        for (int64_t c = 0; c < channels; ++c) out_row[c] += in_row[c] * w_row[c];
      });
    }
  });
}

void depthwise_backward(const TrainOp& op, const Pass& p, std::vector<Tensor>& t, const float* x, const float* dy,
                        float* dx) {
  const OpGeometry& s = op.geo;
  const int64_t channels = p.out.c;
  const int64_t taps = s.kernel_h * s.kernel_w;
  const std::vector<float> w = taps_major(t[op.tensors[0]].value, channels, taps);
  const bool has_bias = op.tensors.size() > 1;
  const int64_t tasks = chunk_count(p.batch);
  const size_t part_size = static_cast<size_t>((taps + 1) * channels);  // [taps][C] weight, then [C] bias
  std::vector<float> partials(tasks * part_size, 0.0f);
  for_chunks(p.batch, p.threads, [&](int64_t task, int64_t first, int64_t end, int) {
    float* dw = partials.data() + task * part_size;
    float* db = dw + taps * channels;
    for (int64_t b = first; b < end; ++b) {
      const float* image = x + b * p.in.size();
      const float* grad = dy + b * p.out.size();
      float* dimage = dx != nullptr ? dx + b * p.in.size() : nullptr;
      for (int64_t q = 0; q < p.out.h * p.out.w; ++q) {
        for (int64_t c = 0; c < channels; ++c) db[c] += grad[q * channels + c];
      }
      for_taps(s, p, [&](int64_t q, int64_t r, int64_t tap) {
        const float* g_row = grad + q * channels;
        const float* in_row = image + r * channels;
        float* dw_row = dw + tap * channels;
        for (int64_t c = 0; c < channels; ++c) dw_row[c] += g_row[c] * in_row[c];
        if (dimage != nullptr) {
          const float* w_row = w.data() + tap * channels;
          float* dx_row = dimage + r * channels;
          for (int64_t c = 0; c < channels; ++c) dx_row[c] += g_row[c] * w_row[c];
        }
      });
    }
  });
  std::vector<float> sum(part_size);
  reduce_partials(partials, tasks, part_size, sum.data());
  std::vector<float>& wgrad = t[op.tensors[0]].grad;
  for (int64_t c = 0; c < channels; ++c) {
    for (int64_t tap = 0; tap < taps; ++tap) wgrad[c * taps + tap] = sum[tap * channels + c];
  }
  if (has_bias) std::copy(sum.begin() + taps * channels, sum.end(), t[op.tensors[1]].grad.begin());
}

// A conv without groups on one image, straight from it: each output row is one f32-gemm product whose A rows (the
// output pixels) start stride_w pixels apart in a zero-padded copy of the image and read K as kernel_h segments of
// kernel_w * C contiguous values, one padded image row apart. That is im2col's K order (tap-major), so the result
// equals im2col + f32-gemm bit for bit, without im2col's kernel_h * kernel_w copies of every value.
void conv_image(const kernels::F32GemmConfig& gemm, const OpGeometry& s, const Pass& p, const float* image,
                const float* packed, float* out) {
  const int64_t c = p.in.c, top = s.pads[0], left = s.pads[1], right = s.pads[3];
  const int64_t wp = p.in.w + left + right, hp = p.in.h + top + s.pads[2];
  float* padded = sized(scratch().padded, hp * wp * c);
  std::fill(padded, padded + top * wp * c, 0.0f);
  for (int64_t ih = 0; ih < p.in.h; ++ih) {
    float* row = padded + (top + ih) * wp * c;
    std::fill(row, row + left * c, 0.0f);
    std::copy(image + ih * p.in.w * c, image + (ih + 1) * p.in.w * c, row + left * c);
    std::fill(row + (left + p.in.w) * c, row + wp * c, 0.0f);
  }
  std::fill(padded + (top + p.in.h) * wp * c, padded + hp * wp * c, 0.0f);
  const size_t kseg = static_cast<size_t>(s.kernel_w * c);
  for (int64_t oh = 0; oh < p.out.h; ++oh) {
    kernels::f32_gemm_segmented(gemm, p.out.w, p.out.c, s.kernel_h * kseg, kseg, padded + oh * s.stride_h * wp * c,
                                s.stride_w * c, wp * c, packed, out + oh * p.out.w * p.out.c, p.out.c, -INFINITY,
                                INFINITY);
  }
}

}  // namespace

void conv_forward(const kernels::F32GemmConfig& level, const TrainOp& op, const Pass& p, const std::vector<Tensor>& t,
                  const float* x, float* y) {
  const ConvDims d = dims_of(op.geo, p);
  const float* bias = op.tensors.size() > 1 ? t[op.tensors[1]].value.data() : nullptr;
  if (is_depthwise(d)) {
    const std::vector<float> w = taps_major(t[op.tensors[0]].value, p.out.c, d.taps);
    depthwise_forward(op, p, w.data(), bias, x, y);
    return;
  }
  const kernels::F32GemmConfig& gemm = kernels::f32_gemm_config(level.isa, static_cast<size_t>(d.cout_g));
  const std::vector<float> weight = tap_major_weights(t[op.tensors[0]].value, d);
  std::vector<std::vector<float>> packed(d.groups);
  for (int64_t g = 0; g < d.groups; ++g) {
    packed[g] = kernels::f32_gemm_pack(gemm, weight.data() + g * d.cout_g * d.k, d.k,
                                       bias != nullptr ? bias + g * d.cout_g : nullptr, d.cout_g, d.k);
  }
  for_chunks(p.batch, p.threads, [&](int64_t, int64_t first, int64_t end, int) {
    const int64_t rows = (end - first) * d.pixels;
    const float* images = x + first * p.in.size();
    float* out = y + first * p.out.size();
    if (d.groups == 1 && !d.pointwise) {
      for (int64_t b = 0; b < end - first; ++b) {
        conv_image(gemm, op.geo, p, images + b * p.in.size(), packed[0].data(), out + b * p.out.size());
      }
      return;
    }
    for (int64_t g = 0; g < d.groups; ++g) {
      if (d.pointwise) {
        kernels::f32_gemm(gemm, rows, d.cout_g, d.k, images + g * d.cin_g, p.in.c, packed[g].data(), out + g * d.cout_g,
                          p.out.c, -INFINITY, INFINITY);
        continue;
      }
      float* col = sized(scratch().col, d.block * d.k);
      for (int64_t row0 = 0; row0 < rows; row0 += d.block) {
        const int64_t block = std::min(d.block, rows - row0);
        im2col(op.geo, p, d, g, images, row0, block, ColRows{col, d.k});
        kernels::f32_gemm(gemm, block, d.cout_g, d.k, col, d.k, packed[g].data(), out + row0 * p.out.c + g * d.cout_g,
                          p.out.c, -INFINITY, INFINITY);
      }
    }
  });
}

void conv_backward(const kernels::F32GemmConfig& level, const TrainOp& op, const Pass& p, std::vector<Tensor>& t,
                   const float* x, const float* dy, float* dx, bool overwrite) {
  const ConvDims d = dims_of(op.geo, p);
  // Only the transposed input gradient writes whole images; the other paths add into zeros.
  const bool transposed = dx != nullptr && !is_depthwise(d) && transposes(op.geo, d);
  if (dx != nullptr && !transposed) zero_if(overwrite, dx, p.batch * p.in.size());
  if (is_depthwise(d)) {
    depthwise_backward(op, p, t, x, dy, dx);
    return;
  }
  const bool has_bias = op.tensors.size() > 1;
  const std::vector<float> weight = tap_major_weights(t[op.tensors[0]].value, d);
  // dW_g = dy_g^T * col, N = k (also the N of dcol = dy * W).
  const kernels::F32GemmConfig& gemm = kernels::f32_gemm_config(level.isa, static_cast<size_t>(d.k));
  const int64_t nr = static_cast<int64_t>(gemm.nr);
  int64_t nr_shift = 0;
  while (int64_t{1} << nr_shift < nr) ++nr_shift;
  if (int64_t{1} << nr_shift != nr) throw std::logic_error("f32-gemm panel width is not a power of two");
  const size_t packed_col_size = kernels::f32_gemm_packed_size(gemm, d.k, d.block);
  // The input gradient: as a conv of dy (transposed), or dcol = dy * W, where the reordered weights of group g are
  // already K-major ([cout_g][k]), added back by col2im (by_cols).
  const bool by_cols = dx != nullptr && !transposed;
  const OpGeometry tgeo = transposed ? transposed_geometry(op.geo, p.in.c) : op.geo;
  const Pass tpass{p.out, p.in, p.batch, p.threads};
  const kernels::F32GemmConfig& tgemm = kernels::f32_gemm_config(level.isa, static_cast<size_t>(p.in.c));
  std::vector<float> packed_t;
  if (transposed) {
    const std::vector<float> tw = transposed_weights(t[op.tensors[0]].value, op.geo, p.in.c, p.out.c);
    const int64_t tk = d.taps * p.out.c;
    packed_t = kernels::f32_gemm_pack(tgemm, tw.data(), tk, nullptr, p.in.c, tk);
  }
  const size_t packed_w_size = kernels::f32_gemm_packed_size(gemm, d.k, d.cout_g);
  std::vector<float> packed_w(by_cols ? d.groups * packed_w_size : 0);
  for (int64_t g = 0; by_cols && g < d.groups; ++g) {
    kernels::f32_gemm_pack_kn(gemm, weight.data() + g * d.cout_g * d.k, d.k, d.k, d.cout_g,
                              packed_w.data() + g * packed_w_size);
  }
  const int64_t tasks = chunk_count(p.batch);
  const size_t part_size = weight.size() + static_cast<size_t>(p.out.c);  // weight gradient (tap-major), bias
  float* partials = sized(scratch().partials, tasks * part_size);
  for_chunks(p.batch, p.threads, [&](int64_t task, int64_t first, int64_t end, int) {
    const int64_t rows = (end - first) * d.pixels;
    const float* images = x + first * p.in.size();
    const float* grads = dy + first * p.out.size();
    float* dw = partials + task * part_size;
    float* db = dw + weight.size();
    std::fill(dw, dw + part_size, 0.0f);
    for (int64_t r = 0; has_bias && r < rows; ++r) {
      for (int64_t c = 0; c < p.out.c; ++c) db[c] += grads[r * p.out.c + c];
    }
    Scratch& s = scratch();
    float* packed = sized(s.packed, packed_col_size);
    float* out = sized(s.out, std::max(d.cout_g, d.block) * d.k);
    for (int64_t g = 0; g < d.groups; ++g) {
      float* dw_g = dw + g * d.cout_g * d.k;
      for (int64_t row0 = 0; row0 < rows; row0 += d.block) {
        const int64_t block = std::min(d.block, rows - row0);
        const float* grad = grads + row0 * p.out.c + g * d.cout_g;  // row r at grad + r * out.c
        // dW_g [cout_g][k] += dy_g^T [cout_g][block] * col [block][k], col packed as the GEMM's right side.
        if (d.pointwise) {
          kernels::f32_gemm_pack_kn(gemm, images + row0 * p.in.c + g * d.cin_g, p.in.c, d.k, block, packed);
        } else {
          const ColPanels panels{packed, nr_shift, nr * (block + 1)};
          // Each panel leads with its bias row (zero); columns past k only feed outputs the GEMM never stores.
          for (int64_t c = 0; c < d.k; c += nr) std::fill_n(packed + c / nr * panels.panel, nr, 0.0f);
          im2col(op.geo, p, d, g, images, row0, block, panels);
        }
        // dy_g^T is read in place: row co of A is column co of dy (segments of one value, out.c apart).
        kernels::f32_gemm_segmented(gemm, d.cout_g, d.k, block, 1, grad, 1, p.out.c, packed, out, d.k, -INFINITY,
                                    INFINITY);
        add_into(out, dw_g, d.cout_g * d.k);
        if (by_cols) {
          kernels::f32_gemm(gemm, block, d.k, d.cout_g, grad, p.out.c, packed_w.data() + g * packed_w_size, out, d.k,
                            -INFINITY, INFINITY);
          col2im_add(op.geo, p, d, g, out, row0, block, dx + first * p.in.size());
        }
      }
    }
    if (!transposed) return;
    float* dxt = overwrite ? nullptr : sized(s.dxt, p.in.size());
    for (int64_t b = first; b < end; ++b) {
      float* dx_image = dx + b * p.in.size();
      conv_image(tgemm, tgeo, tpass, dy + b * p.out.size(), packed_t.data(), overwrite ? dx_image : dxt);
      if (!overwrite) add_into(dxt, dx_image, p.in.size());
    }
  });
  std::vector<float> sum(part_size);
  reduce_partials(partials, tasks, part_size, sum.data());
  std::vector<float>& wgrad = t[op.tensors[0]].grad;  // back from [cout][taps][cin_g] to [cout][cin_g][taps]
  for (int64_t o = 0; o < d.groups * d.cout_g; ++o) {
    for (int64_t ci = 0; ci < d.cin_g; ++ci) {
      for (int64_t tap = 0; tap < d.taps; ++tap)
        wgrad[(o * d.cin_g + ci) * d.taps + tap] = sum[(o * d.taps + tap) * d.cin_g + ci];
    }
  }
  if (has_bias) std::copy(sum.begin() + weight.size(), sum.end(), t[op.tensors[1]].grad.begin());
}

}  // namespace arq::train
