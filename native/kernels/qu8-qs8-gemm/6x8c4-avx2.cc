// qu8-qs8-gemm microkernel, 6x8c4 tile, AVX2 (no VNNI): widening arithmetic with vpmaddwd, because vpmaddubsw
// saturates at int16 and a pair of u8 x s8 products can reach 2 * 255 * 127 > 32767.
// A rows are widened u8 -> s16 into a stack buffer, kChunk k at a time (once per tile, not once per column vector),
// so each k-group costs one 8-byte broadcast load per row. Per k-group of 4 the 32-byte c4 panel slice (8 columns x
// 4 k) is sign-extended into two ymm of s16 (columns 0-3 and 4-7, 4 k per column = one qword), and
// vpmaddwd(broadcast (a0..a3), w) gives per column two int32 partial sums (k0 + k1, k2 + k3) that are added up in
// the epilogue (vphaddd + vpermq). Integer sums are exact, so the order of additions does not matter.
// Epilogue = requant.h: acc - correction, cvtepi32_ps, _mm256_fmadd_ps, max/min clamp, cvtps_epi32 (default MXCSR,
// nearest even), int32 -> uint8; columns past n are masked. Compiled once per row count 1..6 and dispatched on m.
// Also the AVX2 sub-byte unpacker.
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/qu8-qs8-gemm/qgemm.h"

namespace arq::kernels {
namespace {

constexpr size_t kChunk = 512;  // k values of A widened at a time (a multiple of 4)
// Software prefetch distance along the weight stream (see 8x32c4-avx512vnni.cc; weights from DRAM at small M).
constexpr size_t kPrefetchBytes = 8192;

// dst[q] = src[q] for q < len (len a multiple of 4); reads exactly len bytes.
inline void widen(const uint8_t* src, int16_t* dst, size_t len) {
  size_t q = 0;
  for (; q + 16 <= len; q += 16) {
    _mm256_store_si256(reinterpret_cast<__m256i*>(dst + q),
                       _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + q))));
  }
  for (; q < len; q += 4) {
    int32_t v;
    std::memcpy(&v, src + q, sizeof(v));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(dst + q), _mm_cvtepu8_epi16(_mm_cvtsi32_si128(v)));
  }
}

inline int64_t load_qword(const int16_t* p) {
  int64_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

template <size_t kRows>
void gemm_rows(size_t n, size_t kc, const uint8_t* a, size_t lda, const int8_t* w, void* out, size_t ldc,
               const RequantParams& params, bool float_out) {
  alignas(32) int16_t abuf[kRows][kChunk];
  __m256i acc[kRows][2];
  for (size_t i = 0; i < kRows; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_si256();

  for (size_t k0 = 0; k0 < kc; k0 += kChunk) {
    const size_t len = kc - k0 < kChunk ? kc - k0 : kChunk;
    for (size_t i = 0; i < kRows; ++i) widen(a + i * lda + k0, abuf[i], len);
    for (size_t g = 0; g < len; g += 4, w += 32) {
      _mm_prefetch(reinterpret_cast<const char*>(w) + kPrefetchBytes, _MM_HINT_T0);
      const __m256i w0 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w)));
      const __m256i w1 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + 16)));
      for (size_t i = 0; i < kRows; ++i) {
        const __m256i va = _mm256_set1_epi64x(load_qword(abuf[i] + g));
        acc[i][0] = _mm256_add_epi32(acc[i][0], _mm256_madd_epi16(va, w0));
        acc[i][1] = _mm256_add_epi32(acc[i][1], _mm256_madd_epi16(va, w1));
      }
    }
  }

  const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n < 8 ? n : 8)), lanes);
  const __m256i vcorr =
      params.correction != nullptr ? _mm256_maskload_epi32(params.correction, mask) : _mm256_setzero_si256();
  const __m256 vm = _mm256_maskload_ps(params.multiplier, mask);
  const __m256 vb = _mm256_maskload_ps(params.bias, mask);
  const __m256 vmin = _mm256_set1_ps(params.min);
  const __m256 vmax = _mm256_set1_ps(params.max);
  for (size_t i = 0; i < kRows; ++i) {
    // [c0 c1 c4 c5 | c2 c3 c6 c7] -> [c0 .. c7]
    const __m256i sums = _mm256_permute4x64_epi64(_mm256_hadd_epi32(acc[i][0], acc[i][1]), 0xD8);
    const __m256 y = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(sums, vcorr)), vm, vb);
    if (float_out) {
      _mm256_maskstore_ps(static_cast<float*>(out) + i * ldc, mask, y);
      continue;
    }
    const __m256i q = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(y, vmin), vmax));
    const __m128i q16 = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
    const __m128i q8 = _mm_packus_epi16(q16, q16);
    uint8_t* dst = static_cast<uint8_t*>(out) + i * ldc;
    if (n >= 8) {
      _mm_storel_epi64(reinterpret_cast<__m128i*>(dst), q8);
    } else {
      const uint64_t bytes = static_cast<uint64_t>(_mm_cvtsi128_si64(q8));
      std::memcpy(dst, &bytes, n);
    }
  }
}

}  // namespace

