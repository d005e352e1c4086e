#include "engine/interval_conv.h"

#include <algorithm>
#include <cstdlib>
#include <stdexcept>

#include "engine/nhwc_ops.h"

namespace arq::engine {

std::optional<IntervalConv> plan_interval_conv(const IntOp& op, Isa isa, bool indirect, int64_t cp) {
  const IntOpSpec& s = op.spec;
  if (!s.interval || s.kind != OpKind::kConv || s.group != 1 || op.float_in || op.float_out) return std::nullopt;
  if (op.in.c % 2 != 0 || s.out_channels % 2 != 0) throw std::invalid_argument("interval conv: odd channel count");
  IntervalConv iv;
  const int64_t c = op.in.c / 2, n = s.out_channels / 2, taps = s.kernel_h * s.kernel_w;
  iv.channels = c;
  iv.outputs = n;
  iv.gemm = &kernels::qgemm_config(isa, static_cast<size_t>(n));
  const int64_t kr = static_cast<int64_t>(iv.gemm->kr);
  // The indirect route reads the halves through the strided kernel, whose taps (kernel rows) must fill k-groups; the
  // layer's own buffer must hold exactly [lo | hi] per pixel.
  if (indirect && (cp != 2 * c || (s.kernel_w * c) % kr != 0 || iv.gemm->sukernel == nullptr)) return std::nullopt;
  // W from the sign split, in ONNX order [o][c][t] (row o's low-end columns hold W+, its high-end columns W-).
  std::vector<int8_t> w(static_cast<size_t>(n * c * taps));
  int64_t largest = 0;  // max_o sum_k |W[o][k]|
  for (int64_t o = 0; o < n; ++o) {
    int64_t magnitude = 0;
    for (int64_t i = 0; i < c; ++i) {
      for (int64_t t = 0; t < taps; ++t) {
        auto at = [&](int64_t row, int64_t column) {
          return s.weight[static_cast<size_t>((row * 2 * c + column) * taps + t)];
        };
        const int8_t plus = at(o, i), minus = at(o, c + i);
        if (plus < 0 || minus > 0 || at(n + o, i) != minus || at(n + o, c + i) != plus)
          throw std::invalid_argument("interval conv: the weights are not a sign split");
        const int8_t v = static_cast<int8_t>(plus + minus);
        w[static_cast<size_t>((o * c + i) * taps + t)] = v;
        magnitude += std::abs(v);
      }
    }
    largest = std::max(largest, magnitude);
  }
  // |centre sum| <= 2 * levels * sum |W| and radius sum <= levels * sum |W|: exact in float below 2^24.
  const int64_t levels = s.input_grid.levels();
  if (2 * levels * largest >= (int64_t{1} << 24)) return std::nullopt;
  std::vector<int8_t> reordered(static_cast<size_t>(n * taps * c)), absolute(reordered.size());
  reorder_conv_weights(w.data(), 0, n, c, taps, reordered.data());
  std::transform(reordered.begin(), reordered.end(), absolute.begin(),
                 [](int8_t v) { return static_cast<int8_t>(std::abs(v)); });
  iv.k = static_cast<size_t>(taps * c);
  iv.centre = kernels::qgemm_pack(*iv.gemm, reordered.data(), iv.k, static_cast<size_t>(n), iv.k, 8);
  iv.radius = kernels::qgemm_pack(*iv.gemm, absolute.data(), iv.k, static_cast<size_t>(n), iv.k, 8);
  // [W | W] in the order of the layer's own K: (ky, kx, [lo c | hi c]).
  std::vector<int8_t> doubled(static_cast<size_t>(n * 2 * c * taps)), twice(doubled.size());
  for (int64_t o = 0; o < n; ++o)
    for (int64_t e = 0; e < 2; ++e)
      std::copy_n(&w[static_cast<size_t>(o * c * taps)], c * taps,
                  &doubled[static_cast<size_t>((o * 2 + e) * c * taps)]);
  reorder_conv_weights(doubled.data(), 0, n, 2 * c, taps, twice.data());
  iv.ends_k = static_cast<size_t>(taps * 2 * c);
  iv.ends = kernels::qgemm_pack(*iv.gemm, twice.data(), iv.ends_k, static_cast<size_t>(n), iv.ends_k, 8);
  iv.ones.assign(static_cast<size_t>(n), 1.0f);
  iv.zeros.assign(static_cast<size_t>(n), 0.0f);
  for (int64_t o = 0; o < n; ++o) {
    int64_t sum = 0;
    for (int64_t k = 0; k < c * taps; ++k) sum += w[static_cast<size_t>(o * c * taps + k)];
    iv.correction.push_back(static_cast<int32_t>(2 * s.input_grid.zero * sum));
  }
  iv.multiplier.assign(op.layer.multiplier.begin(), op.layer.multiplier.begin() + n);
  iv.bias.assign(op.layer.bias.begin(), op.layer.bias.begin() + n);
  iv.min = op.layer.min;
  iv.max = op.layer.max;
  return iv;
}

bool split_ends(const uint8_t* ends, size_t pixels, size_t c, uint8_t* centre, uint8_t* radius) {
  uint16_t carry = 0;  // the OR of every lo + hi: below 256 when each fits a byte
  for (size_t p = 0; p < pixels; ++p, ends += 2 * c, centre += c, radius += c) {
    const uint8_t* lo = ends;
    const uint8_t* hi = ends + c;
    for (size_t i = 0; i < c; ++i) {
      const auto sum = static_cast<uint16_t>(lo[i] + hi[i]);
      carry |= sum;
      centre[i] = static_cast<uint8_t>(sum);
      radius[i] = static_cast<uint8_t>(hi[i] - lo[i]);
    }
  }
  return carry < 256;
}

}  // namespace arq::engine
