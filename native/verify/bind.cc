#include "verify/bind.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "certify/bind.h"
#include "common/memory_limit.h"
#include "common/napi_args.h"
#include "common/promise_worker.h"
#include "common/thread_pool.h"
#include "verify/bounds.h"
#include "verify/branch_bound.h"

namespace arq::verify {
namespace {

// lo and hi as `count` boxes of the plan's input size: 0 <= lo <= hi <= 1 elementwise.
void read_boxes(Napi::Env env, const Napi::Value& lo_value, const Napi::Value& hi_value, int64_t count, int64_t size,
                const std::string& where, std::vector<float>* lo, std::vector<float>* hi) {
  *lo = napi::float_array(env, lo_value, count * size, where, "lo");
  *hi = napi::float_array(env, hi_value, count * size, where, "hi");
  for (size_t i = 0; i < lo->size(); ++i) {
    if (!((*lo)[i] >= 0.0f && (*lo)[i] <= (*hi)[i] && (*hi)[i] <= 1.0f)) {
      napi::throw_range(env, where,
                        "box " + std::to_string(static_cast<int64_t>(i) / size) + " element " +
                            std::to_string(static_cast<int64_t>(i) % size) + " needs 0 <= lo <= hi <= 1, got [" +
                            std::to_string((*lo)[i]) + ", " + std::to_string((*hi)[i]) + "]");
    }
  }
}

std::vector<int32_t> read_labels(Napi::Env env, const Napi::Value& value, int64_t count, int64_t classes,
                                 const std::string& where) {
  std::vector<int32_t> labels =
      napi::typed_array<int32_t>(env, value, napi_int32_array, "Int32Array", count, where, "labels");
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] < 0 || labels[i] >= classes) {
      napi::throw_range(env, where,
                        "labels[" + std::to_string(i) + "] must be in [0, " + std::to_string(classes) + "), got " +
                            std::to_string(labels[i]));
    }
  }
  return labels;
}

// Bytes of one thread's Bounds: every value's pair of bounds (as int32 or float) and every layer's input codes.
double bounds_bytes(const engine::IntNetwork& net) {
  double elements = 0;
  for (const engine::Shape& shape : net.shapes) elements += 2.0 * static_cast<double>(shape.size());
  for (const engine::IntOp& op : net.ops)
    elements += 4.0 * static_cast<double>(op.in.size()) + 4.0 * static_cast<double>(op.out.size());
  return elements * 4.0;
}

void check_memory(const engine::IntNetwork& net, double result_bytes, int threads) {
  MemoryBudget budget;
  budget.add(result_bytes, 0);
  budget.add(bounds_bytes(net) * threads, 1);
  budget.check(net.memory_limit,
               [](int item) { return item == 0 ? std::string("the results") : std::string("the per-thread bounds"); });
}

// An optional boolean field of an options object: `fallback` when absent or undefined. `object` prefixes the name in
// the message ("options.").
bool optional_bool(Napi::Env env, const Napi::Object& o, const char* name, bool fallback, const char* where,
                   const char* object = "") {
  if (!o.Has(name) || o.Get(name).IsUndefined()) return fallback;
  if (!o.Get(name).IsBoolean()) napi::throw_type(env, where, std::string(object) + name + " must be a boolean");
  return o.Get(name).As<Napi::Boolean>().Value();
}

struct IntervalJob {
  std::shared_ptr<const engine::IntPlan> plan;
  std::shared_ptr<const IntervalPropagator> propagator;
  std::vector<float> lo, hi;
  std::vector<int32_t> labels;  // empty: no margins
  int64_t batch = 0;
  int threads = 1;
  // false: only the output value's bounds (and the margins), by the paired plan where the network has one.
  bool all_values = true;
  bool linear = false;       // raise the margins with the back-substituted bounds, where the network has them
  int slope_steps = 0;       // with them: rounds of optimised slopes (LinearBounds::margins)
  bool used_paired = false;  // the bounds came from the paired plan
  std::vector<std::vector<float>> value_lo, value_hi;  // per value: batch x size (only the output without all_values)
  std::vector<double> margins;
  std::vector<uint8_t> verified;

