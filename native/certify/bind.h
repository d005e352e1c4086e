// The `sample` method both plan wrappers expose (binding code):
//   plan.sample({ image: Float32Array, sigma, seedHi, seedLo, imageIndex, firstSample, count, batch, threads,
//                 record: boolean })  [async] -> Promise<{ counts: Uint32Array, predictions: Uint8Array | null }>
// Every field is validated (TypeError/RangeError naming it); the image must have the plan's input size.
//
//   plan.sampleStreams({ streams: [{ image: Float32Array, imageIndex, firstSample, count, cancel?: CancelFlag }],
//                        sigma, seedHi, seedLo, batch, threads })
//       [async] -> Promise<[{ counts: Uint32Array, drawn }]>, one entry per stream: several noise streams share the
//       classifier's batches (sampler.h sample_streams). At most 65,536 streams and 2^32 samples in all; a stream
//       whose CancelFlag is set stops between batches and reports the samples it drew.
//
//   new CancelFlag()  [sync]; flag.cancel() [sync]; flag.cancelled [sync] boolean. Registered by register_bindings.
#pragma once

#include <napi.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "certify/sampler.h"

namespace arq::certify {

// Reads the request and queues the job; bind_run(batch, threads) checks the plan's memory limit for that batch and
// thread count (throwing before the image is copied) and returns the run bound to the plan (holding it alive).
Napi::Value queue_sample(const Napi::CallbackInfo& info, const char* where, int64_t input_size, int64_t classes,
                         const std::function<RunBatch(int64_t batch, int threads)>& bind_run);

Napi::Value queue_sample_streams(const Napi::CallbackInfo& info, const char* where, int64_t input_size, int64_t classes,
                                 const std::function<RunBatch(int64_t batch, int threads)>& bind_run);

// The flag of a CancelFlag object (TypeError naming `where` for anything else), for native loops to poll.
std::shared_ptr<const std::atomic<bool>> cancel_flag(Napi::Env env, const Napi::Value& value, const std::string& where);

void register_bindings(Napi::Env env, Napi::Object exports);

}  // namespace arq::certify
