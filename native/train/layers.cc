// Batch norm, clamps, add, pools, flatten, pad, repeat and constant elementwise operators: forward and backward
// over NHWC batches.
#include <algorithm>
#include <cmath>
#include <vector>

#include "train/ops.h"

namespace arq::train {
namespace {

using engine::ElementwiseKind;

// AveragePool's divisor for one output pixel.
int64_t avg_divisor(const OpGeometry& s, const Pass& p, int64_t oh, int64_t ow) {
  if (s.count_include_pad) return s.kernel_h * s.kernel_w;
  int64_t count = 0;
  engine::for_window(s, p.in, oh, ow, [&](int64_t, int64_t) { ++count; });
  return count;
}

// y = x op k for constant k (one value or one per channel), or k op x when constant_first.
float elementwise(ElementwiseKind kind, bool constant_first, float x, float k) {
  const float a = constant_first ? k : x, b = constant_first ? x : k;
  switch (kind) {
    case ElementwiseKind::kAdd:
      return a + b;
    case ElementwiseKind::kSub:
      return a - b;
    case ElementwiseKind::kMul:
      return a * b;
    case ElementwiseKind::kDiv:
      return a / b;
  }
  return 0.0f;
}

// dy/dx of elementwise().
float elementwise_slope(ElementwiseKind kind, bool constant_first, float x, float k) {
  switch (kind) {
    case ElementwiseKind::kAdd:
      return 1.0f;
    case ElementwiseKind::kSub:
      return constant_first ? -1.0f : 1.0f;
    case ElementwiseKind::kMul:
      return k;
    case ElementwiseKind::kDiv:
      return constant_first ? -k / (x * x) : 1.0f / k;
  }
  return 0.0f;
}

// The elementwise loops below take __restrict pointers and their constants by value: with possible aliasing (dx
// against dy, a constant read through `op` against the output) the compiler would reload per element and not
// vectorise them.
ARQ_TRAIN_CLONES void clamp_forward(const float* __restrict x, float* __restrict y, int64_t n, float lo, float hi) {
  for (int64_t i = 0; i < n; ++i) y[i] = std::min(std::max(x[i], lo), hi);
}
ARQ_TRAIN_CLONES void clamp_backward(const float* __restrict x, const float* __restrict dy, float* __restrict dx,
                                     int64_t n, float lo, float hi, bool overwrite) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = dy[i];  // loaded unconditionally, so that the select is branch-free
    const float v = (x[i] > lo) & (x[i] < hi) ? g : 0.0f;
    dx[i] = overwrite ? v : dx[i] + v;
  }
}
// A buffer of n floats owned by the calling thread, kept across calls.
float* sized_row(int64_t n) {
  thread_local std::vector<float> row;
  if (static_cast<int64_t>(row.size()) < n) row.resize(n);
  return row.data();
}

