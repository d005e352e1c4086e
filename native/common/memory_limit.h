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

class MemoryBudget {
 public:
  // Adds `bytes` (counts are multiplied in double, so no product of sizes can overflow) for `what`.
  void add(double bytes, const std::string& what) {
    total_ += bytes;
    if (bytes > largest_) largest_ = bytes, largest_what_ = what;
  }
  double total() const { return total_; }

  // Throws MemoryLimitError when the total exceeds `limit` bytes.
  void check(int64_t limit) const {
    if (total_ <= static_cast<double>(limit)) return;
    throw MemoryLimitError("needs about " + format_bytes(total_) + ", more than the memory limit of " +
                           format_bytes(static_cast<double>(limit)) + " (largest: " + largest_what_ + ", " +
                           format_bytes(largest_) + "); raise the limit with the maxMemory option (CLI: --max-memory)");
  }

 private:
  double total_ = 0;
  double largest_ = -1;
  std::string largest_what_;
};

}  // namespace arq
