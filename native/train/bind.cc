// Bindings for the trainer: TrainNet is net_bind.h's NetWrap (step, gradients, predict, tensors, grads, classes)
// with what differs here:
//   new TrainNet(spec)          validates the network and copies its tensors; spec: a float plan description whose
//                               ops may also be batch norm, plus optional momentum buffers (resuming)
//   step                        batch norm in training mode, running statistics updated, then one SGD step
//   gradients                   the same without updating anything but the gradients
//   predict                     logits with batch norm in inference mode
//   tensors()                   every tensor in spec order (conv/gemm weight, bias; batch norm scale, bias, mean, var)
//   grads() / momenta()         the trainable ones only (all but batch-norm mean and var)
#include "train/bind.h"

#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

#include "common/napi_args.h"
#include "engine/spec_reader.h"
#include "train/net_bind.h"

namespace arq::train {
namespace {

using arq::napi::field;
using arq::napi::float_array;
using arq::napi::int_field;
using arq::napi::number_field;
using arq::napi::throw_range;
using arq::napi::throw_type;

int add_tensor(TrainSpec& spec, std::vector<float> value, bool trainable) {
  Tensor tensor;
  tensor.value = std::move(value);
  tensor.trainable = trainable;
  spec.tensors.push_back(std::move(tensor));
  return static_cast<int>(spec.tensors.size()) - 1;
}

void read_batchnorm(const Napi::Object& o, TrainOp& op, TrainSpec& spec, const std::string& at) {
  Napi::Env env = o.Env();
  op.kind = Kind::kBatchNorm;
  const auto inputs = arq::napi::int_array(env, field(o, "inputs", at), 1, 0, spec.values - 1, at, "inputs");
  op.geo.inputs = {static_cast<int>(inputs[0])};
  op.geo.output = static_cast<int>(int_field(o, "output", 1, spec.values - 1, at));
  for (const char* key : {"scale", "bias", "mean", "var"}) {
    const bool trainable = std::string(key) == "scale" || std::string(key) == "bias";
    op.tensors.push_back(add_tensor(spec, float_array(env, field(o, key, at), -1, at, key), trainable));
  }
  op.epsilon = static_cast<float>(number_field(o, "epsilon", at));
  op.bn_momentum = static_cast<float>(number_field(o, "momentum", at));
}

TrainOp read_op(const Napi::Value& value, TrainSpec& spec, const std::string& at) {
  Napi::Env env = value.Env();
  if (!value.IsObject()) throw_type(env, at, "must be an object");
  TrainOp op;
  if (arq::napi::string_field(value.As<Napi::Object>(), "op", at) == "batchnorm") {
    read_batchnorm(value.As<Napi::Object>(), op, spec, at);
    return op;
  }
  const Napi::Object o = engine::read_geometry(value, op.geo, spec.values, at);
  switch (op.geo.kind) {
    case engine::OpKind::kConv:
      op.kind = Kind::kConv;
      break;
    case engine::OpKind::kGemm:
      op.kind = Kind::kGemm;
      break;
    case engine::OpKind::kClamp:
      op.kind = Kind::kClamp;
      break;
    case engine::OpKind::kAdd:
      op.kind = Kind::kAdd;
      break;
    case engine::OpKind::kMaxPool:
      op.kind = Kind::kMaxPool;
      break;
    case engine::OpKind::kAvgPool:
      op.kind = Kind::kAvgPool;
      break;
    case engine::OpKind::kGlobalAvgPool:
      op.kind = Kind::kGlobalAvgPool;
      break;
    case engine::OpKind::kFlatten:
      op.kind = Kind::kFlatten;
      break;
    case engine::OpKind::kElementwise:
      op.kind = Kind::kElementwise;
      break;
    case engine::OpKind::kPad:
      op.kind = Kind::kPad;
      break;
    case engine::OpKind::kRepeat:
      op.kind = Kind::kRepeat;
      break;
    default:
      throw_range(env, at, std::string("op '") + engine::kind_name(op.geo.kind) + "' is not supported in training");
  }
  if (op.kind != Kind::kClamp && (op.geo.min != -INFINITY || op.geo.max != INFINITY)) {
    throw_range(env, at, "fused clamps are not supported in training (give the clamp its own op)");
  }
  if (op.kind == Kind::kConv || op.kind == Kind::kGemm) {
    std::vector<float> weight = float_array(env, field(o, "weight", at), -1, at, "weight");
    std::vector<float> bias = engine::optional_floats(o, "bias", at);
    op.geo.weight_count = weight.size();
    op.geo.bias_count = bias.size();
    op.tensors.push_back(add_tensor(spec, std::move(weight), true));
    if (!bias.empty()) op.tensors.push_back(add_tensor(spec, std::move(bias), true));
  }
  if (op.kind == Kind::kGemm) {  // a 1x1 convolution of a [features, 1, 1] image
    op.geo.kernel_h = op.geo.kernel_w = op.geo.stride_h = op.geo.stride_w = 1;
    op.geo.group = 1;
  }
  return op;
}

TrainSpec read_spec(const Napi::Object& o) {
  const std::string where = "TrainNet";
  TrainSpec spec;
  const Napi::Array ops = engine::read_plan_header(o, where, &spec.input, &spec.values, &spec.output);
  for (uint32_t i = 0; i < ops.Length(); ++i)
    spec.ops.push_back(read_op(ops.Get(i), spec, where + " op #" + std::to_string(i)));
  // Optional momentum buffers (resuming): one Float32Array per trainable tensor, in order.
  if (o.Has("momenta") && !o.Get("momenta").IsUndefined() && !o.Get("momenta").IsNull()) {
    const Napi::Value value = o.Get("momenta");
    if (!value.IsArray()) throw_type(o.Env(), where, "momenta must be an array");
    const auto momenta = value.As<Napi::Array>();
    uint32_t next = 0;
    for (Tensor& tensor : spec.tensors) {
      if (!tensor.trainable) continue;
      if (next >= momenta.Length()) throw_range(o.Env(), where, "momenta has fewer entries than trainable tensors");
      tensor.momentum = float_array(o.Env(), momenta.Get(next), static_cast<int64_t>(tensor.value.size()), where,
                                    "momenta[" + std::to_string(next) + "]");
      ++next;
    }
    if (next != momenta.Length()) throw_range(o.Env(), where, "momenta has more entries than trainable tensors");
  }
  return spec;
}

struct TrainNetTraits {
  using Net = TrainNet;
  static constexpr const char* kName = "TrainNet";
  static constexpr const char* kExtra = "momenta";
  static TrainSpec read_spec(const Napi::Object& o) { return train::read_spec(o); }
  static Napi::Value extra(Napi::Env env, const TrainNet& net) {
    return tensor_copies(env, net.tensors(), true,
                         [](const Tensor& t) -> const std::vector<float>& { return t.momentum; });
  }
};

}  // namespace

void register_bindings(Napi::Env env, Napi::Object exports) {
  exports.Set("TrainNet", NetWrap<TrainNetTraits>::define(env));
}

}  // namespace arq::train
