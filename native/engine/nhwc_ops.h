// Data-movement operators on NHWC images, shared by the fp32 and the integer executors (T = float or uint8_t):
// they only copy, so both executors compute them identically; and the conv weight reorder both plans pack from.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>

#include "engine/geometry.h"

namespace arq::engine {

// Group g's conv weights from ONNX order [out][in/g][kh][kw] to [out][kh][kw][in/g], so that one im2col row (or one
// indirect row, NHWC taps) is the GEMM's K: dst gets out_per_group rows of taps * in_per_group (T = float or int8_t).
template <typename T>
void reorder_conv_weights(const T* weight, int64_t g, int64_t out_per_group, int64_t in_per_group, int64_t taps,
                          T* dst) {
  const int64_t k = taps * in_per_group;
  for (int64_t o = 0; o < out_per_group; ++o) {
    const T* src = weight + (g * out_per_group + o) * in_per_group * taps;
    for (int64_t ci = 0; ci < in_per_group; ++ci)
      for (int64_t t = 0; t < taps; ++t) dst[o * k + t * in_per_group + ci] = src[ci * taps + t];
  }
}

// Channel c of the output is channel c mod C of the input.
template <typename T>
void repeat_channels(const T* x, T* y, int64_t pixels, int64_t channels, int64_t repeat) {
  for (int64_t p = 0; p < pixels; ++p)
    for (int64_t r = 0; r < repeat; ++r)
      std::copy(x + p * channels, x + (p + 1) * channels, y + (p * repeat + r) * channels);
}

// Spatial padding with `value`; pads = [top, left, bottom, right].
template <typename T>
void pad_spatial(const T* x, T* y, int64_t images, const Shape& in, const Shape& out, const int64_t* pads, T value) {
  std::fill(y, y + images * out.size(), value);
  for (int64_t n = 0; n < images; ++n)
    for (int64_t iy = 0; iy < in.h; ++iy) {
      const T* src = x + (n * in.h + iy) * in.w * in.c;
      std::copy(src, src + in.w * in.c, y + ((n * out.h + iy + pads[0]) * out.w + pads[1]) * out.c);
    }
}

// NHWC storage -> NCHW element order, as ONNX flattens.
template <typename T>
void flatten_nchw(const T* x, T* y, int64_t images, const Shape& in) {
  const int64_t hw = in.h * in.w;
  for (int64_t n = 0; n < images; ++n)
    for (int64_t p = 0; p < hw; ++p)
      for (int64_t c = 0; c < in.c; ++c) y[n * in.size() + c * hw + p] = x[(n * hw + p) * in.c + c];
}

// Max over each window's in-bounds taps (padding never wins).
template <typename T>
void max_pool(const T* x, T* y, int64_t images, const Shape& in, const Shape& out, const OpGeometry& s) {
  for (int64_t n = 0; n < images; ++n)
    for (int64_t oy = 0; oy < out.h; ++oy)
      for (int64_t ox = 0; ox < out.w; ++ox) {
        T* dst = y + ((n * out.h + oy) * out.w + ox) * out.c;
        std::fill(dst, dst + out.c,
                  std::numeric_limits<T>::has_infinity ? -std::numeric_limits<T>::infinity()
                                                       : std::numeric_limits<T>::lowest());
        for_window(s, in, oy, ox, [&](int64_t pixel, int64_t) {
          const T* src = x + (n * in.h * in.w + pixel) * in.c;
          for (int64_t c = 0; c < in.c; ++c) dst[c] = std::max(dst[c], src[c]);
        });
      }
}

// y = x op k (or k op x), k per channel or scalar; float only.
inline void elementwise(const float* x, float* y, int64_t pixels, int64_t channels, const OpGeometry& s) {
  const bool scalar = s.constant.size() == 1;
  for (int64_t p = 0; p < pixels; ++p)
    for (int64_t c = 0; c < channels; ++c) {
      const float a = x[p * channels + c];
      const float k = s.constant[scalar ? 0 : c];
      const float l = s.constant_first ? k : a;
      const float r = s.constant_first ? a : k;
      float v = 0.0f;
      switch (s.elementwise) {
        case ElementwiseKind::kAdd:
          v = l + r;
          break;
        case ElementwiseKind::kSub:
          v = l - r;
          break;
        case ElementwiseKind::kMul:
          v = l * r;
          break;
        case ElementwiseKind::kDiv:
          v = l / r;
          break;
      }
      y[p * channels + c] = v;
    }
}

// dst[i] = src[i] op k (k op src[i] when constant_first) for count floats: the same single float operation per
// element as elementwise(), vectorised at the widest level this CPU has (nhwc_ops.cc; a division dominated the
// integer plan's input normalisation in baseline SSE2 code).
void apply_constant(const float* src, float* dst, int64_t count, ElementwiseKind kind, bool constant_first, float k);

// The same operation on images stored NCHW (planes of hw pixels): the same float operation per element.
inline void elementwise_planes(const float* x, float* y, int64_t images, int64_t hw, int64_t channels,
                               const OpGeometry& s) {
  const bool scalar = s.constant.size() == 1;
  for (int64_t n = 0; n < images; ++n)
    for (int64_t c = 0; c < channels; ++c)
      apply_constant(x + (n * channels + c) * hw, y + (n * channels + c) * hw, hw, s.elementwise, s.constant_first,
                     s.constant[scalar ? 0 : c]);
}

}  // namespace arq::engine
