// Per-plan reuse of the executors' workspaces (activation buffers, scratch) across run() calls. A plan used in a loop
// (certification's sampling batches, a benchmark, a server) would otherwise allocate and page-fault megabytes on
// every call. Thread-safe: concurrent runs of one plan each lease their own workspaces; a lease returns them when it
// is destroyed (also when the run throws). Workspaces only grow; they are freed with the plan.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace arq {

template <typename Workspace>
class WorkspacePool {
 public:
  class Lease {
   public:
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() { pool_.give_back(std::move(items_)); }
    Workspace& operator[](size_t i) { return *items_[i]; }

   private:
    friend class WorkspacePool;
    Lease(const WorkspacePool& pool, std::vector<std::unique_ptr<Workspace>> items)
        : pool_(pool), items_(std::move(items)) {}
    const WorkspacePool& pool_;
    std::vector<std::unique_ptr<Workspace>> items_;
  };

  // `count` workspaces: idle ones from earlier runs first, then new (default-constructed, empty) ones.
  Lease lease(size_t count) const {
    std::vector<std::unique_ptr<Workspace>> items;
    items.reserve(count);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      while (items.size() < count && !idle_.empty()) {
        items.push_back(std::move(idle_.back()));
        idle_.pop_back();
      }
    }
    while (items.size() < count) items.push_back(std::make_unique<Workspace>());
    return Lease(*this, std::move(items));
  }

 private:
  void give_back(std::vector<std::unique_ptr<Workspace>> items) const {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& item : items) idle_.push_back(std::move(item));
  }

  mutable std::mutex mutex_;
  mutable std::vector<std::unique_ptr<Workspace>> idle_;
};

}  // namespace arq
