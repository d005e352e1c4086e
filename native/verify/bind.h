// Bindings of the verifier, as methods of the IntPlan object (engine/int_bind.cc registers them through the guard):
//   plan.intervalBounds(lo: Float32Array, hi: Float32Array, batch, threads, labels?: Int32Array,
//                       options?: { values?: boolean (default true) })
//       [async] -> Promise<{ values: [{ lo: Float32Array, hi: Float32Array, codes: boolean }] (per plan value,
//       batch x size; with values false only the output's, the others empty), marginLower: Float64Array (batch x
//       classes; NaN without labels), verified: Uint8Array, paired: boolean (the paired plan computed them) }>
//   plan.verifyBoxes({ lo, hi, labels: Int32Array, timeoutMs, maxSplits?, threads, cancel?: CancelFlag,
//                      onProgress?: (done) => void, concretePoints?: boolean (default true) })
//       [async] -> Promise<{ outcome: Int8Array, stage: Int8Array, splits: Float64Array, seconds: Float64Array,
//       counterexample: Float32Array (boxes x input size, NaN where none) }>; onProgress runs on the main thread after
//       each finished box (the last calls may arrive after the promise settles; an exception it throws is dropped).
// lo and hi hold batch (boxes) images of the plan's input size with 0 <= lo <= hi <= 1 elementwise; labels lie in
// [0, classes); threads in [1, 256]; timeoutMs > 0; maxSplits >= 0. TypeError/RangeError name the offending argument
// (and the element of lo/hi); a RangeError when the call would pass the plan's memory limit.
#pragma once

#include <napi.h>

#include <memory>

#include "common/cpu.h"
#include "engine/int_plan.h"
#include "verify/bounds.h"

namespace arq::verify {

// One plan's interval propagator with its paired plan (bounds.h), built by the first verifier call on the plan, so
// that the split weights are packed once per plan rather than once per call; rebuilt when the active ISA changes
// (the kernels are chosen when it is built). Owned by the plan's JS object; used on the main thread.
class PropagatorCache {
 public:
  std::shared_ptr<const IntervalPropagator> get(const engine::IntPlan& plan);

 private:
  std::shared_ptr<const IntervalPropagator> propagator_;
  Isa isa_ = Isa::kScalar;
};

Napi::Value queue_interval_bounds(const Napi::CallbackInfo& info, const char* where,
                                  std::shared_ptr<const engine::IntPlan> plan, PropagatorCache& cache);
Napi::Value queue_verify_boxes(const Napi::CallbackInfo& info, const char* where,
                               std::shared_ptr<const engine::IntPlan> plan, PropagatorCache& cache);

}  // namespace arq::verify