// y = min(max(a + b, lo), hi) (infinite bounds without a fused clamp: the sum itself).
ARQ_TRAIN_CLONES void add_forward(const float* __restrict a, const float* __restrict b, float* __restrict y, int64_t n,
                                  float lo, float hi) {
  for (int64_t i = 0; i < n; ++i) y[i] = std::min(std::max(a[i] + b[i], lo), hi);
}
// g = dy where lo < a + b < hi, else 0: the fused clamp's backward on an add's output.
ARQ_TRAIN_CLONES void add_clamp_backward(const float* __restrict a, const float* __restrict b,
                                         const float* __restrict dy, float* __restrict g, int64_t n, float lo,
                                         float hi) {
  for (int64_t i = 0; i < n; ++i) {
    const float y = a[i] + b[i], d = dy[i];
    g[i] = (y > lo) & (y < hi) ? d : 0.0f;
  }
}
// y = min(max(x * a[c] + shift[c], lo), hi) over `pixels` rows of `channels` (the bounds infinite without a fused
// clamp: then the min and max return their argument, NaN included).
ARQ_TRAIN_CLONES void affine_rows(const float* __restrict x, float* __restrict y, int64_t pixels, int64_t channels,
                                  const float* __restrict a, const float* __restrict shift, float lo, float hi) {
  for (int64_t q = 0; q < pixels; ++q) {
    for (int64_t c = 0; c < channels; ++c) {
      y[q * channels + c] = std::min(std::max(x[q * channels + c] * a[c] + shift[c], lo), hi);
    }
  }
}
// dy where the fused clamp (kClamp) passes the gradient of its input y = x * a + shift (clamp_backward's mask), else
// 0; dy itself without one. A template argument rather than a test in the loop, which would keep it from vectorising.
template <bool kClamp>
inline float clamped_gradient(float dy, float x, float a, float shift, float lo, float hi) {
  if (!kClamp) return dy;
  const float y = x * a + shift;
  return (y > lo) & (y < hi) ? dy : 0.0f;
}
// part[c] += x[c], part[C + c] += x[c]^2 in double over `pixels` rows.
ARQ_TRAIN_CLONES void moment_rows(const float* __restrict x, int64_t pixels, int64_t channels,
                                  double* __restrict part) {
  for (int64_t q = 0; q < pixels; ++q) {
    const float* row = x + q * channels;
    for (int64_t c = 0; c < channels; ++c) {
      part[c] += row[c];
      part[channels + c] += static_cast<double>(row[c]) * row[c];
    }
  }
}
// part[c] += g, part[C + c] += g * (x[c] - mean[c]) * invstd[c] in double over `pixels` rows, g = dy[c] through
// the fused clamp (a, shift: the forward's affine map).
// The clamped row goes through a buffer (row: `channels` floats): computed in the sums' loop, the select would keep
// it from vectorising.
template <bool kClamp>
inline void gradient_moment_loop(const float* __restrict x, const float* __restrict dy, int64_t pixels,
                                 int64_t channels, const double* __restrict mean, const double* __restrict invstd,
                                 const float* __restrict a, const float* __restrict shift, float lo, float hi,
                                 float* __restrict row, double* __restrict part) {
  for (int64_t q = 0; q < pixels; ++q) {
    const float* xr = x + q * channels;
    const float* g = dy + q * channels;
    if (kClamp) {
      for (int64_t c = 0; c < channels; ++c) row[c] = clamped_gradient<kClamp>(g[c], xr[c], a[c], shift[c], lo, hi);
      g = row;
    }
    for (int64_t c = 0; c < channels; ++c) {
      part[c] += g[c];
      part[channels + c] += g[c] * ((xr[c] - mean[c]) * invstd[c]);
    }
  }
}
ARQ_TRAIN_CLONES void gradient_moment_rows(const float* __restrict x, const float* __restrict dy, int64_t pixels,
                                           int64_t channels, const double* __restrict mean,
                                           const double* __restrict invstd, const float* __restrict a,
                                           const float* __restrict shift, FusedClamp clamp, double* __restrict part) {
  if (clamp.on) {
    gradient_moment_loop<true>(x, dy, pixels, channels, mean, invstd, a, shift, clamp.lo, clamp.hi, sized_row(channels),
                               part);
  } else {
    gradient_moment_loop<false>(x, dy, pixels, channels, mean, invstd, a, shift, clamp.lo, clamp.hi, nullptr, part);
  }
}
// dx += scale[c] * (g - mean_dy[c] - (x - mu[c]) * inv[c] * mean_dyx[c]) over `pixels` rows, g = dy through the
// fused clamp.
template <bool kClamp, bool kOverwrite>
inline void batchnorm_dx_loop(const float* __restrict x, const float* __restrict dy, float* __restrict dx,
                              int64_t pixels, int64_t channels, const float* __restrict scale,
                              const float* __restrict mean_dy, const float* __restrict mean_dyx,
                              const float* __restrict mu, const float* __restrict inv, const float* __restrict shift,
                              float lo, float hi) {
  for (int64_t q = 0; q < pixels; ++q) {
    for (int64_t c = 0; c < channels; ++c) {
      const int64_t at = q * channels + c;
      const float xhat = (x[at] - mu[c]) * inv[c];
      const float g = clamped_gradient<kClamp>(dy[at], x[at], scale[c], shift[c], lo, hi);
      const float v = scale[c] * (g - mean_dy[c] - xhat * mean_dyx[c]);
      dx[at] = kOverwrite ? v : dx[at] + v;
    }
  }
}
// scale = gamma * invstd is also the forward's a.
ARQ_TRAIN_CLONES void batchnorm_dx_rows(const float* __restrict x, const float* __restrict dy, float* __restrict dx,
                                        int64_t pixels, int64_t channels, const float* __restrict scale,
                                        const float* __restrict mean_dy, const float* __restrict mean_dyx,
                                        const float* __restrict mu, const float* __restrict inv,
                                        const float* __restrict shift, FusedClamp clamp, bool overwrite) {
  const float lo = clamp.lo, hi = clamp.hi;
  if (clamp.on && overwrite) {
    batchnorm_dx_loop<true, true>(x, dy, dx, pixels, channels, scale, mean_dy, mean_dyx, mu, inv, shift, lo, hi);
  } else if (clamp.on) {
    batchnorm_dx_loop<true, false>(x, dy, dx, pixels, channels, scale, mean_dy, mean_dyx, mu, inv, shift, lo, hi);
  } else if (overwrite) {
    batchnorm_dx_loop<false, true>(x, dy, dx, pixels, channels, scale, mean_dy, mean_dyx, mu, inv, shift, lo, hi);
  } else {
    batchnorm_dx_loop<false, false>(x, dy, dx, pixels, channels, scale, mean_dy, mean_dyx, mu, inv, shift, lo, hi);
  }
}

