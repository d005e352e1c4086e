// The integer executor: runs a network under a per-layer quantization policy exactly as quantization.md defines it
// (semantics in int_semantics.h), on the qu8-qs8 kernels, whole batches at a time. Activations between operators
// are uint8 carrier codes (NHWC per image); the network input and the elementwise operators before the first layer
// stay float32 until the first layer quantizes them onto its own grid. Results are identical whatever the batch
// size, the thread count and the ISA; int_reference.h computes the same outputs with plain loops.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/memory_limit.h"
#include "common/workspace_pool.h"
#include "engine/geometry.h"
#include "engine/int_semantics.h"
#include "kernels/qu8-elementwise/elementwise.h"
#include "kernels/qu8-qs8-dwconv/qdwconv.h"
#include "kernels/qu8-qs8-gemm/qgemm.h"

namespace arq::engine {

struct IntOpSpec : OpGeometry {
  std::vector<int8_t> weight;        // conv/gemm: codes, [out][in/group][kh][kw] or [out][in]
  int wbits = 8;
  std::vector<float> weight_scales;  // per output channel
  std::vector<float> bias;           // float32, may be empty
  Grid input_grid;                   // the layer's own input grid (bits = abits)
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
  bool float_in = false;   // conv/gemm reading a float value (quantized while packing), or a float-prefix op
  bool float_out = false;  // conv/gemm writing float logits
  LayerConstants layer;    // conv/gemm
  std::array<uint8_t, 256> lut{};  // conv/gemm on codes: carrier -> layer codes
  bool lut_identity = false;
  AddConstants add;        // add
  float clamp_lo = 0.0f, clamp_hi = 255.0f;  // clamp on codes
  float inv_count = 1.0f;  // global average pool
  uint8_t pad_code = 0;    // pad on codes
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

class IntPlan {
 public:
  // Validates (build_network), packs, and throws MemoryLimitError when even a one-image run would pass the limit.
  explicit IntPlan(IntPlanSpec spec);
  ~IntPlan();
  IntPlan(const IntPlan&) = delete;
  IntPlan& operator=(const IntPlan&) = delete;

  const IntNetwork& network() const { return net_; }
  int64_t classes() const { return net_.layout.output.size(); }
  std::string kernels() const;

  // What a run of `batch` images on `threads` threads allocates (the binding's input and logits copies, the
  // per-thread workspaces), estimated from the shapes; throws MemoryLimitError naming the largest item when it passes
  // the plan's memory limit, else returns the estimate in bytes. run() checks it before allocating.
  double check_memory(int64_t batch, int threads) const;

  // input: batch images NCHW float32; logits: batch x classes. Runs on up to `threads` pool threads.
  // op_seconds (optional): resized to ops + 2 and filled with the seconds each step took, summed over the threads
  // (thread-seconds): [0] the input's NCHW -> NHWC layout, [1 + i] op i (a residual add fused into its conv is
  // counted in the conv and reads 0), [ops + 1] the logits' conversion. Two clock reads per op and image chunk.
  void run(const float* input, int64_t batch, float* logits, int threads,
           std::vector<double>* op_seconds = nullptr) const;

 private:
  struct Layer;
  struct Workspace;
  void run_chunk(const float* input, int64_t images, float* logits, Workspace& ws, double* op_seconds) const;

  IntNetwork net_;
  std::vector<std::unique_ptr<Layer>> layers_;  // per op: packed weights (conv/gemm)
  const kernels::QGemmConfig* gemm_;
  const kernels::QDwconvConfig* dwconv_;
  const kernels::ElementwiseConfig* elementwise_;
  size_t col_bytes_ = 0;      // im2col buffer per row block
  size_t scratch_bytes_ = 0;  // qgemm scratch
  size_t padded_bytes_ = 0;   // spatially padded input of an indirect conv, per image
  bool input_nchw_ = false;   // the network input is read as NCHW by its only reader (no transpose)
  std::vector<bool> nchw_;    // per value: a float value kept NCHW (the input's elementwise chain into a fused conv)
  // Per value: codes stored with a border of the carrier's zero point around each image (top, left, bottom, right
  // pixels), so the indirect convs reading it need no padded copy; all zero for a plain NHWC value. The producer
  // (an indirect conv or an add) writes the interior and the border; readers are indirect convs and adds only.
  struct Storage {
    int64_t top = 0, left = 0, bottom = 0, right = 0;
    int64_t h = 0, w = 0, c = 0;  // stored image: h x w pixels of c channels (border included)
    bool bordered() const { return top || left || bottom || right; }
    int64_t size() const { return h * w * c; }
  };
  std::vector<Storage> storage_;
  static void fill_border(uint8_t* y, int64_t images, const Storage& st, uint8_t zero);
  std::vector<int64_t> slot_floats_;  // per slot: floats per image (codes with a border may need more)
  size_t converted_bytes_ = 0;        // per image: a layer input converted to its own grid
  size_t row_out_bytes_ = 0;          // one output row of the widest op (a conv with a fused add)
  size_t sum_channels_ = 0;           // pooling accumulators: the most input channels of any op
  std::string largest_;               // the largest value, named for memory messages
  int64_t memory_limit_ = kDefaultMemoryLimit;
  WorkspacePool<Workspace> workspaces_;
};

// The plain reference of the same semantics: NCHW, naive loops, no packing; for tests (slow).
void run_reference(const IntNetwork& net, const float* input, int64_t batch, float* logits);

}  // namespace arq::engine
