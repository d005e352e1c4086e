// The fixed split of a batch into pool tasks (kChunkImages images each, whatever the thread count) and the in-order
// reduction of per-chunk partial sums.
#pragma once

#include "common/thread_pool.h"
#include "train/train_net.h"

namespace arq::train {

inline int64_t chunk_count(int64_t batch) { return (batch + kChunkImages - 1) / kChunkImages; }

// Runs fn(task, first_image, end_image, slot) over the chunks; returns the task count.
template <typename Fn>
int64_t for_chunks(int64_t batch, int threads, Fn&& fn) {
  const int64_t tasks = chunk_count(batch);
  global_pool().parallel_for(tasks, threads, [&](int64_t task, int slot) {
    const int64_t first = task * kChunkImages;
    const int64_t end = first + kChunkImages < batch ? first + kChunkImages : batch;
    fn(task, first, end, slot);
  });
  return tasks;
}

// Sums per-chunk partials [tasks][size] in chunk order into out[size].
inline void reduce_partials(const float* partials, int64_t tasks, size_t size, float* out) {
  for (size_t i = 0; i < size; ++i) out[i] = 0.0f;
  for (int64_t task = 0; task < tasks; ++task) {
    const float* part = partials + task * size;
    for (size_t i = 0; i < size; ++i) out[i] += part[i];
  }
}
inline void reduce_partials(const std::vector<float>& partials, int64_t tasks, size_t size, float* out) {
  reduce_partials(partials.data(), tasks, size, out);
}

}  // namespace arq::train