// Per-channel sums of `terms` quantities over the batch in double: fn(image, part) adds one image's, per chunk;
// the chunks' partial sums are reduced in chunk order.
template <typename Fn>
std::vector<double> channel_sums(const Pass& p, int64_t terms, Fn&& fn) {
  const int64_t channels = p.in.c;
  const int64_t tasks = chunk_count(p.batch);
  std::vector<double> partials(tasks * terms * channels, 0.0);
  for_chunks(p.batch, p.threads, [&](int64_t task, int64_t first, int64_t end, int) {
    double* part = partials.data() + task * terms * channels;
    for (int64_t b = first; b < end; ++b) fn(b, part);
  });
  std::vector<double> sums(terms * channels, 0.0);
  for (int64_t task = 0; task < tasks; ++task) {
    for (int64_t i = 0; i < terms * channels; ++i) sums[i] += partials[task * terms * channels + i];
  }
  return sums;
}

// Calls fn(output element, input element or -1 where padded) for every element of one image's output.
template <typename Fn>
void for_copies(const OpGeometry& s, const Pass& p, Fn&& fn) {
  const bool pad = s.kind == engine::OpKind::kPad;
  for (int64_t oh = 0; oh < p.out.h; ++oh) {
    for (int64_t ow = 0; ow < p.out.w; ++ow) {
      const int64_t ih = pad ? oh - s.pads[0] : oh, iw = pad ? ow - s.pads[1] : ow;
      const bool inside = ih >= 0 && ih < p.in.h && iw >= 0 && iw < p.in.w;
      for (int64_t c = 0; c < p.out.c; ++c) {
        fn((oh * p.out.w + ow) * p.out.c + c, inside ? (ih * p.in.w + iw) * p.in.c + c % p.in.c : int64_t{-1});
      }
    }
  }
}

}  // namespace

ARQ_TRAIN_CLONES void add_into(const float* __restrict a, float* __restrict y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a[i];
}

void zero_if(bool overwrite, float* dx, int64_t n) {
  if (overwrite) std::fill(dx, dx + n, 0.0f);
}

void copy_image(const OpGeometry& s, const Pass& p, const float* in, float* out, float fill) {
  for_copies(s, p, [&](int64_t to, int64_t from) { out[to] = from < 0 ? fill : in[from]; });
}

void copy_image_backward(const OpGeometry& s, const Pass& p, const float* dy, float* dx) {
  for_copies(s, p, [&](int64_t to, int64_t from) {
    if (from >= 0) dx[from] += dy[to];
  });
}

