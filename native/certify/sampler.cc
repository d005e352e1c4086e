#include "certify/sampler.h"

#include <algorithm>
#include <stdexcept>

#include "common/cpu.h"
#include "common/thread_pool.h"
#include "noise/noise.h"

namespace arq::certify {

SampleResult sample(const SampleRequest& request, int64_t classes, const RunBatch& run) {
  if (classes < 1) throw std::invalid_argument("the classifier has no classes");
  if (request.record && classes > 256) throw std::invalid_argument("recording predictions needs at most 256 classes");
  if (request.count < 0 || request.batch < 1) throw std::invalid_argument("count must be >= 0 and batch >= 1");
  if (request.image_index >= (uint64_t{1} << 32) || request.first_sample + static_cast<uint64_t>(request.count) > (uint64_t{1} << 32)) {
    throw std::invalid_argument("image index and sample numbers must stay below 2^32");
  }
  const auto& noise = noise::noise_config(active_isa());
  const size_t elements = request.image.size();
  const int64_t batch = std::min(request.batch, std::max<int64_t>(request.count, 1));
  std::vector<float> noisy(static_cast<size_t>(batch) * elements);
  std::vector<float> logits(static_cast<size_t>(batch * classes));
  SampleResult result;
  result.counts.assign(static_cast<size_t>(classes), 0);
  if (request.record) result.predictions.resize(static_cast<size_t>(request.count));
  for (int64_t done = 0; done < request.count; done += batch) {
    const int64_t rows = std::min(batch, request.count - done);
    // Counter-based noise: each slice of samples is the same whichever thread fills it.
    const int64_t slices = std::min<int64_t>(rows, std::max(1, request.threads));
    global_pool().parallel_for(slices, request.threads, [&](int64_t slice, int) {
      const int64_t begin = rows * slice / slices, end = rows * (slice + 1) / slices;
      noise::add_gaussian(noise, request.seed, request.image_index, request.first_sample + done + begin,
                          static_cast<size_t>(end - begin), request.image.data(), elements, request.sigma,
                          noisy.data() + begin * elements);
    });
    run(noisy.data(), rows, logits.data());
    for (int64_t r = 0; r < rows; ++r) {
      const float* row = logits.data() + r * classes;
      int64_t best = 0;
      for (int64_t c = 1; c < classes; ++c) if (row[c] > row[best]) best = c;
      ++result.counts[best];
      if (request.record) result.predictions[done + r] = static_cast<uint8_t>(best);
    }
  }
  return result;
}

}  // namespace arq::certify
