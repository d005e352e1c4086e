// The integer network: a plan description (IntPlanSpec, as the bindings read it) validated into IntNetwork with every
// derived constant (int_semantics.h). The optimised executor (int_plan.h), the plain reference and the verifier read
// the same IntNetwork.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "common/memory_limit.h"
#include "engine/geometry.h"
#include "engine/int_semantics.h"

namespace arq::engine {

struct IntOpSpec : OpGeometry {
  std::vector<int8_t> weight;  // conv/gemm: codes, [out][in/group][kh][kw] or [out][in]
  int wbits = 8;
  std::vector<float> weight_scales;  // per output channel
  std::vector<float> bias;           // float32, may be empty
  Grid input_grid;                   // the layer's own input grid (bits = abits)
  // Conv of the verifier's paired plan: the input holds both ends of a box ([lo | hi] per channel) and the weights are
  // the sign split of the original's; the executor may compute it by centre and radius (interval_conv.h).
  bool interval = false;
};

struct IntPlanSpec {
  Shape input;
  int values = 0;
  int output = -1;
  // Per value: the 8-bit carrier grid, or none for a float32 value (the input, values computed from it by
  // elementwise/repeat/pad before the first layer, and the logits).
  std::vector<std::optional<Grid>> grids;
  std::vector<IntOpSpec> ops;
  int64_t memory_limit = kDefaultMemoryLimit;  // bytes a single call may allocate (IntPlan::check_memory)
};

// A validated plan with every derived constant. Shared by the optimised executor and the reference.
struct IntOp {
  IntOpSpec spec;
  Shape in, out;
  bool float_in = false;           // conv/gemm reading a float value (quantized while packing), or a float-prefix op
  bool float_out = false;          // conv/gemm writing float logits
  LayerConstants layer;            // conv/gemm
  std::array<uint8_t, 256> lut{};  // conv/gemm on codes: carrier -> layer codes
  bool lut_identity = false;
  AddConstants add;                          // add
  float clamp_lo = 0.0f, clamp_hi = 255.0f;  // clamp on codes
  float inv_count = 1.0f;                    // global average pool
  uint8_t pad_code = 0;                      // pad on codes
};

struct IntNetwork {
  Shape input;
  int output = -1;
  int64_t memory_limit = kDefaultMemoryLimit;
  std::vector<Shape> shapes;
  std::vector<std::optional<Grid>> grids;
  std::vector<IntOp> ops;
  PlanLayout layout;
};

// Validates the description and derives every constant; throws std::invalid_argument naming the op.
IntNetwork build_network(IntPlanSpec spec);

// The plain reference of the same semantics: NCHW, naive loops, no packing; for tests (slow).
void run_reference(const IntNetwork& net, const float* input, int64_t batch, float* logits);

}  // namespace arq::engine
