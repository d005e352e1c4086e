// qu8-elementwise dispatch: the one place that picks a variant by ISA level.
#include "kernels/qu8-elementwise/elementwise.h"

namespace arq::kernels {

void qu8_vadd__scalar(size_t n, const uint8_t* a, const uint8_t* b, uint8_t* y, const VaddParams& p);
void qu8_vadd__avx2(size_t n, const uint8_t* a, const uint8_t* b, uint8_t* y, const VaddParams& p);
void qu8_vadd__avx512(size_t n, const uint8_t* a, const uint8_t* b, uint8_t* y, const VaddParams& p);
void qu8_vadd__avx512vbmi(size_t n, const uint8_t* a, const uint8_t* b, uint8_t* y, const VaddParams& p);
void f32_qu8_quantize__scalar(size_t n, const float* x, uint8_t* y, const QuantizeParams& p);
void f32_qu8_quantize__avx2(size_t n, const float* x, uint8_t* y, const QuantizeParams& p);
void f32_qu8_quantize__avx512(size_t n, const float* x, uint8_t* y, const QuantizeParams& p);
void qu8_convert__scalar(size_t n, const uint8_t* x, uint8_t* y, const ConvertParams& p);
void qu8_convert__avx2(size_t n, const uint8_t* x, uint8_t* y, const ConvertParams& p);
void qu8_convert__avx512(size_t n, const uint8_t* x, uint8_t* y, const ConvertParams& p);
void qu8_lookup__scalar(size_t n, const uint8_t* x, uint8_t* y, const uint8_t* table);
void qu8_lookup__avx512vbmi(size_t n, const uint8_t* x, uint8_t* y, const uint8_t* table);
#define ARQ_QUANTIZE_INTERLEAVE(name)                                                                              \
  void name(size_t n, size_t channels, const float* x, size_t x_channel_stride, size_t x_pixel_stride, uint8_t* y, \
            size_t y_stride, uint8_t fill, const QuantizeParams& p)
ARQ_QUANTIZE_INTERLEAVE(f32_qu8_quantize_interleave__scalar);
ARQ_QUANTIZE_INTERLEAVE(f32_qu8_quantize_interleave__avx2);
ARQ_QUANTIZE_INTERLEAVE(f32_qu8_quantize_interleave__avx512);
#undef ARQ_QUANTIZE_INTERLEAVE

namespace {
// Table lookups where they beat the float conversion: always in scalar code; with AVX-512 only through VBMI's byte
// permutes (AVX2 and plain AVX-512 convert 8 or 16 codes per float step, faster than a lookup per byte). VBMI's
// permutes also widen the residual add's codes (vadd-avx512vbmi.cc).
const ElementwiseConfig kScalar{"qu8_elementwise__scalar", Isa::kScalar,        qu8_vadd__scalar,
                                f32_qu8_quantize__scalar,  qu8_convert__scalar, f32_qu8_quantize_interleave__scalar,
                                qu8_lookup__scalar};
const ElementwiseConfig kAvx2{"qu8_elementwise_x16__avx2", Isa::kAvx2,        qu8_vadd__avx2,
                              f32_qu8_quantize__avx2,      qu8_convert__avx2, f32_qu8_quantize_interleave__avx2};
const ElementwiseConfig kAvx512{
    "qu8_elementwise_x16__avx512", Isa::kAvx512Vnni,    qu8_vadd__avx512,
    f32_qu8_quantize__avx512,      qu8_convert__avx512, f32_qu8_quantize_interleave__avx512};
const ElementwiseConfig kAvx512Vbmi{"qu8_elementwise_x16__avx512vbmi",
                                    Isa::kAvx512Vnni,
                                    qu8_vadd__avx512vbmi,
                                    f32_qu8_quantize__avx512,
                                    qu8_convert__avx512,
                                    f32_qu8_quantize_interleave__avx512,
                                    qu8_lookup__avx512vbmi};
}  // namespace

const ElementwiseConfig& elementwise_config(Isa isa) { return elementwise_config(isa, has_avx512_vbmi()); }

const ElementwiseConfig& elementwise_config(Isa isa, bool vbmi) {
  switch (isa) {
    case Isa::kAvx512Vnni:
      return vbmi ? kAvx512Vbmi : kAvx512;
    case Isa::kAvx2:
      return kAvx2;
    case Isa::kScalar:
      break;
  }
  return kScalar;
}

}  // namespace arq::kernels