  void execute() {
    const engine::IntNetwork& net = plan->network();
    const int64_t n = net.input.size(), classes = plan->classes();
    value_lo.resize(net.shapes.size());
    value_hi.resize(net.shapes.size());
    const auto wanted = [&](size_t v) { return all_values || static_cast<int>(v) == net.output; };
    for (size_t v = 0; v < net.shapes.size(); ++v) {
      if (!wanted(v)) continue;
      value_lo[v].resize(static_cast<size_t>(batch * net.shapes[v].size()));
      value_hi[v].resize(static_cast<size_t>(batch * net.shapes[v].size()));
    }
    margins.assign(static_cast<size_t>(batch * classes), std::numeric_limits<double>::quiet_NaN());
    verified.assign(static_cast<size_t>(batch), 0);
    const int slots = static_cast<int>(std::min<int64_t>(threads, batch));
    std::vector<Bounds> bounds(slots);
    const PairedPlan* paired = all_values ? nullptr : propagator->paired();
    used_paired = paired != nullptr;
    std::vector<uint8_t> codes;
    if (paired != nullptr) {  // every box in one batched engine run
      std::vector<float> pairs(static_cast<size_t>(batch * 2 * n));
      for (int64_t image = 0; image < batch; ++image) {
        std::copy_n(lo.data() + image * n, n, pairs.data() + image * 2 * n);
        std::copy_n(hi.data() + image * n, n, pairs.data() + image * 2 * n + n);
      }
      codes.resize(static_cast<size_t>(batch * paired->output_size()));
      paired->run(pairs.data(), batch, codes.data(), threads);
    }
    global_pool().parallel_for(batch, slots, [&](int64_t image, int slot) {
      Bounds& b = bounds[slot];
      if (paired != nullptr) {
        propagator->finish_paired(codes.data() + image * paired->output_size(), b);
      } else {
        propagator->propagate(lo.data() + image * n, hi.data() + image * n, b);
      }
      for (size_t v = 0; v < net.shapes.size(); ++v) {
        if (!wanted(v)) continue;
        const int64_t size = net.shapes[v].size();
        const ValueBounds& value = b.values[v];
        float* out_lo = value_lo[v].data() + image * size;
        float* out_hi = value_hi[v].data() + image * size;
        if (net.grids[v]) {
          std::copy(value.code_lo.begin(), value.code_lo.end(), out_lo);
          std::copy(value.code_hi.begin(), value.code_hi.end(), out_hi);
        } else {
          std::copy(value.lo.begin(), value.lo.end(), out_lo);
          std::copy(value.hi.begin(), value.hi.end(), out_hi);
        }
      }
      if (labels.empty()) return;
      double* lower = margins.data() + image * classes;
      verified[image] = propagator->margins(b, labels[image], lower) ? 1 : 0;
      const LinearBounds* bounds = propagator->linear();
      if (linear && bounds != nullptr && verified[image] == 0) {
        if (paired != nullptr) propagator->propagate_prefix(lo.data() + image * n, hi.data() + image * n, b);
        LinearBounds::Scratch scratch;
        bounds->margins(b.layer_lo[bounds->first_op()].data(), b.layer_hi[bounds->first_op()].data(), labels[image],
                        lower, nullptr, true, scratch, nullptr, slope_steps);
        verified[image] = 1;
        for (int64_t j = 0; j < classes; ++j) {
          if (j != labels[image] && !(j < labels[image] ? lower[j] > 0 : lower[j] >= 0)) verified[image] = 0;
        }
      }
    });
  }

  Napi::Value result(Napi::Env env) {
    const engine::IntNetwork& net = plan->network();
    Napi::Array values = Napi::Array::New(env, value_lo.size());
    for (size_t v = 0; v < value_lo.size(); ++v) {
      Napi::Object entry = Napi::Object::New(env);
      auto lo_array = Napi::Float32Array::New(env, value_lo[v].size());
      auto hi_array = Napi::Float32Array::New(env, value_hi[v].size());
      std::copy(value_lo[v].begin(), value_lo[v].end(), lo_array.Data());
      std::copy(value_hi[v].begin(), value_hi[v].end(), hi_array.Data());
      entry.Set("lo", lo_array);
      entry.Set("hi", hi_array);
      entry.Set("codes", Napi::Boolean::New(env, net.grids[v].has_value()));
      values.Set(static_cast<uint32_t>(v), entry);
    }
    Napi::Object out = Napi::Object::New(env);
    out.Set("values", values);
    auto margin_array = Napi::Float64Array::New(env, margins.size());
    std::copy(margins.begin(), margins.end(), margin_array.Data());
    out.Set("marginLower", margin_array);
    auto verified_array = Napi::Uint8Array::New(env, verified.size());
    std::copy(verified.begin(), verified.end(), verified_array.Data());
    out.Set("verified", verified_array);
    out.Set("paired", Napi::Boolean::New(env, used_paired));
    return out;
  }
};

