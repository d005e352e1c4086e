// The `sample` method both plan wrappers expose (binding code):
//   plan.sample({ image: Float32Array, sigma, seedHi, seedLo, imageIndex, firstSample, count, batch, threads,
//                 record: boolean })  [async] -> Promise<{ counts: Uint32Array, predictions: Uint8Array | null }>
// Every field is validated (TypeError/RangeError naming it); the image must have the plan's input size.
#pragma once

#include <napi.h>

#include <functional>

#include "certify/sampler.h"

namespace arq::certify {

// Reads the request and queues the job; bind_run(batch, threads) checks the plan's memory limit for that batch and
// thread count (throwing before the image is copied) and returns the run bound to the plan (holding it alive).
Napi::Value queue_sample(const Napi::CallbackInfo& info, const char* where, int64_t input_size, int64_t classes,
                         const std::function<RunBatch(int64_t batch, int threads)>& bind_run);

}  // namespace arq::certify