namespace {

// The forward's affine map y = x * a + shift per channel: a = gamma * invstd, shift = beta - mean * a (the backward
// recomputes it, bit for bit, to see where a fused clamp passed the gradient).
void batchnorm_affine(const TrainOp& op, const std::vector<Tensor>& t, const std::vector<double>& mean,
                      const std::vector<double>& invstd, std::vector<float>& a, std::vector<float>& shift) {
  const std::vector<float>& gamma = t[op.tensors[0]].value;
  const std::vector<float>& beta = t[op.tensors[1]].value;
  a.resize(mean.size());
  shift.resize(mean.size());
  for (size_t c = 0; c < mean.size(); ++c) {
    a[c] = static_cast<float>(gamma[c] * invstd[c]);
    shift[c] = static_cast<float>(beta[c] - mean[c] * gamma[c] * invstd[c]);
  }
}

}  // namespace

void batchnorm_forward(const TrainOp& op, const Pass& p, std::vector<Tensor>& t, const float* x, float* y,
                       bool training, bool update_stats, std::vector<double>& mean, std::vector<double>& invstd,
                       FusedClamp clamp) {
  const int64_t channels = p.in.c, pixels = p.in.h * p.in.w;
  std::vector<float>& running_mean = t[op.tensors[2]].value;
  std::vector<float>& running_var = t[op.tensors[3]].value;
  mean.assign(channels, 0.0);
  invstd.assign(channels, 0.0);
  if (training) {
    const std::vector<double> sums = channel_sums(
        p, 2, [&](int64_t b, double* part) { moment_rows(x + b * pixels * channels, pixels, channels, part); });
    const double count = static_cast<double>(p.batch * pixels);
    for (int64_t c = 0; c < channels; ++c) {
      mean[c] = sums[c] / count;
      const double var = std::max(0.0, sums[channels + c] / count - mean[c] * mean[c]);
      invstd[c] = 1.0 / std::sqrt(var + op.epsilon);
      if (update_stats) {
        const double unbiased = count > 1 ? var * count / (count - 1) : var;
        running_mean[c] = static_cast<float>((1.0 - op.bn_momentum) * running_mean[c] + op.bn_momentum * mean[c]);
        running_var[c] = static_cast<float>((1.0 - op.bn_momentum) * running_var[c] + op.bn_momentum * unbiased);
      }
    }
  } else {
    for (int64_t c = 0; c < channels; ++c) {
      mean[c] = running_mean[c];
      invstd[c] = 1.0 / std::sqrt(static_cast<double>(running_var[c]) + op.epsilon);
    }
  }
  std::vector<float> a, shift;
  batchnorm_affine(op, t, mean, invstd, a, shift);
  for_chunks(p.batch, p.threads, [&](int64_t, int64_t first, int64_t end, int) {
    const int64_t at = first * pixels * channels;
    affine_rows(x + at, y + at, (end - first) * pixels, channels, a.data(), shift.data(), clamp.lo, clamp.hi);
  });
}

void batchnorm_backward(const TrainOp& op, const Pass& p, std::vector<Tensor>& t, const float* x, const float* dy,
                        float* dx, const std::vector<double>& mean, const std::vector<double>& invstd, bool training,
                        bool overwrite, FusedClamp clamp) {
  const int64_t channels = p.in.c, pixels = p.in.h * p.in.w;
  std::vector<float> a, shift;
  batchnorm_affine(op, t, mean, invstd, a, shift);
  // sums[c] = sum(dy), sums[C + c] = sum(dy * xhat), dy through the fused clamp
  const std::vector<double> sums = channel_sums(p, 2, [&](int64_t b, double* part) {
    const int64_t at = b * pixels * channels;
    gradient_moment_rows(x + at, dy + at, pixels, channels, mean.data(), invstd.data(), a.data(), shift.data(), clamp,
                         part);
  });
  for (int64_t c = 0; c < channels; ++c) {
    t[op.tensors[0]].grad[c] = static_cast<float>(sums[channels + c]);
    t[op.tensors[1]].grad[c] = static_cast<float>(sums[c]);
  }
  if (dx == nullptr) return;
  // dx = gamma * invstd * (dy - sum(dy) / N - xhat * sum(dy * xhat) / N); on running statistics the two means are
  // constants and drop out.
  const double count = static_cast<double>(p.batch * pixels);
  const std::vector<float>& scale = a;  // gamma * invstd
  std::vector<float> mean_dy(channels), mean_dyx(channels), mu(channels), inv(channels);
  for (int64_t c = 0; c < channels; ++c) {
    mean_dy[c] = training ? static_cast<float>(sums[c] / count) : 0.0f;
    mean_dyx[c] = training ? static_cast<float>(sums[channels + c] / count) : 0.0f;
    mu[c] = static_cast<float>(mean[c]);
    inv[c] = static_cast<float>(invstd[c]);
  }
  for_chunks(p.batch, p.threads, [&](int64_t, int64_t first, int64_t end, int) {
    const int64_t at = first * pixels * channels;
    batchnorm_dx_rows(x + at, dy + at, dx + at, (end - first) * pixels, channels, scale.data(), mean_dy.data(),
                      mean_dyx.data(), mu.data(), inv.data(), shift.data(), clamp, overwrite);
  });
}

