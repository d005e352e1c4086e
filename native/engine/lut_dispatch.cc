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
// alternating runs, at ResNet-20's shapes (M = 1024; N x K = 16 x 144, 32 x 288, 64 x 576), two runs. avx2: W2A2
// 0.97-1.01x / 1.84-2.10x / 2.34-2.38x, W4A2 0.91-0.93x / 1.50-1.61x / 1.94-1.96x; W3A3 1.00-1.15x from N = 32 (not
// reliably faster), W2A4 and W4A4 below 1x. avx512vnni (the VBMI kernel against VNNI): W2A2 0.63-0.65x / 0.94-0.96x
// / 1.11-1.12x, every other pair below 1x from N = 32 up; and in the network (`bench profile --lookup`, ResNet-20
// W2A2) its 64-channel layers ran 0.82-0.84x on three of four (392 rows per chunk, and a lookup layer gives up the
// fused residual add and the bordered output), so that level has no entry: it keeps VNNI everywhere.
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
  // The table measured each level's own lookup kernel (an AVX-512 CPU without VBMI runs the AVX2 one: no entry).
  if (kernels::lutgemm_config(isa).isa != isa) return false;
  for (const LutWin& win : kWins)
    if (win.isa == isa && win.wbits == wbits && win.abits == abits && n >= win.min_n && k >= win.min_k) return true;
  return false;
}

}  // namespace arq::engine
