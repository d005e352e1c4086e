// How the input box reaches the integer plan: each element of a first layer's input (a Conv or Gemm reading a float
// value) is one input pixel through a chain of float32 steps (elementwise, pad, repeat, flatten), or a constant pad
// value. The branch and bound splits pixels at the boundaries of these codes, and weighs them by the first layers'
// weights.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/int_network.h"

namespace arq::verify {

class InputCodes {
 public:
  explicit InputCodes(const engine::IntNetwork& net);

  // The ops reading a float value (the first layers).
  const std::vector<int>& layers() const { return layers_; }
  // Per first layer (index into layers()), per input channel: the sum of |weight code| over the weights reading it.
  const std::vector<double>& weight_magnitude(size_t layer) const { return magnitude_[layer]; }

  // The input pixel element i of float value v is computed from, or -1 for a constant (padding).
  int64_t pixel_of(int value, int64_t i) const;
  // The engine's float32 value of element i of float value v when its pixel holds x.
  float value_at(int value, int64_t i, float x) const;

 private:
  int64_t source(int op, int64_t i) const;  // pad/repeat: the input element copied to output element i, or -1

  const engine::IntNetwork& net_;
  std::vector<int> layers_;
  std::vector<std::vector<double>> magnitude_;
};

}  // namespace arq::verify
