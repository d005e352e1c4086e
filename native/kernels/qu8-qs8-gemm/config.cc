// qu8-qs8-gemm dispatch and driver: the one place that picks a microkernel (with its tile and unpacker) by ISA
// level, and the single-threaded loop over row blocks, panels and row tiles that runs it.
#include <cstddef>
#include <cstdint>

#include "kernels/qu8-qs8-gemm/qgemm.h"

namespace arq::kernels {

// Microkernels and unpackers of this family (scalar.cc, 6x8c4-avx2.cc, 8x32c4-avx512vnni.cc, 12x16c4-avx512vnni.cc).
void qu8_qs8_gemm_ukernel_4x8c4__scalar(size_t m, size_t n, size_t kc, const uint8_t* a, size_t lda, const int8_t* w,
                                        void* out, size_t ldc, const RequantParams& params, bool float_out);
void qu8_qs8_gemm_ukernel_6x8c4__avx2(size_t m, size_t n, size_t kc, const uint8_t* a, size_t lda, const int8_t* w,
                                      void* out, size_t ldc, const RequantParams& params, bool float_out);
void qu8_qs8_gemm_ukernel_8x32c4__avx512vnni(size_t m, size_t n, size_t kc, const uint8_t* a, size_t lda,
                                             const int8_t* w, void* out, size_t ldc, const RequantParams& params,
                                             bool float_out);
void qu8_qs8_gemm_ukernel_8x32c4s4__avx512vnni(size_t m, size_t n, size_t kc, const uint8_t* a, size_t lda,
                                               const int8_t* w, void* out, size_t ldc, const RequantParams& params,
                                               bool float_out);
void qu8_qs8_gemm_ukernel_8x32c4s2__avx512vnni(size_t m, size_t n, size_t kc, const uint8_t* a, size_t lda,
                                               const int8_t* w, void* out, size_t ldc, const RequantParams& params,
                                               bool float_out);
void qu8_qs8_igemm_ukernel_8x32c4__avx512vnni(size_t m, size_t n, size_t taps, size_t cg, const uint8_t* const* rows,
                                              const ptrdiff_t* tap_offsets, const int8_t* w, void* out, size_t ldc,
                                              const RequantParams& params, bool float_out);
void qu8_qs8_gemm_ukernel_12x16c4__avx512vnni(size_t m, size_t n, size_t kc, const uint8_t* a, size_t lda,
                                              const int8_t* w, void* out, size_t ldc, const RequantParams& params,
                                              bool float_out);
void qu8_qs8_igemm_ukernel_12x16c4__avx512vnni(size_t m, size_t n, size_t taps, size_t cg, const uint8_t* const* rows,
                                               const ptrdiff_t* tap_offsets, const int8_t* w, void* out, size_t ldc,
                                               const RequantParams& params, bool float_out);
void qu8_qs8_sgemm_ukernel_8x32c4__avx512vnni(size_t m, size_t n, size_t taps, size_t cg, const uint8_t* a,
                                              size_t row_stride, const ptrdiff_t* tap_offsets, const int8_t* w,
                                              void* out, size_t ldc, const RequantParams& params, bool float_out);
void qu8_qs8_sgemm_ukernel_16x16c4__avx512vnni(size_t m, size_t n, size_t taps, size_t cg, const uint8_t* a,
                                               size_t row_stride, const ptrdiff_t* tap_offsets, const int8_t* w,
                                               void* out, size_t ldc, const RequantParams& params, bool float_out);
void qu8_qs8_gemm_unpack__scalar(const uint8_t* packed, int8_t* panel, size_t bytes_unpacked, int wbits);
void qu8_qs8_gemm_unpack__avx2(const uint8_t* packed, int8_t* panel, size_t bytes_unpacked, int wbits);
void qu8_qs8_gemm_unpack__avx512vnni(const uint8_t* packed, int8_t* panel, size_t bytes_unpacked, int wbits);

namespace {

const QGemmConfig kScalarConfig{
    "qu8_qs8_gemm_ukernel_4x8c4__scalar", Isa::kScalar, 4, 8, 4, qu8_qs8_gemm_ukernel_4x8c4__scalar,
    qu8_qs8_gemm_unpack__scalar};
// AVX2 has no direct sub-byte kernels: sign-extending 4-/2-bit fields in registers costs extra shifts that compete
// with vpmaddwd at every M, more than unpacking into scratch once per row block (docs/benchmarks.md).
const QGemmConfig kAvx2Config{"qu8_qs8_gemm_ukernel_6x8c4__avx2", Isa::kAvx2, 6, 8, 4, qu8_qs8_gemm_ukernel_6x8c4__avx2,
                              qu8_qs8_gemm_unpack__avx2};
// AVX-512 VNNI: direct sub-byte kernels at every M: they run at the int8 kernel's speed, while unpacking into scratch
// costs most at small M (docs/benchmarks.md).
constexpr size_t kDirectMaxTiles = SIZE_MAX;
const QGemmConfig kAvx512VnniConfig{"qu8_qs8_gemm_ukernel_8x32c4__avx512vnni",
                                    Isa::kAvx512Vnni,
                                    8,
                                    32,
                                    4,
                                    qu8_qs8_gemm_ukernel_8x32c4__avx512vnni,
                                    qu8_qs8_gemm_unpack__avx512vnni,
                                    qu8_qs8_gemm_ukernel_8x32c4s4__avx512vnni,
                                    qu8_qs8_gemm_ukernel_8x32c4s2__avx512vnni,
                                    kDirectMaxTiles,
                                    qu8_qs8_igemm_ukernel_8x32c4__avx512vnni,
                                    qu8_qs8_sgemm_ukernel_8x32c4__avx512vnni,
                                    8};
// Layers of at most 16 output columns (the 8x32 tile would compute as many zero columns as real ones); no direct
// sub-byte kernels (such panels are unpacked into scratch once per row block).
const QGemmConfig kAvx512VnniNarrowConfig{"qu8_qs8_gemm_ukernel_12x16c4__avx512vnni",
                                          Isa::kAvx512Vnni,
                                          12,
                                          16,
                                          4,
                                          qu8_qs8_gemm_ukernel_12x16c4__avx512vnni,
                                          qu8_qs8_gemm_unpack__avx512vnni,
                                          nullptr,
                                          nullptr,
                                          0,
                                          qu8_qs8_igemm_ukernel_12x16c4__avx512vnni,
                                          qu8_qs8_sgemm_ukernel_16x16c4__avx512vnni,
                                          16};

}  // namespace

const QGemmConfig& qgemm_config(Isa isa) {
  switch (isa) {
    case Isa::kAvx512Vnni:
      return kAvx512VnniConfig;
    case Isa::kAvx2:
      return kAvx2Config;
    case Isa::kScalar:
      break;
  }
  return kScalarConfig;
}

const QGemmConfig& qgemm_config(Isa isa, size_t n) {
  if (isa == Isa::kAvx512Vnni && n <= kAvx512VnniNarrowConfig.nr) return kAvx512VnniNarrowConfig;
  return qgemm_config(isa);
}

namespace {

// The panel loop of the indirect and strided drivers: per panel of nr columns, its int8 form (a sub-byte panel
// unpacked into scratch) and its columns' requant parameters, handed to tiles(panel, n0, nb, params).
template <typename Tiles>
void over_panels(const QGemmConfig& config, const QPackedWeights& w, const RequantParams& params, int8_t* scratch,
                 Tiles&& tiles) {
  for (size_t n0 = 0; n0 < w.n; n0 += config.nr) {
    const size_t nb = w.n - n0 < config.nr ? w.n - n0 : config.nr;
    const uint8_t* stored = w.data.data() + (n0 / config.nr) * w.panel_bytes;
    const int8_t* panel = reinterpret_cast<const int8_t*>(stored);
    if (qgemm_storage_bits(w.wbits) != 8) {
      config.unpack(stored, scratch, w.unpacked_bytes, w.wbits);
      panel = scratch;
    }
    const RequantParams p{params.multiplier + n0, params.bias + n0,
                          params.correction != nullptr ? params.correction + n0 : nullptr, params.min, params.max};
    tiles(panel, n0, nb, p);
  }
}

}  // namespace

void qgemm_indirect(const QGemmConfig& config, size_t m, const uint8_t* const* rows, const ptrdiff_t* tap_offsets,
                    size_t taps, size_t cg, const QPackedWeights& w, void* out, size_t ldc, const RequantParams& params,
                    bool float_out, int8_t* scratch) {
  const size_t out_elem = float_out ? sizeof(float) : sizeof(uint8_t);
  over_panels(config, w, params, scratch, [&](const int8_t* panel, size_t n0, size_t nb, const RequantParams& p) {
    for (size_t m0 = 0; m0 < m; m0 += config.mr) {
      const size_t tile = m - m0 < config.mr ? m - m0 : config.mr;
      config.iukernel(tile, nb, taps, cg, rows + m0, tap_offsets, panel,
                      static_cast<uint8_t*>(out) + (m0 * ldc + n0) * out_elem, ldc, p, float_out);
    }
  });
}

void qgemm_strided(const QGemmConfig& config, size_t m, const uint8_t* a, size_t row_stride,
                   const ptrdiff_t* tap_offsets, size_t taps, size_t cg, const QPackedWeights& w, void* out, size_t ldc,
                   const RequantParams& params, bool float_out, int8_t* scratch) {
  const size_t out_elem = float_out ? sizeof(float) : sizeof(uint8_t);
  over_panels(config, w, params, scratch, [&](const int8_t* panel, size_t n0, size_t nb, const RequantParams& p) {
    for (size_t m0 = 0; m0 < m; m0 += config.smr) {
      const size_t tile = m - m0 < config.smr ? m - m0 : config.smr;
      config.sukernel(tile, nb, taps, cg, a + m0 * row_stride, row_stride, tap_offsets, panel,
                      static_cast<uint8_t*>(out) + (m0 * ldc + n0) * out_elem, ldc, p, float_out);
    }
  });
}

// Loop order: blocks of rows of A sized to stay in L2 (kABlockBytes), then panels (a sub-byte panel is read by the
// config's direct kernel, or unpacked into scratch once per row block), then mr-row tiles, each one ukernel call over
// the whole kc, so neither blocking nor the path changes a result.
void qgemm(const QGemmConfig& config, size_t m, const uint8_t* a, size_t lda, const QPackedWeights& w, void* out,
           size_t ldc, const RequantParams& params, bool float_out, int8_t* scratch) {
  constexpr size_t kABlockBytes = 512 * 1024;
  const size_t mr = config.mr;
  const size_t nr = config.nr;
  const size_t n = w.n;
  const size_t kc = w.kc;
  const size_t out_elem = float_out ? sizeof(float) : sizeof(uint8_t);
  const int bits = qgemm_storage_bits(w.wbits);
  const QGemmUkernel direct = kc > kQGemmDirectMaxKc ? nullptr
                              : bits == 4            ? config.ukernel_s4
                              : bits == 2            ? config.ukernel_s2
                                                     : nullptr;
  size_t block_rows = kABlockBytes / kc / mr * mr;
  if (block_rows < mr) block_rows = mr;
  for (size_t mb0 = 0; mb0 < m; mb0 += block_rows) {
    const size_t mb_end = m - mb0 < block_rows ? m : mb0 + block_rows;
    for (size_t n0 = 0; n0 < n; n0 += nr) {
      const size_t nb = n - n0 < nr ? n - n0 : nr;
      const uint8_t* stored = w.data.data() + (n0 / nr) * w.panel_bytes;
      const int8_t* panel = reinterpret_cast<const int8_t*>(stored);
      QGemmUkernel ukernel = config.ukernel;
      if (bits != 8) {
        if (direct != nullptr && (mb_end - mb0 + mr - 1) / mr <= config.direct_max_tiles) {
          ukernel = direct;
        } else {
          config.unpack(stored, scratch, w.unpacked_bytes, w.wbits);
          panel = scratch;
        }
      }
      const RequantParams p{params.multiplier + n0, params.bias + n0,
                            params.correction != nullptr ? params.correction + n0 : nullptr, params.min, params.max};
      for (size_t m0 = mb0; m0 < mb_end; m0 += mr) {
        const size_t rows = mb_end - m0 < mr ? mb_end - m0 : mr;
        ukernel(rows, nb, kc, a + m0 * lda, lda, panel, static_cast<uint8_t*>(out) + (m0 * ldc + n0) * out_elem, ldc, p,
                float_out);
      }
    }
  }
}

}  // namespace arq::kernels
