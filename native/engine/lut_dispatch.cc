#include "engine/lut_dispatch.h"

#include <atomic>

namespace arq::engine {
namespace {

std::atomic<int> g_mode{static_cast<int>(LutDispatch::kMeasured)};

// Lookup pays for these widths at this ISA level on layers of at least min_n output channels and depth min_k.
struct LutWin {
  Isa isa;
  int wbits, abits;
  size_t min_n, min_k;
};

// From `npm run bench -- kernels --sections lowbit` (docs/benchmarks.md "Table lookup in the integer plan"): the
// lookup GEMM with its activations packed in every call against the int8 GEMM of the same level, best of
// alternating runs, at ResNet-20's shapes (M = 1024; N x K = 16 x 144, 32 x 288, 64 x 576). At avx2 W2A2 ran 0.72x /
// 1.26x / 1.79x and W4A2 0.68x / 1.11x / 1.57x; W3A3, W2A4 and W4A4 stayed below 1x. At avx512vnni (the VBMI kernel
// against VNNI) nothing reached 1x (W2A2 0.35x / 0.57x / 0.83x): the activations' packing costs more than lookup
// saves, so that level keeps the int8 path everywhere.
constexpr LutWin kWins[] = {
    {Isa::kAvx2, 2, 2, 32, 288},
    {Isa::kAvx2, 4, 2, 32, 288},
};

}  // namespace

void set_lut_dispatch(LutDispatch mode) { g_mode.store(static_cast<int>(mode), std::memory_order_relaxed); }

LutDispatch lut_dispatch() { return static_cast<LutDispatch>(g_mode.load(std::memory_order_relaxed)); }

bool use_lookup(Isa isa, int wbits, int abits, size_t n, size_t k) {
  if (wbits < 2 || wbits > kernels::kLutMaxWbits || abits < 1 || abits > kernels::kLutMaxAbits) return false;
  switch (lut_dispatch()) {
    case LutDispatch::kAlways:
      return true;
    case LutDispatch::kNever:
      return false;
    case LutDispatch::kMeasured:
      break;
  }
  for (const LutWin& win : kWins)
    if (win.isa == isa && win.wbits == wbits && win.abits == abits && n >= win.min_n && k >= win.min_k) return true;
  return false;
}

}  // namespace arq::engine
