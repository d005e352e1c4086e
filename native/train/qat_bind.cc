// Bindings for quantization-aware training (qat_net.h): QatNet is net_bind.h's NetWrap (step, gradients, predict,
// tensors, grads, classes) with what differs here:
//   new QatNet(spec)            spec: an IntPlan description whose conv/gemm ops carry float `weight`
//                               (Float32Array) instead of codes and no weightScales; validates it (build_network on
//                               the initial codes)
//   step / gradients            fake-quantized forward, straight-through backward (step: then one SGD step)
//   predict                     the fake-quantized logits, which are the integer engine's logits for the current
//                               weight codes
//   tensors() / grads()         each layer's weight, then its bias when it has one
//   codes()                     [sync] -> { codes: Int8Array, scales: Float32Array }[] per layer: the current codes
#include "train/qat_bind.h"

#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

#include "common/napi_args.h"
#include "engine/int_bind.h"
#include "engine/spec_reader.h"
#include "train/net_bind.h"

namespace arq::train {
namespace {

using arq::napi::field;
using arq::napi::float_array;

QatSpec read_spec(const Napi::Object& o) {
  QatSpec spec;
  spec.plan = engine::read_quantized_plan(
      o, "QatNet", [&](size_t index, const Napi::Object& op, engine::IntOpSpec&, const std::string& at) {
        spec.weights.resize(index + 1);
        spec.weights[index] = float_array(op.Env(), field(op, "weight", at), -1, at, "weight");
      });
  spec.weights.resize(spec.plan.ops.size());  // empty for ops without weights
  return spec;
}

struct QatNetTraits {
  using Net = QatNet;
  static constexpr const char* kName = "QatNet";
  static constexpr const char* kExtra = "codes";
  static QatSpec read_spec(const Napi::Object& o) { return train::read_spec(o); }
  static Napi::Value extra(Napi::Env env, const QatNet& net) {
    Napi::Array out = Napi::Array::New(env);
    uint32_t next = 0;
    for (const WeightCodes& layer : net.codes()) out.Set(next++, engine::weight_codes_object(env, layer));
    return out;
  }
};

}  // namespace

void register_qat_bindings(Napi::Env env, Napi::Object exports) {
  exports.Set("QatNet", NetWrap<QatNetTraits>::define(env));
}

}  // namespace arq::train
