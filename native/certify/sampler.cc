#include "certify/sampler.h"

#include <algorithm>
#include <stdexcept>

#include "common/cpu.h"
#include "common/thread_pool.h"
#include "noise/noise.h"

namespace arq::certify {
namespace {

void check_stream(uint64_t image_index, uint64_t first_sample, int64_t count) {
  if (count < 0) throw std::invalid_argument("count must be >= 0");
  if (image_index >= (uint64_t{1} << 32) || first_sample + static_cast<uint64_t>(count) > (uint64_t{1} << 32)) {
    throw std::invalid_argument("image index and sample numbers must stay below 2^32");
  }
}

}  // namespace

int64_t argmax_row(const float* row, int64_t classes) {
  int64_t best = 0;
  for (int64_t c = 1; c < classes; ++c) if (row[c] > row[best]) best = c;
  return best;
}

SampleResult sample(const SampleRequest& request, int64_t classes, const RunBatch& run) {
  if (classes < 1) throw std::invalid_argument("the classifier has no classes");
  if (request.record && classes > 256) throw std::invalid_argument("recording predictions needs at most 256 classes");
  if (request.batch < 1) throw std::invalid_argument("batch must be >= 1");
  check_stream(request.image_index, request.first_sample, request.count);
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
      const int64_t best = argmax_row(logits.data() + r * classes, classes);
      ++result.counts[best];
      if (request.record) result.predictions[done + r] = static_cast<uint8_t>(best);
    }
  }
  return result;
}

std::vector<StreamCounts> sample_streams(const StreamsRequest& request, int64_t classes, const RunBatch& run) {
  if (classes < 1) throw std::invalid_argument("the classifier has no classes");
  if (request.batch < 1) throw std::invalid_argument("batch must be >= 1");
  std::vector<StreamCounts> results(request.streams.size());
  if (request.streams.empty()) return results;
  const size_t elements = request.streams.front().image.size();
  int64_t total = 0;
  for (const StreamSlice& s : request.streams) {
    if (s.image.size() != elements) throw std::invalid_argument("every stream's image must have the same size");
    check_stream(s.image_index, s.first_sample, s.count);
    total += s.count;
  }
  for (StreamCounts& r : results) r.counts.assign(static_cast<size_t>(classes), 0);
  const auto& noise = noise::noise_config(active_isa());
  const int64_t batch = std::min(request.batch, std::max<int64_t>(total, 1));
  std::vector<float> noisy(static_cast<size_t>(batch) * elements);
  std::vector<float> logits(static_cast<size_t>(batch * classes));
  // A run of consecutive rows of one batch taken from one stream.
  struct Segment {
    size_t stream;
    int64_t row, first, rows;  // first: offset into the stream's slice
  };
  std::vector<Segment> segments;
  std::vector<Segment> tasks;
  size_t next = 0;  // the stream that fills the next row, and how far into its slice
  int64_t offset = 0;
  auto is_cancelled = [&](size_t s) {
    const auto& flag = request.streams[s].cancelled;
    return flag && flag->load(std::memory_order_relaxed);
  };
  while (true) {
    segments.clear();
    int64_t rows = 0;
    while (rows < batch && next < request.streams.size()) {
      const StreamSlice& s = request.streams[next];
      if (offset == s.count || is_cancelled(next)) {
        ++next;
        offset = 0;
        continue;
      }
      const int64_t take = std::min(batch - rows, s.count - offset);
      segments.push_back({next, rows, offset, take});
      rows += take;
      offset += take;
    }
    if (rows == 0) break;
    // Counter-based noise: each piece of a segment is the same whichever thread fills it.
    tasks.clear();
    const int threads = std::max(1, request.threads);
    for (const Segment& g : segments) {
      const int64_t pieces = std::min<int64_t>(g.rows, threads);
      for (int64_t p = 0; p < pieces; ++p) {
        const int64_t begin = g.rows * p / pieces, end = g.rows * (p + 1) / pieces;
        tasks.push_back({g.stream, g.row + begin, g.first + begin, end - begin});
      }
    }
    global_pool().parallel_for(static_cast<int64_t>(tasks.size()), threads, [&](int64_t task, int) {
      const Segment& t = tasks[static_cast<size_t>(task)];
      const StreamSlice& s = request.streams[t.stream];
      noise::add_gaussian(noise, request.seed, s.image_index, s.first_sample + static_cast<uint64_t>(t.first),
                          static_cast<size_t>(t.rows), s.image.data(), elements, request.sigma,
                          noisy.data() + t.row * static_cast<int64_t>(elements));
    });
    run(noisy.data(), rows, logits.data());
    for (const Segment& g : segments) {
      StreamCounts& r = results[g.stream];
      for (int64_t i = 0; i < g.rows; ++i) ++r.counts[static_cast<size_t>(argmax_row(logits.data() + (g.row + i) * classes, classes))];
      r.drawn += g.rows;
    }
  }
  return results;
}

}  // namespace arq::certify