struct VerifyJob {
  std::shared_ptr<const BranchAndBound> verifier;
  int64_t input_size = 0;
  std::vector<float> lo, hi;
  std::vector<int32_t> labels;
  VerifyLimits limits;
  int threads = 1;
  Napi::ThreadSafeFunction progress;  // empty without onProgress
  std::vector<BoxVerdict> verdicts;

  VerifyJob() = default;
  VerifyJob(const VerifyJob&) = delete;
  VerifyJob& operator=(const VerifyJob&) = delete;
  ~VerifyJob() {
    if (progress) progress.Release();
  }

  void execute() {
    std::function<void(int64_t)> report;
    if (progress) {
      report = [this](int64_t done) {
        progress.NonBlockingCall(new int64_t(done), [](Napi::Env env, Napi::Function callback, int64_t* count) {
          const double value = static_cast<double>(*count);
          delete count;
          if (env == nullptr || callback == nullptr) return;
          try {
            callback.Call({Napi::Number::New(env, value)});
          } catch (const Napi::Error&) {
            // A progress callback's exception must not take the process down; the verification goes on.
          }
        });
      };
    }
    verdicts = verifier->verify_all(lo.data(), hi.data(), labels.data(), static_cast<int64_t>(labels.size()), limits,
                                    threads, report);
  }

  Napi::Value result(Napi::Env env) {
    const size_t boxes = verdicts.size();
    auto outcome = Napi::Int8Array::New(env, boxes);
    auto stage = Napi::Int8Array::New(env, boxes);
    auto splits = Napi::Float64Array::New(env, boxes);
    auto neuron_splits = Napi::Float64Array::New(env, boxes);
    auto seconds = Napi::Float64Array::New(env, boxes);
    auto counterexample = Napi::Float32Array::New(env, boxes * static_cast<size_t>(input_size));
    std::fill(counterexample.Data(), counterexample.Data() + counterexample.ElementLength(),
              std::numeric_limits<float>::quiet_NaN());
    for (size_t i = 0; i < boxes; ++i) {
      const BoxVerdict& v = verdicts[i];
      outcome[i] = static_cast<int8_t>(v.outcome);
      stage[i] = static_cast<int8_t>(v.stage);
      splits[i] = static_cast<double>(v.splits);
      neuron_splits[i] = static_cast<double>(v.neuron_splits);
      seconds[i] = v.seconds;
      std::copy(v.counterexample.begin(), v.counterexample.end(), counterexample.Data() + i * input_size);
    }
    Napi::Object out = Napi::Object::New(env);
    out.Set("outcome", outcome);
    out.Set("stage", stage);
    out.Set("splits", splits);
    out.Set("neuronSplits", neuron_splits);
    out.Set("seconds", seconds);
    out.Set("counterexample", counterexample);
    return out;
  }
};

}  // namespace

std::shared_ptr<const IntervalPropagator> PropagatorCache::get(const engine::IntPlan& plan) {
  if (!propagator_ || isa_ != active_isa()) {
    propagator_ = std::make_shared<const IntervalPropagator>(plan.network());
    isa_ = active_isa();
  }
  return propagator_;
}

Napi::Value queue_interval_bounds(const Napi::CallbackInfo& info, const char* where,
                                  std::shared_ptr<const engine::IntPlan> plan, PropagatorCache& cache) {
  Napi::Env env = info.Env();
  napi::expect_args(info, 4, where);
  const engine::IntNetwork& net = plan->network();
  auto job = std::make_unique<IntervalJob>();
  job->batch = napi::int_value(env, info[2], 1, int64_t{1} << 24, where, "batch");
  job->threads = static_cast<int>(napi::int_value(env, info[3], 1, 256, where, "threads"));
  double value_elements = 0;
  for (const engine::Shape& shape : net.shapes) value_elements += static_cast<double>(shape.size());
  check_memory(net, static_cast<double>(job->batch) * (value_elements * 8.0 * 2.0 + 8.0 * plan->classes()),
               job->threads);
  read_boxes(env, info[0], info[1], job->batch, net.input.size(), where, &job->lo, &job->hi);
  if (info.Length() > 4 && !info[4].IsUndefined())
    job->labels = read_labels(env, info[4], job->batch, plan->classes(), where);
  if (info.Length() > 5 && !info[5].IsUndefined()) {
    const Napi::Object options = napi::object_arg(info, 5, where);
    job->all_values = optional_bool(env, options, "values", true, where, "options.");
    job->linear = optional_bool(env, options, "linear", false, where, "options.");
    if (options.Has("slopeSteps") && !options.Get("slopeSteps").IsUndefined()) {
      job->slope_steps =
          static_cast<int>(napi::int_value(env, options.Get("slopeSteps"), 0, 16, where, "options.slopeSteps"));
    }
  }
  job->propagator = cache.get(*plan);  // rejects an unboundable plan here, before the job is queued
  job->plan = std::move(plan);
  return napi::PromiseWorker<IntervalJob>::queue(env, where, std::move(job));
}

