// The native fp32 executor: runs a folded, shape-checked network (built by src/engine/float-plan.ts from the graph
// IR) on whole batches. Activations are stored NHWC per image; the batch is split into chunks of images that run
// the whole network on one pool thread each, so a result never depends on the batch size or the thread count.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/memory_limit.h"
#include "common/workspace_pool.h"
#include "engine/geometry.h"
#include "kernels/f32-dwconv/f32-dwconv.h"
#include "kernels/f32-gemm/f32-gemm.h"

namespace arq::engine {

// One fp32 operator: its structure plus float weights ([out][in/group][kh][kw] for conv, [out][in] for gemm).
struct OpSpec : OpGeometry {
  std::vector<float> weight, bias;  // bias may be empty
};

struct PlanSpec {
  Shape input;
  int values = 0;  // value 0 is the network input
  int output = -1;
  std::vector<OpSpec> ops;
  int64_t memory_limit = kDefaultMemoryLimit;  // bytes a single call may allocate (check_memory)
};

class FloatPlan {
 public:
  // Validates the description (value indices, topological order, shapes, finite weight sizes and values) and packs
  // weights for the kernels of the active ISA. Throws std::invalid_argument naming the op on any inconsistency, and
  // MemoryLimitError when even a one-image run would pass the memory limit.
  explicit FloatPlan(PlanSpec spec);
  ~FloatPlan();
  FloatPlan(const FloatPlan&) = delete;
  FloatPlan& operator=(const FloatPlan&) = delete;

  const Shape& input_shape() const { return input_; }
  int64_t classes() const { return output_shape_.size(); }
  std::string kernels() const;  // names of the kernels chosen

  int values() const { return static_cast<int>(shapes_.size()); }

  // What a call on `batch` images and `threads` threads allocates (the input and logits copies of the binding, the
  // per-thread workspaces, and with bins > 0 the histograms of observe_histograms), estimated from the shapes;
  // throws MemoryLimitError naming the largest item when it passes the plan's memory limit. Every entry point below
  // checks it before allocating. Returns the estimate in bytes.
  double check_memory(int64_t batch, int threads, int bins = 0) const;

  // input: batch images NCHW float32; logits: batch x classes. Runs on up to `threads` pool threads.
  void run(const float* input, int64_t batch, float* logits, int threads) const;

  // Calibration passes over every value of the plan (value 0 is the input as given). Both throw
  // std::domain_error naming the first value (in plan order) that holds a NaN or an infinity, since no range or
  // histogram describes it.
  // ranges: [min, max] per value, 2 * values() floats.
  std::vector<float> observe_ranges(const float* input, int64_t batch, int threads) const;
  // histograms: `bins` equal-width bins per value over ranges[2v]..ranges[2v+1] (finite, lo <= hi; values outside
  // fall into the end bins), values() * bins counts. Counts are exact integers, so the result never depends on the
  // thread count.
  std::vector<double> observe_histograms(const float* input, int64_t batch, int threads,
                                         const std::vector<float>& ranges, int bins) const;

 private:
  struct Op;
  struct Workspace;
  // Called with each value's data (images * size floats, NHWC) as soon as it is computed.
  using Observer = std::function<void(int value, const float* data, int64_t count)>;
  void run_chunk(const float* input, int64_t images, float* logits, Workspace& ws, const Observer* observer) const;
  // Runs the batch in chunks; observe(slot) gives the observer of a pool slot (nullptr: none).
  void run_batches(const float* input, int64_t batch, float* logits, int threads,
                   const std::function<const Observer*(int slot)>& observe) const;
  // Throws std::domain_error for the first value, in plan order, that some pool slot counted non-finite elements of
  // (nonfinite[slot][value]).
  void check_finite(const std::vector<std::vector<int64_t>>& nonfinite, int64_t batch) const;

  Shape input_;
  Shape output_shape_;
  int output_value_ = -1;
  std::vector<Shape> shapes_;       // per value
  std::vector<int> slot_of_;        // value -> buffer slot
  std::vector<int64_t> slot_size_;  // floats per image per slot
  int64_t col_size_ = 0;            // im2col floats per row block
  std::vector<int> producer_;       // value -> the op computing it (-1: the input)
  std::string largest_;             // the largest value, named for memory messages
  int64_t memory_limit_ = kDefaultMemoryLimit;
  std::vector<std::unique_ptr<Op>> ops_;
  const kernels::F32GemmConfig* gemm_;
  const kernels::F32DwconvConfig* dwconv_;
  WorkspacePool<Workspace> workspaces_;
};

}  // namespace arq::engine
