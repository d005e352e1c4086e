// The certification sampling loop (smoothing.md): for one image, batch after batch of noisy copies (native/noise,
// counter-based, so the noise of sample i is the same however the samples are split into calls and batches), run
// through a base classifier, arg-maxed (ties to the lowest class) and counted, with no JavaScript round trip per
// batch. Optionally records every sample's prediction (the IRS cache). Statistics stay in TypeScript.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

namespace arq::certify {

struct SampleRequest {
  std::vector<float> image;  // one image, NCHW, in the classifier's input space
  float sigma = 0.0f;
  uint64_t seed = 0;
  uint64_t image_index = 0;   // the noise stream: (seed, image_index, sample)
  uint64_t first_sample = 0;
  int64_t count = 0;          // samples first_sample .. first_sample + count - 1
  int64_t batch = 1;          // noisy copies per classifier call
  bool record = false;        // keep each sample's predicted class
  int threads = 1;            // noise generation is split over this many pool threads (results unchanged)
};

struct SampleResult {
  std::vector<uint32_t> counts;     // per class
  std::vector<uint8_t> predictions; // per sample when recorded (classes <= 256)
};

// run(input, batch, logits): the base classifier on `batch` images, logits [batch x classes].
using RunBatch = std::function<void(const float* input, int64_t batch, float* logits)>;

// The predicted class of one row of logits; ties go to the lowest class (numpy's argmax).
int64_t argmax_row(const float* row, int64_t classes);

// Throws std::invalid_argument on an inconsistent request (sizes, a stream beyond 2^32 samples, more than 256
// classes when recording).
SampleResult sample(const SampleRequest& request, int64_t classes, const RunBatch& run);

// One noise stream's share of a multi-stream call: samples first_sample .. first_sample + count - 1 of stream
// (seed, image_index) on its own image. `cancelled`, when set, is polled between batches: once it reads true the
// stream contributes no further samples.
struct StreamSlice {
  std::vector<float> image;
  uint64_t image_index = 0;
  uint64_t first_sample = 0;
  int64_t count = 0;
  std::shared_ptr<const std::atomic<bool>> cancelled;
};

// Several streams sampled through one classifier: each batch of `batch` noisy copies is filled from the streams in
// order (a stream's samples may straddle batches), so requests too small to fill a batch still run at full-batch
// efficiency. Every stream's counts equal those of sample() on the same (seed, image_index, samples).
struct StreamsRequest {
  std::vector<StreamSlice> streams;  // all images of one size
  float sigma = 0.0f;
  uint64_t seed = 0;
  int64_t batch = 1;
  int threads = 1;
};

struct StreamCounts {
  std::vector<uint32_t> counts;  // per class over the samples drawn
  int64_t drawn = 0;             // count, or fewer when the stream was cancelled
};

// Throws std::invalid_argument on an inconsistent request (as sample(), plus images of different sizes).
std::vector<StreamCounts> sample_streams(const StreamsRequest& request, int64_t classes, const RunBatch& run);

}  // namespace arq::certify