void qu8_qs8_gemm_ukernel_6x8c4__avx2(size_t m, size_t n, size_t kc, const uint8_t* a, size_t lda, const int8_t* w,
                                      void* out, size_t ldc, const RequantParams& params, bool float_out) {
  switch (m) {
    case 1:
      return gemm_rows<1>(n, kc, a, lda, w, out, ldc, params, float_out);
    case 2:
      return gemm_rows<2>(n, kc, a, lda, w, out, ldc, params, float_out);
    case 3:
      return gemm_rows<3>(n, kc, a, lda, w, out, ldc, params, float_out);
    case 4:
      return gemm_rows<4>(n, kc, a, lda, w, out, ldc, params, float_out);
    case 5:
      return gemm_rows<5>(n, kc, a, lda, w, out, ldc, params, float_out);
    default:
      return gemm_rows<6>(n, kc, a, lda, w, out, ldc, params, float_out);
  }
}

void qu8_qs8_gemm_unpack__avx2(const uint8_t* packed, int8_t* panel, size_t bytes_unpacked, int wbits) {
  const int bits = qgemm_storage_bits(wbits);
  if (bits == 8) {
    std::memcpy(panel, packed, bytes_unpacked);
    return;
  }
  const auto load = [](const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); };
  const auto store = [](int8_t* p, __m256i v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); };
  if (bits == 4) {
    const __m256i lut = _mm256_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, -8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7,
                                         -8, -7, -6, -5, -4, -3, -2, -1);
    const __m256i low = _mm256_set1_epi8(0x0F);
    for (size_t e = 0; e < bytes_unpacked; e += 128, packed += 64, panel += 128) {
      _mm_prefetch(reinterpret_cast<const char*>(packed) + kPrefetchBytes, _MM_HINT_T0);
      for (size_t h = 0; h < 2; ++h) {
        const __m256i v = load(packed + 32 * h);
        store(panel + 32 * h, _mm256_shuffle_epi8(lut, _mm256_and_si256(v, low)));
        store(panel + 64 + 32 * h, _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(v, 4), low)));
      }
    }
    return;
  }
  const __m256i lut = _mm256_setr_epi8(0, 1, -2, -1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, -2, -1, 0, 0, 0, 0, 0, 0,
                                       0, 0, 0, 0, 0, 0);
  const __m256i low = _mm256_set1_epi8(0x03);
  for (size_t e = 0; e < bytes_unpacked; e += 256, packed += 64, panel += 256) {
    _mm_prefetch(reinterpret_cast<const char*>(packed) + kPrefetchBytes, _MM_HINT_T0);
    for (size_t h = 0; h < 2; ++h) {
      const __m256i v = load(packed + 32 * h);
      store(panel + 32 * h, _mm256_shuffle_epi8(lut, _mm256_and_si256(v, low)));
      store(panel + 64 + 32 * h, _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(v, 2), low)));
      store(panel + 128 + 32 * h, _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(v, 4), low)));
      store(panel + 192 + 32 * h, _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(v, 6), low)));
    }
  }
}

}  // namespace arq::kernels
