// qu8-interval dispatch: the one place that picks a variant by ISA level.
#include "kernels/qu8-interval/interval.h"

namespace arq::kernels {

void qu8_interval_epilogue__scalar(size_t pixels, size_t n, const float* centre, const float* radius,
                                   const RequantParams& params, uint8_t* out);
void qu8_interval_epilogue__avx2(size_t pixels, size_t n, const float* centre, const float* radius,
                                 const RequantParams& params, uint8_t* out);
void qu8_interval_epilogue__avx512(size_t pixels, size_t n, const float* centre, const float* radius,
                                   const RequantParams& params, uint8_t* out);

namespace {
const IntervalConfig kScalar{"qu8_interval_epilogue__scalar", Isa::kScalar, qu8_interval_epilogue__scalar};
const IntervalConfig kAvx2{"qu8_interval_epilogue_x8__avx2", Isa::kAvx2, qu8_interval_epilogue__avx2};
const IntervalConfig kAvx512{"qu8_interval_epilogue_x16__avx512", Isa::kAvx512Vnni, qu8_interval_epilogue__avx512};
}  // namespace

const IntervalConfig& interval_config(Isa isa) {
  switch (isa) {
    case Isa::kAvx512Vnni:
      return kAvx512;
    case Isa::kAvx2:
      return kAvx2;
    case Isa::kScalar:
      break;
  }
  return kScalar;
}

}  // namespace arq::kernels
