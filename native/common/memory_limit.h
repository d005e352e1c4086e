// Bounded memory: an executor sums what a call will allocate (from shapes, batch and threads) into a MemoryBudget
// before allocating anything, and check() throws MemoryLimitError when the total passes the caller's limit. The
// message names the largest item, so a model whose one layer explodes (a conv with huge pads, thousands of
// histograms) is named in the error.
#pragma once

#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>

namespace arq {

// 2 GiB: the default limit of every plan (src/native.ts documents it; the CLI's --max-memory raises it).
constexpr int64_t kDefaultMemoryLimit = int64_t{2} << 30;

class MemoryLimitError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// "1.5 GiB", "12.0 MiB", "512 bytes".
inline std::string format_bytes(double bytes) {
  char text[32];
  if (bytes >= double(int64_t{1} << 30)) {
    std::snprintf(text, sizeof text, "%.1f GiB", bytes / double(int64_t{1} << 30));
  } else if (bytes >= double(1 << 20)) {
    std::snprintf(text, sizeof text, "%.1f MiB", bytes / double(1 << 20));
  } else {
    std::snprintf(text, sizeof text, "%.0f bytes", bytes);
  }
  return text;
}

// Items are numbered by the caller and described only when the check fails, so a check on every call of a loop
// (the sampling loop's batches) formats no strings.
class MemoryBudget {
 public:
  // Adds `bytes` (counts are multiplied in double, so no product of sizes can overflow) for the caller's item `item`.
  void add(double bytes, int item) {
    total_ += bytes;
    if (bytes > largest_) largest_ = bytes, largest_item_ = item;
  }
  double total() const { return total_; }

  // Throws MemoryLimitError when the total exceeds `limit` bytes; describe(item) names the largest item.
  template <typename Describe>
  void check(int64_t limit, Describe&& describe) const {
    if (total_ <= static_cast<double>(limit)) return;
    throw MemoryLimitError("needs about " + format_bytes(total_) + ", more than the memory limit of " +
                           format_bytes(static_cast<double>(limit)) + " (largest: " + describe(largest_item_) + ", " +
                           format_bytes(largest_) + "); raise the limit with the maxMemory option (CLI: --max-memory)");
  }

 private:
  double total_ = 0;
  double largest_ = -1;
  int largest_item_ = -1;
};

}  // namespace arq
