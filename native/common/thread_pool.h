// arq's own worker pool: every parallel loop inside a native job runs here, so a job holds one libuv thread at
// most and the thread count is arq's to choose. Results never depend on the thread count because callers split
// work into tasks whose outputs are disjoint and computed the same way whichever thread runs them.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace arq {

class ThreadPool {
 public:
  // fn(task, slot): task in [0, tasks); slot in [0, threads) identifies the participating thread, so callers can
  // keep one scratch buffer per slot.
  using TaskFn = std::function<void(int64_t task, int slot)>;

  ThreadPool() = default;
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Runs every task on up to `threads` threads (the caller is one of them) and returns when all are done.
  // Concurrent calls are serialised; a call from inside a task runs inline on the calling thread.
  // The first exception thrown by a task is rethrown here after the remaining tasks are skipped.
  void parallel_for(int64_t tasks, int threads, const TaskFn& fn);

 private:
  void ensure_workers(int count);  // requires run_mutex_
  void worker_loop(int index);
  void drain(int slot);

  std::mutex run_mutex_;  // one parallel region at a time
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  std::vector<std::thread> workers_;
  bool stopping_ = false;
  uint64_t generation_ = 0;
  // The current region (valid while a region runs):
  const TaskFn* fn_ = nullptr;
  int64_t tasks_ = 0;
  int active_workers_ = 0;
  int busy_workers_ = 0;
  int64_t next_task_ = 0;  // guarded by mutex_
  std::exception_ptr error_;
};

// How a batch of images splits into pool tasks: chunks of at most `max_chunk` images, smaller when that would leave
// threads idle; `slots` is how many threads can hold a chunk's workspace at once.
struct ImageChunks {
  int64_t chunk = 1, tasks = 0;
  int slots = 1;
};
inline ImageChunks image_chunks(int64_t batch, int threads, int64_t max_chunk) {
  ImageChunks c;
  if (threads < 1) threads = 1;
  const int64_t per_thread = (batch + threads - 1) / threads;
  c.chunk = per_thread < max_chunk ? (per_thread < 1 ? 1 : per_thread) : max_chunk;
  c.tasks = (batch + c.chunk - 1) / c.chunk;
  c.slots = static_cast<int>(c.tasks < threads ? c.tasks : threads);
  return c;
}

// The process-wide pool.
ThreadPool& global_pool();
// Default thread count: ARQ_THREADS if set, else the number of hardware threads.
int default_threads();

}  // namespace arq
