// The integer executor's planning pass: from a validated IntNetwork, everything the executor (int_plan.cc) decides
// once per plan rather than per run: each layer's kernel, path and packed weights, which values are stored with a
// zero border, which stay NCHW, which residual adds fuse into the conv before them, and the workspace buffer sizes.
// A plain struct: nothing here runs a network, and nothing in it changes after planning.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/cpu.h"
#include "engine/int_network.h"
#include "engine/interval_conv.h"
#include "kernels/qu8-elementwise/elementwise.h"
#include "kernels/qu8-interval/interval.h"
#include "kernels/qu8-qs8-dwconv/qdwconv.h"
#include "kernels/qu8-qs8-gemm/qgemm.h"
#include "kernels/qu8-qs8-lutgemm/lutgemm.h"

namespace arq::engine {

constexpr int64_t kConvRowBlock = 192;  // im2col rows per GEMM call
constexpr int64_t kIndirectRows = 512;  // row pointers per indirect GEMM call

// How one op runs. Only conv/gemm use the path fields and weights; adds use vadd; every op keeps its input grid's
// quantize/convert parameters.
struct IntLayerPlan {
  bool depthwise = false;
  bool direct = false;  // A is the input buffer itself (pointwise conv or gemm on identity-grid codes)
  // Indirect conv: the GEMM reads A through row pointers into the (padded) input, no im2col buffer.
  bool indirect = false;
  bool pad_copy = false;  // the input is first copied into a padded buffer
  // The float input is quantized straight into the padded buffer (cp channels, the padding channels and border
  // holding the layer's zero point), reading NCHW from the network input when nothing else reads it.
  bool fused_quantize = false;
  int64_t cp = 0;                      // channels per pixel of the buffer the indirect GEMM reads
  int64_t padded_h = 0, padded_w = 0;  // the conv's padded input extent (pads plus the strided reach)
  // The buffer the row pointers address: images of view_h x view_w pixels, the padded input's first pixel at
  // (view_top, view_left).
  int64_t view_h = 0, view_w = 0, view_top = 0, view_left = 0;
  // Residual add fused into an indirect conv: op index of the add that is the conv output's only reader (the next
  // op); the conv computes each output row into a row buffer and runs the add's vadd on it (the same codes, the same
  // float operations as the separate add), and the add op itself is skipped.
  int fused_add = -1;
  bool skipped = false;
  std::vector<ptrdiff_t> tap_offsets;           // per tap: byte offset from an output pixel's first tap
  size_t tap_bytes = 0;                         // bytes of A per tap (taps * tap_bytes = k)
  const kernels::QGemmConfig* gemm = nullptr;   // per layer: the panel width follows the layer's output channels
  size_t k = 0, kc = 0;                         // per-group GEMM depth, padded to the kernel's k-block
  std::vector<kernels::QPackedWeights> packed;  // per group (none for a lookup layer)
  // Table lookup (lut_dispatch.h): the GEMM is qu8-qs8-lutgemm on index bytes packed from the direct rows or the
  // indirect row pointers (one group; plain output: no border, no fused add); `packed` stays empty.
  bool lookup = false;
  int abits = 8;
  kernels::LutWeights lut;
  std::vector<int8_t> dw_packed;
  // A paired-plan conv run by centre and radius (interval_conv.h) on the indirect or the im2col route; `packed` then
  // stays empty.
  std::optional<IntervalConv> interval;
  kernels::QuantizeParams quantize{};  // float input -> layer grid
  kernels::VaddParams vadd{};          // add
  kernels::ConvertParams convert{};    // carrier -> layer grid
};

// Per value: codes stored with a border of the carrier's zero point around each image (top, left, bottom, right
// pixels), so the indirect convs reading it need no padded copy; all zero for a plain NHWC value. The producer (an
// indirect conv or an add) writes the interior and the border; readers are indirect convs and adds only.
struct ValueStorage {
  int64_t top = 0, left = 0, bottom = 0, right = 0;
  int64_t h = 0, w = 0, c = 0;  // stored image: h x w pixels of c channels (border included)
  bool bordered() const { return top || left || bottom || right; }
  int64_t size() const { return h * w * c; }
};

struct IntLayout {
  const kernels::QDwconvConfig* dwconv = nullptr;
  const kernels::ElementwiseConfig* elementwise = nullptr;
  const kernels::LutGemmConfig* lutgemm = nullptr;
  const kernels::IntervalConfig* interval = nullptr;
  std::vector<IntLayerPlan> layers;   // per op
  std::vector<ValueStorage> storage;  // per value
  std::vector<bool> nchw;   // per value: a float value kept NCHW (the input's elementwise chain into a fused conv)
  bool input_nchw = false;  // the network input is read as NCHW by its only reader (no transpose)
  std::vector<int64_t> slot_floats;  // per slot: floats per image (codes with a border may need more)
  // Workspace buffers, per pool slot.
  size_t col_bytes = 0;        // im2col buffer per row block
  size_t scratch_bytes = 0;    // qgemm scratch
  size_t padded_bytes = 0;     // per image: the spatially padded input of an indirect conv
  size_t converted_bytes = 0;  // per image: a layer input converted to its own grid
  size_t row_out_bytes = 0;    // one output row of the widest op (a conv with a fused add)
  size_t index_bytes = 0;      // a lookup layer's index bytes for kIndirectRows rows
  size_t sum_channels = 0;     // pooling accumulators: the most input channels of any op
  size_t interval_bytes = 0;   // per image: an interval conv's centre and radius codes
  size_t interval_floats = 0;  // an interval conv's raw sums, centre then radius, per output row or im2col block
  std::string largest;         // the largest value, named for memory messages
};

// Chooses the kernels of `isa`, packs the weights and derives the layout above; allocates only the plan itself.
IntLayout plan_int_layout(const IntNetwork& net, Isa isa);

}  // namespace arq::engine
