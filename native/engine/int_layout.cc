#include "engine/int_layout.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "engine/lut_dispatch.h"
#include "engine/nhwc_ops.h"

namespace arq::engine {
namespace {

size_t round_up(size_t value, size_t multiple) { return (value + multiple - 1) / multiple * multiple; }

// A conv/gemm: its path (depthwise, direct, indirect or im2col), its GEMM depth and its packed weights; raises the
// layout's scratch, padded and im2col buffer sizes to what it needs.
void plan_conv_gemm(const IntOp& op, Isa isa, IntLayout& layout, IntLayerPlan& layer) {
  const IntOpSpec& s = op.spec;
  const int64_t group = s.kind == OpKind::kConv ? s.group : 1;
  const int64_t in_per_group = op.in.c / group;
  const int64_t out_per_group = s.out_channels / group;
  const int64_t taps = s.kind == OpKind::kConv ? s.kernel_h * s.kernel_w : 1;
  layer.depthwise = s.kind == OpKind::kConv && in_per_group == 1 && out_per_group == 1 && !op.float_out;
  if (layer.depthwise) {
    layer.dw_packed = kernels::qdwconv_pack(*layout.dwconv, s.weight.data(), op.in.c, s.kernel_h, s.kernel_w);
    return;
  }
  const kernels::QGemmConfig& config = kernels::qgemm_config(isa, static_cast<size_t>(out_per_group));
  layer.gemm = &config;
  layer.k = static_cast<size_t>(taps * in_per_group);
  layer.kc = round_up(layer.k, config.kr);
  const bool pointwise =
      s.kind == OpKind::kGemm || (group == 1 && taps == 1 && s.stride_h == 1 && s.stride_w == 1 && s.pads[0] == 0 &&
                                  s.pads[1] == 0 && s.pads[2] == 0 && s.pads[3] == 0);
  layer.direct = pointwise && layer.k == layer.kc;
  // Indirect: ungrouped convs whose channels fill whole k-groups, or that read the float input (quantized straight
  // into a buffer whose channels are padded to whole k-groups, e.g. an RGB input's 3 to 4, with zero weights in the
  // padded channels so every sum is unchanged). Grouped convs, which no fixture has, keep im2col.
  const int64_t kr = static_cast<int64_t>(config.kr);
  const bool channels_fit = in_per_group % kr == 0;
  layer.indirect = !layer.direct && s.kind == OpKind::kConv && group == 1 && config.iukernel != nullptr &&
                   config.sukernel != nullptr && (channels_fit || op.float_in);
  layer.fused_quantize = layer.indirect && op.float_in;
  layer.cp = layer.indirect ? (in_per_group + kr - 1) / kr * kr : in_per_group;
  if (layer.cp != in_per_group) layer.k = layer.kc = static_cast<size_t>(taps * layer.cp);
  // Table lookup where the rule picks it, for layers whose GEMM rows it can pack: a pointwise layer's rows are its
  // input, read directly whatever k; an ungrouped conv on codes reads them through row pointers into its (padded)
  // input as an indirect conv does, whatever the int8 kernel has (groups must not straddle the taps).
  const kernels::LutGemmConfig& lut_config = *layout.lutgemm;
  const size_t lut_k = static_cast<size_t>(taps * in_per_group);
  const bool lut_rows = pointwise || (s.kind == OpKind::kConv && group == 1 && !op.float_in &&
                                      kernels::lutgemm_rows_fit(lut_config, static_cast<size_t>(s.kernel_h),
                                                                static_cast<size_t>(s.kernel_w * in_per_group)));
  layer.abits = s.input_grid.bits;
  layer.lookup = lut_rows && !op.float_out && group == 1 &&
                 use_lookup(isa, s.wbits, layer.abits, static_cast<size_t>(out_per_group), lut_k);
  if (layer.lookup) {
    layer.direct = pointwise;
    layer.indirect = !pointwise;
    layer.fused_quantize = false;
    layer.cp = in_per_group;
    layer.k = layer.kc = lut_k;
  }
  if (layer.lookup && pointwise) {
    layer.tap_offsets = {0};  // one tap: the whole input row
    layer.tap_bytes = lut_k;
  }
  if (!layer.depthwise && !layer.direct && !layer.lookup) {
    layer.interval = plan_interval_conv(op, isa, layer.indirect, layer.cp);
    if (layer.interval) {
      const IntervalConv& iv = *layer.interval;
      const size_t rows = layer.indirect ? static_cast<size_t>(op.out.w) : static_cast<size_t>(kConvRowBlock);
      layout.interval_floats = std::max(layout.interval_floats, 2 * rows * static_cast<size_t>(iv.outputs));
      if (!layer.indirect)
        layout.col_bytes =
            std::max(layout.col_bytes, static_cast<size_t>(kConvRowBlock) * std::max(iv.centre.kc, iv.ends.kc));
    }
  }
  // Reorder each group's weights to [out][ky][kx][in] so one im2col row (NHWC taps) is the GEMM's K.
  std::vector<int8_t> reordered(static_cast<size_t>(out_per_group * taps * in_per_group));
  std::vector<int8_t> widened;
  for (int64_t g = 0; g < group && !layer.interval; ++g) {
    reorder_conv_weights(s.weight.data(), g, out_per_group, in_per_group, taps, reordered.data());
    const int8_t* w = reordered.data();
    if (layer.cp != in_per_group) {  // zero weights for the padded channels
      widened.assign(static_cast<size_t>(out_per_group) * layer.k, 0);
      for (int64_t o = 0; o < out_per_group; ++o)
        for (int64_t t = 0; t < taps; ++t)
          std::memcpy(&widened[static_cast<size_t>((o * taps + t) * layer.cp)],
                      &reordered[static_cast<size_t>((o * taps + t) * in_per_group)],
                      static_cast<size_t>(in_per_group));
      w = widened.data();
    }
    if (layer.lookup) {  // weight-sum tables instead of panels
      layer.lut =
          kernels::lutgemm_pack_weights(lut_config, w, layer.k, static_cast<size_t>(out_per_group), layer.k, s.wbits);
      layout.index_bytes =
          std::max(layout.index_bytes, kernels::lutgemm_index_bytes(lut_config, kIndirectRows, layer.k, layer.abits));
      continue;
    }
    // An indirect conv stores even sub-byte codes as int8 panels: its GEMM runs per output row (or row block) and
    // would unpack a sub-byte panel on every call, while a conv's weights are reused across all its rows and stay in
    // cache, so the packed form saves no memory traffic. Same codes, same sums.
    const int storage_bits = layer.indirect ? 8 : s.wbits;
    layer.packed.push_back(kernels::qgemm_pack(config, w, layer.k, out_per_group, layer.k, storage_bits));
    layout.scratch_bytes = std::max(layout.scratch_bytes, kernels::qgemm_scratch_bytes(config, layer.packed.back()));
  }
  if (layer.indirect) {
    // Padded so every tap of every output pixel lies inside (rows/columns past the input are padding too).
    layer.padded_h = std::max(op.in.h + s.pads[0] + s.pads[2], (op.out.h - 1) * s.stride_h + s.kernel_h);
    layer.padded_w = std::max(op.in.w + s.pads[1] + s.pads[3], (op.out.w - 1) * s.stride_w + s.kernel_w);
    layer.pad_copy = !layer.fused_quantize && (layer.padded_h != op.in.h || layer.padded_w != op.in.w);
    // Taps in (ky, kx, c) order as the packed K: the kernel_w pixels of one kernel row are adjacent whole pixels, so
    // each kernel row is one tap of kernel_w * C bytes (fewer, longer taps for the kernel).
    layer.tap_bytes = static_cast<size_t>(s.kernel_w * layer.cp);
    if (layer.pad_copy || layer.fused_quantize)
      layout.padded_bytes =
          std::max(layout.padded_bytes, static_cast<size_t>(layer.padded_h * layer.padded_w * layer.cp));
    for (const kernels::QPackedWeights& w : layer.packed)
      layout.scratch_bytes = std::max(layout.scratch_bytes, kernels::qgemm_indirect_scratch_bytes(w));
  } else if (!layer.direct) {  // (never a lookup layer: it is direct or indirect)
    layout.col_bytes = std::max(layout.col_bytes, static_cast<size_t>(kConvRowBlock) * layer.kc);
  }
}

// Every op's kernel parameters: the input grid's quantize/convert, an add's vadd, a conv/gemm's path and weights.
void plan_layers(const IntNetwork& net, Isa isa, IntLayout& layout) {
  layout.layers.resize(net.ops.size());
  for (size_t i = 0; i < net.ops.size(); ++i) {
    const IntOp& op = net.ops[i];
    const IntOpSpec& s = op.spec;
    IntLayerPlan& layer = layout.layers[i];
    if (s.kind == OpKind::kAdd) {
      const Grid& a = *net.grids[s.inputs[0]];
      const Grid& b = *net.grids[s.inputs[1]];
      layer.vadd = {a.scale,          static_cast<float>(a.zero),
                    b.scale,          static_cast<float>(b.zero),
                    op.add.inv_scale, op.add.zero,
                    op.add.min,       op.add.max};
    }
    const Grid& g = s.input_grid;
    layer.quantize = {g.scale, static_cast<float>(-g.zero), static_cast<float>(g.levels() - g.zero), g.zero};
    if (const auto& carrier = net.grids[s.inputs[0]]) {
      layer.convert = {carrier->scale, static_cast<float>(carrier->zero), layer.quantize};
    }
    if (s.kind == OpKind::kConv || s.kind == OpKind::kGemm) plan_conv_gemm(op, isa, layout, layer);
  }
}

// Bordered storage: a code value whose readers are all indirect convs (at least one needing padding) and adds,
// written by an indirect conv or an add, carries the largest border its conv readers need.
void plan_storage(const IntNetwork& net, IntLayout& layout) {
  const size_t values = net.shapes.size();
  layout.storage.assign(values, ValueStorage{});
  std::vector<int> producer(values, -1);
  for (size_t i = 0; i < net.ops.size(); ++i)
    producer[static_cast<size_t>(net.ops[i].spec.output)] = static_cast<int>(i);
  for (size_t v = 1; v < values; ++v) {
    const int p = producer[v];
    if (p < 0 || static_cast<int>(v) == net.output || !net.grids[v]) continue;
    const IntOp& pop = net.ops[static_cast<size_t>(p)];
    const IntLayerPlan& pl = layout.layers[static_cast<size_t>(p)];
    const bool producer_ok = pop.spec.kind == OpKind::kAdd || (pl.indirect && !pl.lookup && !pop.float_out);
    if (!producer_ok) continue;
    ValueStorage st;
    bool readers_ok = true;
    for (size_t i = 0; i < net.ops.size() && readers_ok; ++i) {
      const IntOp& op = net.ops[i];
      for (size_t j = 0; j < op.spec.inputs.size(); ++j) {
        if (op.spec.inputs[j] != static_cast<int>(v)) continue;
        if (op.spec.kind == OpKind::kAdd) continue;
        const IntLayerPlan& l = layout.layers[i];
        if (j != 0 || !l.indirect || l.fused_quantize) {
          readers_ok = false;
          break;
        }
        st.top = std::max(st.top, op.spec.pads[0]);
        st.left = std::max(st.left, op.spec.pads[1]);
        st.bottom = std::max(st.bottom, l.padded_h - op.spec.pads[0] - op.in.h);
        st.right = std::max(st.right, l.padded_w - op.spec.pads[1] - op.in.w);
      }
    }
    if (!readers_ok || !st.bordered()) continue;
    const Shape& shape = net.shapes[v];
    st.h = shape.h + st.top + st.bottom;
    st.w = shape.w + st.left + st.right;
    st.c = shape.c;
    layout.storage[v] = st;
  }
  layout.slot_floats = net.layout.slot_size;
  for (size_t v = 0; v < values; ++v) {
    if (!layout.storage[v].bordered()) continue;
    int64_t& floats = layout.slot_floats[static_cast<size_t>(net.layout.slot_of[v])];
    floats = std::max(floats, (layout.storage[v].size() + 3) / 4);
  }
}

// The buffer each indirect conv's row pointers address (its bordered input, its padded copy or the input itself),
// and each conv/gemm's converted-input size.
void plan_views(const IntNetwork& net, IntLayout& layout) {
  for (size_t i = 0; i < net.ops.size(); ++i) {
    const IntOp& op = net.ops[i];
    IntLayerPlan& l = layout.layers[i];
    if (op.spec.kind != OpKind::kConv && op.spec.kind != OpKind::kGemm) continue;
    const ValueStorage& st = layout.storage[static_cast<size_t>(op.spec.inputs[0])];
    layout.converted_bytes =
        std::max(layout.converted_bytes, static_cast<size_t>(st.bordered() ? st.size() : op.in.size()));
    if (!l.indirect) continue;
    if (st.bordered()) {
      l.pad_copy = false;
      l.view_h = st.h, l.view_w = st.w, l.view_top = st.top - op.spec.pads[0], l.view_left = st.left - op.spec.pads[1];
    } else if (l.pad_copy || l.fused_quantize) {
      l.view_h = l.padded_h, l.view_w = l.padded_w;
    } else {
      l.view_h = op.in.h, l.view_w = op.in.w;
    }
    for (int64_t ky = 0; ky < op.spec.kernel_h; ++ky) l.tap_offsets.push_back(ky * l.view_w * l.cp);
    if (l.interval) {  // the halves: C of the 2C channels per pixel of the same view
      IntervalConv& iv = *l.interval;
      for (ptrdiff_t offset : l.tap_offsets) iv.half_tap_offsets.push_back(offset / 2);
      iv.half_tap_bytes = l.tap_bytes / 2;
    }
  }
  // An interval conv's centre and radius codes, per image: C channels each over the view, or over the input.
  for (size_t i = 0; i < net.ops.size(); ++i) {
    const IntLayerPlan& l = layout.layers[i];
    if (!l.interval) continue;
    const Shape& in = net.ops[i].in;
    const int64_t pixels = l.indirect ? l.view_h * l.view_w : in.h * in.w;
    layout.interval_bytes = std::max(layout.interval_bytes, static_cast<size_t>(2 * pixels * l.interval->channels));
  }
}

// Residual adds fused into the conv just before them (see IntLayerPlan::fused_add).
void plan_fused_adds(const IntNetwork& net, IntLayout& layout) {
  for (size_t i = 0; i + 1 < net.ops.size(); ++i) {
    const IntOp& conv = net.ops[i];
    const IntOp& add = net.ops[i + 1];
    IntLayerPlan& l = layout.layers[i];
    if (!l.indirect || l.lookup || conv.float_out || add.spec.kind != OpKind::kAdd || conv.spec.output == net.output)
      continue;
    const int v = conv.spec.output;
    const int a = add.spec.inputs[0], b = add.spec.inputs[1];
    if ((a == v) == (b == v)) continue;  // the conv output exactly once
    int readers = 0;
    for (const IntOp& op : net.ops)
      for (int input : op.spec.inputs) readers += input == v;
    if (readers != 1 || layout.storage[static_cast<size_t>(v)].bordered()) continue;
    // The add's output slot must not be one the conv still reads while it writes (its input, the other operand).
    const auto& slot = net.layout.slot_of;
    const int other = a == v ? b : a;
    const int y = add.spec.output;
    if (slot[static_cast<size_t>(y)] == slot[static_cast<size_t>(conv.spec.inputs[0])] ||
        slot[static_cast<size_t>(y)] == slot[static_cast<size_t>(other)])
      continue;
    l.fused_add = static_cast<int>(i + 1);
    layout.layers[i + 1].skipped = true;
  }
}

// The network input stays NCHW (no transpose) when it flows through a chain of elementwise ops (per channel, so
// layout-free), each value read once, into a conv that quantizes it straight from there.
void plan_nchw_input(const IntNetwork& net, IntLayout& layout) {
  layout.nchw.assign(net.shapes.size(), false);
  std::vector<int> chain;
  for (int value = 0;;) {
    int readers = 0, reader = -1;
    for (size_t i = 0; i < net.ops.size(); ++i)
      for (int input : net.ops[i].spec.inputs)
        if (input == value) ++readers, reader = static_cast<int>(i);
    if (readers != 1 || value == net.output) break;
    const IntOp& op = net.ops[static_cast<size_t>(reader)];
    chain.push_back(value);
    if (layout.layers[static_cast<size_t>(reader)].fused_quantize && op.spec.inputs[0] == value) {
      for (int v : chain) layout.nchw[static_cast<size_t>(v)] = true;
      break;
    }
    if (op.spec.kind != OpKind::kElementwise || op.spec.inputs.size() != 1) break;
    value = op.spec.output;
  }
  layout.input_nchw = layout.nchw[0];
}

}  // namespace

IntLayout plan_int_layout(const IntNetwork& net, Isa isa) {
  IntLayout layout;
  layout.dwconv = &kernels::qdwconv_config(isa);
  layout.elementwise = &kernels::elementwise_config(isa);
  layout.lutgemm = &kernels::lutgemm_config(isa);
  layout.interval = &kernels::interval_config(isa);
  plan_layers(net, isa, layout);
  plan_storage(net, layout);
  plan_views(net, layout);
  plan_fused_adds(net, layout);
  plan_nchw_input(net, layout);
  for (const IntOp& op : net.ops) {
    layout.row_out_bytes = std::max(layout.row_out_bytes, static_cast<size_t>(op.out.w * op.out.c));
    layout.sum_channels = std::max(layout.sum_channels, static_cast<size_t>(op.in.c));
  }
  const int largest = net.layout.largest;
  const int largest_producer = net.layout.producer[static_cast<size_t>(largest)];
  layout.largest = value_label(largest_producer,
                               largest_producer < 0 ? nullptr : &net.ops[static_cast<size_t>(largest_producer)].spec,
                               net.shapes[static_cast<size_t>(largest)]);
  return layout;
}

}  // namespace arq::engine
