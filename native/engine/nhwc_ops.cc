#include "engine/nhwc_ops.h"

namespace arq::engine {

// One IEEE operation per element, so every clone (and the scalar reference) gives the same floats.
__attribute__((target_clones("avx512f", "avx2", "default"))) void apply_constant(const float* src, float* dst,
                                                                                 int64_t count, ElementwiseKind kind,
                                                                                 bool constant_first, float k) {
  switch (kind) {
    case ElementwiseKind::kAdd:
      for (int64_t i = 0; i < count; ++i) dst[i] = constant_first ? k + src[i] : src[i] + k;
      break;
    case ElementwiseKind::kSub:
      for (int64_t i = 0; i < count; ++i) dst[i] = constant_first ? k - src[i] : src[i] - k;
      break;
    case ElementwiseKind::kMul:
      for (int64_t i = 0; i < count; ++i) dst[i] = constant_first ? k * src[i] : src[i] * k;
      break;
    case ElementwiseKind::kDiv:
      for (int64_t i = 0; i < count; ++i) dst[i] = constant_first ? k / src[i] : src[i] / k;
      break;
  }
}

}  // namespace arq::engine