void simple_forward(const TrainOp& op, const Pass& p, const std::vector<const float*>& xs, float* y,
                    std::vector<int32_t>& argmax, FusedClamp clamp) {
  const OpGeometry& s = op.geo;
  const float* x = xs[0];
  if (op.kind == Kind::kMaxPool) argmax.assign(p.batch * p.out.size(), 0);
  for_chunks(p.batch, p.threads, [&](int64_t, int64_t first, int64_t end, int) {
    const int64_t channels = p.in.c;
    for (int64_t b = first; b < end; ++b) {
      const float* in = x + b * p.in.size();
      float* out = y + b * p.out.size();
      switch (op.kind) {
        case Kind::kClamp:
          clamp_forward(in, out, p.in.size(), s.min, s.max);
          break;
        case Kind::kAdd:
          add_forward(in, xs[1] + b * p.in.size(), out, p.in.size(), clamp.lo, clamp.hi);
          break;
        case Kind::kElementwise: {
          const bool per_channel = s.constant.size() > 1;
          for (int64_t i = 0; i < p.in.size(); ++i) {
            out[i] = elementwise(s.elementwise, s.constant_first, in[i], s.constant[per_channel ? i % channels : 0]);
          }
          break;
        }
        case Kind::kFlatten: {  // NHWC [pixels][C] -> ONNX order [C][pixels]
          const int64_t pixels = p.in.h * p.in.w;
          for (int64_t q = 0; q < pixels; ++q) {
            for (int64_t c = 0; c < channels; ++c) out[c * pixels + q] = in[q * channels + c];
          }
          break;
        }
        case Kind::kGlobalAvgPool: {
          const int64_t pixels = p.in.h * p.in.w;
          for (int64_t c = 0; c < channels; ++c) {
            float sum = 0.0f;
            for (int64_t q = 0; q < pixels; ++q) sum += in[q * channels + c];
            out[c] = sum / static_cast<float>(pixels);
          }
          break;
        }
        case Kind::kPad:
        case Kind::kRepeat:
          copy_image(s, p, in, out, s.pad_value);
          break;
        case Kind::kMaxPool:
        case Kind::kAvgPool:
          for (int64_t oh = 0; oh < p.out.h; ++oh) {
            for (int64_t ow = 0; ow < p.out.w; ++ow) {
              const int64_t q = oh * p.out.w + ow;
              for (int64_t c = 0; c < channels; ++c) {
                float best = -INFINITY, sum = 0.0f;
                int32_t best_at = -1;
                engine::for_window(s, p.in, oh, ow, [&](int64_t r, int64_t) {
                  const float v = in[r * channels + c];
                  sum += v;
                  if (v > best || best_at < 0) best = v, best_at = static_cast<int32_t>(r);
                });
                if (op.kind == Kind::kMaxPool) {
                  out[q * channels + c] = best_at < 0 ? 0.0f : best;
                  argmax[b * p.out.size() + q * channels + c] = best_at;
                } else {
                  out[q * channels + c] = sum / static_cast<float>(avg_divisor(s, p, oh, ow));
                }
              }
            }
          }
          break;
        default:
          break;
      }
    }
  });
}