Napi::Value queue_verify_boxes(const Napi::CallbackInfo& info, const char* where,
                               std::shared_ptr<const engine::IntPlan> plan, PropagatorCache& cache) {
  Napi::Env env = info.Env();
  const Napi::Object o = napi::object_arg(info, 0, where);
  const engine::IntNetwork& net = plan->network();
  auto job = std::make_unique<VerifyJob>();
  job->input_size = net.input.size();
  job->threads = static_cast<int>(napi::int_field(o, "threads", 1, 256, where));
  const double timeout_ms = napi::number_field(o, "timeoutMs", where);
  if (!(timeout_ms > 0) || !std::isfinite(timeout_ms))
    napi::throw_range(env, where, "timeoutMs must be positive and finite");
  job->limits.timeout_seconds = timeout_ms / 1000.0;
  if (o.Has("maxSplits") && !o.Get("maxSplits").IsUndefined()) {
    job->limits.max_splits = napi::int_value(env, o.Get("maxSplits"), 0, int64_t{1} << 53, where, "maxSplits");
  }
  job->limits.concrete_points = optional_bool(env, o, "concretePoints", true, where);
  job->limits.linear_bounds = optional_bool(env, o, "linearBounds", true, where);
  job->limits.corner_first = optional_bool(env, o, "cornerFirst", true, where);
  if (o.Has("neuronSplitDepth") && !o.Get("neuronSplitDepth").IsUndefined()) {
    job->limits.neuron_split_depth =
        static_cast<int>(napi::int_value(env, o.Get("neuronSplitDepth"), 0, 4096, where, "neuronSplitDepth"));
  }
  if (o.Has("slopeSteps") && !o.Get("slopeSteps").IsUndefined()) {
    job->limits.slope_steps = static_cast<int>(napi::int_value(env, o.Get("slopeSteps"), 0, 16, where, "slopeSteps"));
  }
  const Napi::Value labels = napi::field(o, "labels", where);
  if (!labels.IsTypedArray()) napi::throw_type(env, where, "labels must be an Int32Array");
  const int64_t boxes = static_cast<int64_t>(labels.As<Napi::TypedArray>().ElementLength());
  if (boxes < 1 || boxes > (int64_t{1} << 24)) napi::throw_range(env, where, "labels must hold 1 to 2^24 boxes");
  plan->check_memory(1, 1);  // the engine runs one image at a time (the paired plan: every box, IntPlan::run_codes)
  // lo, hi and the counterexamples, and the paired plan's [lo | hi] of every box (its codes are smaller).
  check_memory(net, 5.0 * 4.0 * static_cast<double>(boxes) * static_cast<double>(job->input_size), job->threads);
  job->labels = read_labels(env, labels, boxes, plan->classes(), where);
  read_boxes(env, napi::field(o, "lo", where), napi::field(o, "hi", where), boxes, job->input_size, where, &job->lo,
             &job->hi);
  if (o.Has("cancel") && !o.Get("cancel").IsUndefined())
    job->limits.cancel = certify::cancel_flag(env, o.Get("cancel"), where);
  std::shared_ptr<const IntervalPropagator> propagator = cache.get(*plan);
  job->verifier = std::make_shared<const BranchAndBound>(std::move(plan), std::move(propagator));
  if (o.Has("onProgress") && !o.Get("onProgress").IsUndefined()) {
    const Napi::Value callback = o.Get("onProgress");
    if (!callback.IsFunction()) napi::throw_type(env, where, "onProgress must be a function");
    // A thread-safe handle on the caller's callback, not an entry point of the addon (the guard scan looks for
    // function creation): the call it makes on the main thread catches what the callback throws.
    using ProgressHandle = Napi::ThreadSafeFunction;
    job->progress = ProgressHandle::New(env, callback.As<Napi::Function>(), "verifyBoxes progress", 0, 1);
  }
  return napi::PromiseWorker<VerifyJob>::queue(env, where, std::move(job));
}

}  // namespace arq::verify
