// The integer executor: runs a network under a per-layer quantization policy exactly as quantization.md defines it
// (semantics in int_semantics.h), on the qu8-qs8 kernels, whole batches at a time. Activations between operators
// are uint8 carrier codes (NHWC per image); the network input and the elementwise operators before the first layer
// stay float32 until the first layer quantizes them onto its own grid. Results are identical whatever the batch
// size, the thread count and the ISA; run_reference (int_network.h) computes the same outputs with plain loops.
// Construction validates (build_network, int_network.h) and plans (plan_int_layout, int_layout.h); run() executes
// that layout over chunks of images on the pool.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/workspace_pool.h"
#include "engine/int_layout.h"
#include "engine/int_network.h"

namespace arq::engine {

class IntPlan {
 public:
  // Validates (build_network), plans and packs (plan_int_layout), and throws MemoryLimitError when even a one-image
  // run would pass the limit.
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
  // The same run for a plan whose output is a carrier: codes (batch x output size, NCHW order) get the output's
  // codes themselves rather than their dequantized values (the verifier's paired plan, native/verify/bounds.h).
  // Throws std::invalid_argument for a float output.
  void run_codes(const float* input, int64_t batch, uint8_t* codes, int threads) const;

 private:
  struct Workspace;  // one pool slot's buffers
  class ChunkRun;    // one chunk of images through every op
  // run() and run_codes(): exactly one of logits and codes is non-null.
  void run_chunks(const float* input, int64_t batch, float* logits, uint8_t* codes, int threads,
                  std::vector<double>* op_seconds) const;
  IntNetwork net_;
  IntLayout layout_;
  WorkspacePool<Workspace> workspaces_;
};

}  // namespace arq::engine