void simple_backward(const TrainOp& op, const Pass& p, const std::vector<const float*>& xs, const float* dy,
                     const std::vector<float*>& dxs, const std::vector<int32_t>& argmax,
                     const std::vector<bool>& overwrite, FusedClamp clamp) {
  const OpGeometry& s = op.geo;
  auto overwrites = [&](size_t input) { return input < overwrite.size() && overwrite[input]; };
  for_chunks(p.batch, p.threads, [&](int64_t, int64_t first, int64_t end, int) {
    const int64_t channels = p.in.c;
    for (int64_t b = first; b < end; ++b) {
      const float* in = xs[0] + b * p.in.size();
      const float* grad = dy + b * p.out.size();
      float* dx = dxs[0] != nullptr ? dxs[0] + b * p.in.size() : nullptr;
      switch (op.kind) {
        case Kind::kClamp:
          if (dx != nullptr) clamp_backward(in, grad, dx, p.in.size(), s.min, s.max, overwrites(0));
          continue;
        case Kind::kAdd: {
          size_t input = 0;
          if (clamp.on) {  // the gradient of the add's output, through the fused clamp
            // Written straight into the first input's gradient when it is that value's first contribution (and the
            // second input is another value), else into a buffer; the inputs then receive it as without a clamp.
            const bool direct = dx != nullptr && overwrites(0) && dxs[1] != dxs[0];
            float* g = direct ? dx : sized_row(p.in.size());
            add_clamp_backward(in, xs[1] + b * p.in.size(), grad, g, p.in.size(), clamp.lo, clamp.hi);
            grad = g;
            input = direct ? 1 : 0;
          }
          for (; input < dxs.size(); ++input) {
            float* d = dxs[input] != nullptr ? dxs[input] + b * p.in.size() : nullptr;
            if (d == nullptr) continue;
            if (overwrites(input)) {
              std::copy(grad, grad + p.in.size(), d);
            } else {
              add_into(grad, d, p.in.size());
            }
          }
          continue;
        }
        default:
          break;
      }
      if (dx != nullptr) zero_if(overwrites(0), dx, p.in.size());
      switch (op.kind) {
        case Kind::kElementwise: {
          if (dx == nullptr) break;
          const bool per_channel = s.constant.size() > 1;
          for (int64_t i = 0; i < p.in.size(); ++i) {
            dx[i] += grad[i] * elementwise_slope(s.elementwise, s.constant_first, in[i],
                                                 s.constant[per_channel ? i % channels : 0]);
          }
          break;
        }
        case Kind::kFlatten: {
          if (dx == nullptr) break;
          const int64_t pixels = p.in.h * p.in.w;
          for (int64_t q = 0; q < pixels; ++q) {
            for (int64_t c = 0; c < channels; ++c) dx[q * channels + c] += grad[c * pixels + q];
          }
          break;
        }
        case Kind::kGlobalAvgPool: {
          if (dx == nullptr) break;
          const int64_t pixels = p.in.h * p.in.w;
          for (int64_t q = 0; q < pixels; ++q) {
            for (int64_t c = 0; c < channels; ++c) dx[q * channels + c] += grad[c] / static_cast<float>(pixels);
          }
          break;
        }
        case Kind::kPad:
        case Kind::kRepeat:
          if (dx != nullptr) copy_image_backward(s, p, grad, dx);
          break;
        case Kind::kMaxPool:
          if (dx == nullptr) break;
          for (int64_t i = 0; i < p.out.size(); ++i) {
            const int32_t r = argmax[b * p.out.size() + i];
            if (r >= 0) dx[r * channels + i % channels] += grad[i];
          }
          break;
        case Kind::kAvgPool:
          if (dx == nullptr) break;
          for (int64_t oh = 0; oh < p.out.h; ++oh) {
            for (int64_t ow = 0; ow < p.out.w; ++ow) {
              const int64_t q = oh * p.out.w + ow;
              const float inv = 1.0f / static_cast<float>(avg_divisor(s, p, oh, ow));
              engine::for_window(s, p.in, oh, ow, [&](int64_t r, int64_t) {
                for (int64_t c = 0; c < channels; ++c) dx[r * channels + c] += grad[q * channels + c] * inv;
              });
            }
          }
          break;
        default:
          break;
      }
    }
  });
}

}  // namespace arq::train
