#include "common/thread_pool.h"

#include <algorithm>
#include <cstdlib>

namespace arq {
namespace {
thread_local bool t_inside_region = false;
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& worker : workers_) worker.join();
}

void ThreadPool::ensure_workers(int count) {
  while (static_cast<int>(workers_.size()) < count) {
    const int index = static_cast<int>(workers_.size());
    workers_.emplace_back([this, index] { worker_loop(index); });
  }
}

void ThreadPool::drain(int slot) {
  t_inside_region = true;
  for (;;) {
    int64_t task;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (next_task_ >= tasks_ || error_) break;
      task = next_task_++;
    }
    try {
      (*fn_)(task, slot);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!error_) error_ = std::current_exception();
    }
  }
  t_inside_region = false;
}

void ThreadPool::worker_loop(int index) {
  uint64_t seen = 0;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || (generation_ != seen && index < active_workers_); });
      if (stopping_) return;
      seen = generation_;
    }
    drain(index + 1);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      --busy_workers_;
    }
    done_.notify_all();
  }
}

void ThreadPool::parallel_for(int64_t tasks, int threads, const TaskFn& fn) {
  if (tasks <= 0) return;
  threads = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(threads, tasks)));
  if (threads == 1 || t_inside_region) {
    for (int64_t task = 0; task < tasks; ++task) fn(task, 0);
    return;
  }
  std::lock_guard<std::mutex> region(run_mutex_);
  ensure_workers(threads - 1);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    fn_ = &fn;
    tasks_ = tasks;
    next_task_ = 0;
    error_ = nullptr;
    active_workers_ = threads - 1;
    busy_workers_ = threads - 1;
    ++generation_;
  }
  wake_.notify_all();
  drain(0);
  std::exception_ptr error;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&] { return busy_workers_ == 0; });
    active_workers_ = 0;
    fn_ = nullptr;
    error = error_;
    error_ = nullptr;
  }
  if (error) std::rethrow_exception(error);
}

ThreadPool& global_pool() {
  static ThreadPool pool;
  return pool;
}

int default_threads() {
  if (const char* text = std::getenv("ARQ_THREADS")) {
    const int value = std::atoi(text);
    if (value >= 1 && value <= 256) return value;
  }
  const unsigned hardware = std::thread::hardware_concurrency();
  return hardware == 0 ? 1 : static_cast<int>(hardware);
}

}  // namespace arq
