// The batch-inference job both executors' bindings queue: the input copied on the JS thread, `run` (a closure that
// holds its plan alive) called on a libuv thread, logits handed back as a Float32Array.
#pragma once

#include <napi.h>

#include <algorithm>
#include <functional>
#include <vector>

namespace arq::engine {

struct RunJob {
  std::function<void(const float* input, int64_t batch, float* logits)> run;
  std::vector<float> input;
  int64_t batch = 0;
  int64_t classes = 0;
  std::vector<float> logits;

  void execute() {
    logits.resize(static_cast<size_t>(batch * classes));
    run(input.data(), batch, logits.data());
  }
  Napi::Value result(Napi::Env env) {
    auto array = Napi::Float32Array::New(env, logits.size());
    std::copy(logits.begin(), logits.end(), array.Data());
    return array;
  }
};

}  // namespace arq::engine
