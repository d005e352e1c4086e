// qu8-qs8-dwconv kernel, 16-channel tiles, AVX-512: widening.h over 512-bit vectors (vpmulld on int32 lanes, the
// last tile through k-masks), and VNNI for 3x3 interiors (interior_3x3_vnni): 4 taps of a channel interleaved into
// each int32 lane, vpdpbusd, minus z * sum(w): the same integer. Epilogue = requant.h: cvtepi32_ps, _mm512_fmadd_ps,
// max/min clamp, cvtps_epi32 (default MXCSR, nearest even), int32 -> uint8. Interior runs of 3x3 kernels run VNNI
// blocks of 64 channels and the rest, of fewer than 32 channels, through the widening interior; 5x5 interiors and
// every other pixel run the widening path.
#include <cstddef>
#include <cstdint>

#include "common/avx512-intrinsics.h"
#include "kernels/qu8-qs8-dwconv/qdwconv.h"
#include "kernels/qu8-qs8-dwconv/widening.h"

namespace arq::kernels {
namespace {

struct Avx512 {
  using I = __m512i;
  using F = __m512;
  using Mask = __mmask16;
  static constexpr size_t kTile = 16;
  static Mask lanes(size_t rest) {
    return rest < kTile ? static_cast<Mask>((1u << rest) - 1) : static_cast<Mask>(0xFFFF);
  }
  static I load_x(const uint8_t* p, Mask mask, bool masked) {
    const __m128i bytes = masked ? _mm_maskz_loadu_epi8(mask, p) : _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    return _mm512_cvtepu8_epi32(bytes);
  }
  static I load_w(const int8_t* p) {
    return _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  static F load_params(const float* p, Mask mask) { return _mm512_maskz_loadu_ps(mask, p); }
  static void store(I acc, F m, F b, F lo, F hi, uint8_t* out, Mask mask) {
    const F y = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc), m, b);
    const I q = _mm512_cvtps_epi32(_mm512_min_ps(_mm512_max_ps(y, lo), hi));
    _mm_mask_storeu_epi8(out, mask, _mm512_cvtepi32_epi8(q));
  }
  static I zero() { return _mm512_setzero_si512(); }
  static I add(I a, I b) { return _mm512_add_epi32(a, b); }
  static I sub(I a, I b) { return _mm512_sub_epi32(a, b); }
  static I mullo(I a, I b) { return _mm512_mullo_epi32(a, b); }
  static I set1_i(int32_t v) { return _mm512_set1_epi32(v); }
  static F set1_f(float v) { return _mm512_set1_ps(v); }
};

using Widening = QDwconvWidening<Avx512>;
using Ctx = Widening::Ctx;
using Epilogue = Widening::Epilogue;
constexpr size_t kTile = Avx512::kTile;

// Interior run of a 3x3 kernel with VNNI, 64 channels at a time: vpdpbusd sums 4 products per int32 lane, so each
// lane must hold 4 taps of one channel. Per group of 4 taps, two rounds of byte/word unpacks of the 4 tap vectors
// (64 channels each) give 4 vectors whose dword d of 128-bit lane L holds taps t0..t3 of channel 16L + 4j + d (vector
// j); the weights go through the same unpacks once per run, so they line up. 9 taps = groups (0-3), (4-7), (8 + three
// zero taps). The sums are transposed back to channel order by 128-bit lanes, then acc - z * sum(w) (exact: the same
// integer as sum w * (x - z) of the other paths) and the common epilogue.
struct Quad {
  __m512i v[4];
};
inline Quad interleave_taps(__m512i t0, __m512i t1, __m512i t2, __m512i t3) {
  const __m512i lo01 = _mm512_unpacklo_epi8(t0, t1), hi01 = _mm512_unpackhi_epi8(t0, t1);
  const __m512i lo23 = _mm512_unpacklo_epi8(t2, t3), hi23 = _mm512_unpackhi_epi8(t2, t3);
  return {{_mm512_unpacklo_epi16(lo01, lo23), _mm512_unpackhi_epi16(lo01, lo23), _mm512_unpacklo_epi16(hi01, hi23),
           _mm512_unpackhi_epi16(hi01, hi23)}};
}
// Vector j holds channel 16L + 4j + d at lane L, dword d; returns channel order (vector L = channels 16L .. 16L+15).
inline Quad lanes_to_channels(const Quad& q) {
  const __m512i a = _mm512_shuffle_i32x4(q.v[0], q.v[1], 0x44), b = _mm512_shuffle_i32x4(q.v[0], q.v[1], 0xEE);
  const __m512i c = _mm512_shuffle_i32x4(q.v[2], q.v[3], 0x44), d = _mm512_shuffle_i32x4(q.v[2], q.v[3], 0xEE);
  return {{_mm512_shuffle_i32x4(a, c, 0x88), _mm512_shuffle_i32x4(a, c, 0xDD), _mm512_shuffle_i32x4(b, d, 0x88),
           _mm512_shuffle_i32x4(b, d, 0xDD)}};
}

void interior_3x3_vnni(const Ctx& c, const uint8_t* first, size_t step, size_t count, uint8_t* out_first,
                       size_t out_stride) {
  constexpr size_t kTaps = 9;
  constexpr size_t kBlock = 64;
  // Blocks of 64 channels while at least 32 remain (a block costs about as much as two 16-channel tiles of the
  // widening path, so a smaller rest goes there); bound by the byte/word unpacks, and still faster than widening
  // (docs/benchmarks.md).
  constexpr size_t kMinBlock = 32;
  const size_t tiles = (c.channels + kTile - 1) / kTile;
  size_t c0 = 0;
  for (; c.channels - c0 >= kMinBlock; c0 += kBlock) {
    const size_t rest = c.channels - c0;
    const __mmask64 mask = rest >= kBlock ? ~__mmask64{0} : (__mmask64{1} << rest) - 1;
    // Tap vectors of the block's weights (64 channels: four packed tiles of 16), interleaved like the inputs.
    __m512i tap[12];
    for (size_t t = 0; t < 12; ++t) tap[t] = _mm512_setzero_si512();
    for (size_t t = 0; t < kTaps; ++t) {
      for (size_t k = 0; k < 4 && c0 / kTile + k < tiles; ++k) {
        const __m128i w =
            _mm_loadu_si128(reinterpret_cast<const __m128i*>(c.packed + (c0 / kTile + k) * kTile * kTaps + t * kTile));
        tap[t] = _mm512_inserti32x4(tap[t], w, static_cast<int>(k));
      }
    }
    const Quad w0 = interleave_taps(tap[0], tap[1], tap[2], tap[3]);
    const Quad w1 = interleave_taps(tap[4], tap[5], tap[6], tap[7]);
    const Quad w2 = interleave_taps(tap[8], tap[9], tap[10], tap[11]);
    // z * sum of the weights per channel, in channel order, and the epilogue constants of the block's 16-channel
    // groups (those past `channels` are never stored).
    __m512i correction[4];
    Epilogue epilogue[4];
    __mmask16 store_mask[4];
    for (size_t k = 0; k < 4; ++k) {
      const size_t g0 = c0 + k * kTile;
      const size_t left = g0 < c.channels ? c.channels - g0 : 0;
      store_mask[k] = left >= kTile ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << left) - 1);
      __m512i sum = _mm512_setzero_si512();
      if (left != 0) {
        for (size_t t = 0; t < kTaps; ++t)
          sum = _mm512_add_epi32(sum, Avx512::load_w(c.packed + (g0 / kTile) * kTile * kTaps + t * kTile));
        epilogue[k] = Widening::epilogue_for(c, g0, store_mask[k]);
      }
      correction[k] = _mm512_mullo_epi32(sum, c.zero);
    }
    const uint8_t* in = first + c0;
    uint8_t* out = out_first + c0;
    for (size_t ox = 0; ox < count; ++ox, in += step, out += out_stride) {
      __m512i x[9];
      for (size_t ky = 0; ky < 3; ++ky)
        for (size_t kx = 0; kx < 3; ++kx)
          x[ky * 3 + kx] = _mm512_maskz_loadu_epi8(mask, in + ky * c.row_stride + kx * c.pixel_stride);
      const __m512i none = _mm512_setzero_si512();
      const Quad x0 = interleave_taps(x[0], x[1], x[2], x[3]);
      const Quad x1 = interleave_taps(x[4], x[5], x[6], x[7]);
      const Quad x2 = interleave_taps(x[8], none, none, none);
      Quad acc;
      for (size_t j = 0; j < 4; ++j) {
        __m512i a = _mm512_dpbusd_epi32(_mm512_setzero_si512(), x0.v[j], w0.v[j]);
        a = _mm512_dpbusd_epi32(a, x1.v[j], w1.v[j]);
        acc.v[j] = _mm512_dpbusd_epi32(a, x2.v[j], w2.v[j]);
      }
      const Quad sums = lanes_to_channels(acc);
      for (size_t k = 0; k < 4 && c0 + k * kTile < c.channels; ++k) {
        Widening::store(c, epilogue[k], _mm512_sub_epi32(sums.v[k], correction[k]), out + k * kTile, store_mask[k]);
      }
    }
    if (c0 + kBlock >= c.channels) return;
  }
  Widening::interior<3, 3>(c, first, step, count, out_first, out_stride, c0);
}

}  // namespace

void qu8_qs8_dwconv_c16__avx512vnni(const QDwconvShape& s, const uint8_t* input, size_t stride_in, uint8_t input_zero,
                                    const int8_t* packed, uint8_t* output, size_t stride_out,
                                    const RequantParams& params) {
  Widening::run(s, input, stride_in, input_zero, packed, output, stride_out, params, interior_3x3_vnni,
                Widening::interior_all<5, 5>);
}

}  // namespace arq::kernels
