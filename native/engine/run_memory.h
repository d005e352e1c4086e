// The memory of one batch call of an executor, as both plans estimate it before allocating (MemoryBudget): the
// binding's copy of the input, the logits (the job's and the JavaScript array), and one workspace per pool slot
// holding `chunk` images. A plan adds its own items from kRunOwnItems on.
#pragma once

#include <cstdint>
#include <string>

#include "common/memory_limit.h"
#include "common/thread_pool.h"

namespace arq::engine {

enum RunItem { kRunInput, kRunLogits, kRunWorkspaces, kRunOwnItems };

inline MemoryBudget run_budget(int64_t batch, int64_t input_floats, int64_t classes, const ImageChunks& chunks,
                               double workspace_bytes_per_image, double workspace_fixed_bytes) {
  MemoryBudget budget;
  budget.add(static_cast<double>(batch) * static_cast<double>(input_floats) * sizeof(float), kRunInput);
  budget.add(2.0 * static_cast<double>(batch) * static_cast<double>(classes) * sizeof(float), kRunLogits);
  budget.add(chunks.slots * (workspace_bytes_per_image * static_cast<double>(chunks.chunk) + workspace_fixed_bytes),
             kRunWorkspaces);
  return budget;
}

// Names kRunInput .. kRunWorkspaces; `largest` names the plan's largest tensor.
inline std::string run_item_name(int item, const ImageChunks& chunks, const std::string& largest) {
  switch (item) {
    case kRunInput:
      return "the input batch";
    case kRunLogits:
      return "the logits";
    default:
      return "the workspaces of " + std::to_string(chunks.slots) + " threads x " + std::to_string(chunks.chunk) +
             " images, whose largest tensor is " + largest;
  }
}

}  // namespace arq::engine
