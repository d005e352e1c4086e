// Conv and Gemm training passes. Grouped convolutions run as im2col + f32-gemm per group: the forward pass and the
// input gradient multiply by the (packed) weights, the weight gradient multiplies the transposed output gradient by
// the im2col rows of a whole chunk. Depthwise convolutions (one input and one output channel per group) run as
// direct loops over channels, where a GEMM would be one column wide.
#include <algorithm>
#include <cmath>
#include <vector>

#include "train/ops.h"

namespace arq::train {
namespace {

struct ConvDims {
  int64_t groups, cin_g, cout_g, k, pixels;  // k = cin_g * kh * kw; pixels = output H * W
};

ConvDims dims_of(const OpGeometry& s, const Pass& p) {
  ConvDims d;
  d.groups = s.group;
  d.cin_g = p.in.c / s.group;
  d.cout_g = p.out.c / s.group;
  d.k = d.cin_g * s.kernel_h * s.kernel_w;
  d.pixels = p.out.h * p.out.w;
  return d;
}

bool is_depthwise(const ConvDims& d) { return d.cin_g == 1 && d.cout_g == 1; }

// Rows of one image's im2col for group g: row p (output pixel), column (ci * kh + i) * kw + j, as the weights.
void im2col(const OpGeometry& s, const Pass& p, const ConvDims& d, int64_t g, const float* image, float* col) {
  for (int64_t oh = 0; oh < p.out.h; ++oh) {
    for (int64_t ow = 0; ow < p.out.w; ++ow) {
      float* row = col + (oh * p.out.w + ow) * d.k;
      for (int64_t i = 0; i < s.kernel_h; ++i) {
        const int64_t ih = oh * s.stride_h - s.pads[0] + i;
        for (int64_t j = 0; j < s.kernel_w; ++j) {
          const int64_t iw = ow * s.stride_w - s.pads[1] + j;
          const bool inside = ih >= 0 && ih < p.in.h && iw >= 0 && iw < p.in.w;
          const float* src = image + (ih * p.in.w + iw) * p.in.c + g * d.cin_g;
          for (int64_t ci = 0; ci < d.cin_g; ++ci)
            row[(ci * s.kernel_h + i) * s.kernel_w + j] = inside ? src[ci] : 0.0f;
        }
      }
    }
  }
}

// The adjoint of im2col: adds the column gradients back onto the image gradient.
void col2im_add(const OpGeometry& s, const Pass& p, const ConvDims& d, int64_t g, const float* col, float* image) {
  for (int64_t oh = 0; oh < p.out.h; ++oh) {
    for (int64_t ow = 0; ow < p.out.w; ++ow) {
      const float* row = col + (oh * p.out.w + ow) * d.k;
      engine::for_window(s, p.in, oh, ow, [&](int64_t r, int64_t tap) {
        float* dst = image + r * p.in.c + g * d.cin_g;
        for (int64_t ci = 0; ci < d.cin_g; ++ci) dst[ci] += row[ci * s.kernel_h * s.kernel_w + tap];
      });
    }
  }
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

}  // namespace

void conv_forward(const kernels::F32GemmConfig& gemm, const TrainOp& op, const Pass& p, const std::vector<Tensor>& t,
                  const float* x, float* y) {
  const ConvDims d = dims_of(op.geo, p);
  const float* bias = op.tensors.size() > 1 ? t[op.tensors[1]].value.data() : nullptr;
  if (is_depthwise(d)) {
    const std::vector<float> w = taps_major(t[op.tensors[0]].value, p.out.c, op.geo.kernel_h * op.geo.kernel_w);
    depthwise_forward(op, p, w.data(), bias, x, y);
    return;
  }
  const float* weight = t[op.tensors[0]].value.data();
  std::vector<std::vector<float>> packed(d.groups);
  for (int64_t g = 0; g < d.groups; ++g) {
    packed[g] = kernels::f32_gemm_pack(gemm, weight + g * d.cout_g * d.k, d.k,
                                       bias != nullptr ? bias + g * d.cout_g : nullptr, d.cout_g, d.k);
  }
  for_chunks(p.batch, p.threads, [&](int64_t, int64_t first, int64_t end, int) {
    const int64_t rows = (end - first) * d.pixels;
    std::vector<float> col(rows * d.k);
    for (int64_t g = 0; g < d.groups; ++g) {
      for (int64_t b = first; b < end; ++b)
        im2col(op.geo, p, d, g, x + b * p.in.size(), col.data() + (b - first) * d.pixels * d.k);
      kernels::f32_gemm(gemm, rows, d.cout_g, d.k, col.data(), d.k, packed[g].data(),
                        y + first * p.out.size() + g * d.cout_g, p.out.c, -INFINITY, INFINITY);
    }
  });
}

void conv_backward(const kernels::F32GemmConfig& gemm, const TrainOp& op, const Pass& p, std::vector<Tensor>& t,
                   const float* x, const float* dy, float* dx) {
  const ConvDims d = dims_of(op.geo, p);
  if (is_depthwise(d)) {
    depthwise_backward(op, p, t, x, dy, dx);
    return;
  }
  const bool has_bias = op.tensors.size() > 1;
  const std::vector<float>& weight = t[op.tensors[0]].value;
  // dcol = dy * W: the weights of group g are already K-major for this product ([cout_g][k]).
  std::vector<std::vector<float>> packed(d.groups);
  if (dx != nullptr) {
    for (int64_t g = 0; g < d.groups; ++g) {
      packed[g] = kernels::f32_gemm_pack_kn(gemm, weight.data() + g * d.cout_g * d.k, d.k, d.k, d.cout_g);
    }
  }
  const int64_t tasks = chunk_count(p.batch);
  const size_t part_size = weight.size() + static_cast<size_t>(p.out.c);  // weight gradient, then bias gradient
  std::vector<float> partials(tasks * part_size, 0.0f);
  for_chunks(p.batch, p.threads, [&](int64_t task, int64_t first, int64_t end, int) {
    const int64_t rows = (end - first) * d.pixels;
    std::vector<float> col(rows * d.k), dy_t(d.cout_g * rows), dcol(dx != nullptr ? rows * d.k : 0);
    float* dw = partials.data() + task * part_size;
    float* db = dw + weight.size();
    for (int64_t g = 0; g < d.groups; ++g) {
      for (int64_t b = first; b < end; ++b)
        im2col(op.geo, p, d, g, x + b * p.in.size(), col.data() + (b - first) * d.pixels * d.k);
      const float* grad = dy + first * p.out.size() + g * d.cout_g;  // row r at grad + r * out.c
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t co = 0; co < d.cout_g; ++co) dy_t[co * rows + r] = grad[r * p.out.c + co];
      }
      for (int64_t co = 0; co < d.cout_g; ++co) {
        float sum = 0.0f;
        for (int64_t r = 0; r < rows; ++r) sum += dy_t[co * rows + r];
        db[g * d.cout_g + co] = sum;
      }
      // dW_g [cout_g][k] = dy_g^T [cout_g][rows] * col [rows][k] (col is K-major for this product).
      const std::vector<float> packed_col = kernels::f32_gemm_pack_kn(gemm, col.data(), d.k, d.k, rows);
      kernels::f32_gemm(gemm, d.cout_g, d.k, rows, dy_t.data(), rows, packed_col.data(), dw + g * d.cout_g * d.k, d.k,
                        -INFINITY, INFINITY);
      if (dx != nullptr) {
        kernels::f32_gemm(gemm, rows, d.k, d.cout_g, grad, p.out.c, packed[g].data(), dcol.data(), d.k, -INFINITY,
                          INFINITY);
        for (int64_t b = first; b < end; ++b) {
          col2im_add(op.geo, p, d, g, dcol.data() + (b - first) * d.pixels * d.k, dx + b * p.in.size());
        }
      }
    }
  });
  std::vector<float> sum(part_size);
  reduce_partials(partials, tasks, part_size, sum.data());
  std::copy(sum.begin(), sum.begin() + weight.size(), t[op.tensors[0]].grad.begin());
  if (has_bias) std::copy(sum.begin() + weight.size(), sum.end(), t[op.tensors[1]].grad.begin());
}

}  // namespace arq::train
