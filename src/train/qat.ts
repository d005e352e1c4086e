/**
 * Quantization-aware training (QAT): fine-tuning an imported (batch-norm-folded) graph under a policy so that its
 * integer quantization improves. The forward pass is the integer engine's own computation (quantization.md,
 * native/train/qat_net.h), so the fake-quantized logits of the fine-tuned network ARE the integer engine's logits
 * for `IntPlan.build(result.graph, policy, calibration)`, bit for bit; the backward pass is the float trainer's with
 * straight-through estimators (rounding is the identity, clamps pass gradients only inside their range).
 *
 * What is fixed and what follows the weights:
 * - weight codes and per-channel scales are re-derived before every step from the current float weights by grid.ts's
 *   clip search (not frozen at initialisation), because that is what intPlanSpec() does with the fine-tuned graph;
 * - activation grids (carriers and each layer's abits input grid) come from `calibration` and stay fixed: build the
 *   integer plan of the result with the SAME calibration object. Re-calibrating the fine-tuned float graph gives
 *   other grids (its float activations moved) and so a slightly different integer network.
 *
 * Data order and noise are pure functions of the seed: epoch e of the data is Random.fromSeed(seed, 2000 + e)'s
 * permutation and image i gets the native noise sample e of (seed, i), as in train().
 */
import type { Dataset } from '../data/dataset.js';
import { shapeSize, type Graph } from '../graph/ir.js';
import { lowerGraph } from '../graph/lower.js';
import { addon, cpuInfo, type FloatPlanOp, type NativeQatNet, type QatNetOp, type QatNetSpec } from '../native.js';
import { noisyCopy } from '../engine/noise.js';
import type { Calibration } from '../quant/calibrate.js';
import { intPlanSpecOfLowered } from '../engine/int-plan.js';
import { validatePolicy, type Policy } from '../quant/policy.js';
import { integerInRange, numberInRange } from '../util/check.js';
import { ArqError } from '../util/errors.js';
import { Random } from '../util/random.js';
import { nodeTensors } from './graph.js';
import { BatchNet } from './native-net.js';
import { cosineRate } from './schedule.js';
import { checkBatch, checkSeed, checkSigma, checkThreads } from '../engine/settings.js';


/**
 * The native QAT description: the integer plan of intPlanSpec() with each layer's float weights instead of codes,
 * both from one lowering of `graph` (op i of the integer plan is op i of the lowered graph).
 */
export function qatNetSpec(graph: Graph, policy: Policy, calibration: Calibration): QatNetSpec {
  const lowered = lowerGraph(graph);
  const plan = intPlanSpecOfLowered(lowered, policy, calibration);
  const ops = plan.ops.map((op, index): QatNetOp => {
    if (op.op !== 'conv' && op.op !== 'gemm') return op;
    // The integer plan's op at `index` was made from this very op of the lowering (intPlanSpecOfLowered).
    const source = lowered.spec.ops[index] as Extract<FloatPlanOp, { op: 'conv' | 'gemm' }>;
    const { weightScales: _scales, weight: _codes, ...rest } = op;
    void _scales;
    void _codes;
    return { ...rest, weight: source.weight };
  });
  return { input: plan.input, values: plan.values, output: plan.output, grids: plan.grids, ops };
}

/**
 * A graph held by the native QAT net under one policy and calibration; one call at a time. predict() gives the
 * fake-quantized logits, which are the integer engine's for the current weights; grads() holds each layer's weight
 * (and bias, when it has one) in layer order.
 */
export class QatNet extends BatchNet<NativeQatNet> {
  private constructor(private readonly graph: Graph, native: NativeQatNet) {
    super(native);
  }

  static build(graph: Graph, policy: Policy, calibration: Calibration): QatNet {
    return new QatNet(graph, new (addon().QatNet)(qatNetSpec(graph, policy, calibration)));
  }

  /** Per layer: the weight codes and scales of the current weights (grid.ts's quantizeWeights, replicated natively). */
  codes(): { codes: Int8Array; scales: Float32Array }[] {
    return this.native.codes();
  }

  /** The graph with the net's current float weights and biases. */
  trained(): Graph {
    return withLayerTensors(this.graph, this.native.tensors());
  }
}

/** What withLayerTensors takes, from `graph` itself: each conv/gemm's weight, then its bias when it has one, in node order. */
export function layerTensorsOf(graph: Graph): Float32Array[] {
  return graph.nodes.flatMap(nodeTensors);
}

/** `graph` with each conv/gemm's weight, then its bias when it has one, taken in node order from `tensors`. */
export function withLayerTensors(graph: Graph, tensors: readonly Float32Array[]): Graph {
  let next = 0;
  const take = (like: Float32Array, name: string): Float32Array => {
    const tensor = tensors[next++];
    if (tensor?.length !== like.length) throw new Error(`${name}: expected ${like.length} values, got ${tensor?.length ?? 'none'}`);
    return tensor;
  };
  const nodes = graph.nodes.map((node) => {
    if (node.op !== 'conv' && node.op !== 'gemm') return node;
    const weight = take(node.weight, `${node.name} weight`);
    const bias = node.bias ? take(node.bias, `${node.name} bias`) : undefined;
    return { ...node, weight, bias };
  });
  if (next !== tensors.length) throw new Error(`${tensors.length} tensors for a graph with ${next}`);
  return { ...graph, nodes };
}

export interface FineTuneProgress {
  readonly step: number;
  readonly steps: number;
  /** Running means since the first step of this call (fake-quantized, noisy training batches). */
  readonly loss: number;
  readonly accuracy: number;
}

export interface FineTuneOptions {
  /** The imported (BN-folded) graph to fine-tune, e.g. `model.graph`. */
  readonly graph: Graph;
  readonly policy: Policy;
  /** The activation grids, fixed during QAT; build the result's IntPlan with this same object. */
  readonly calibration: Calibration;
  /** Training images (labels and [0,1] images); noise is added here. */
  readonly train: Dataset;
  /** Gaussian noise sigma on the [0, 1] images (the certification sigma; 0 = clean). */
  readonly sigma: number;
  /** SGD steps (mini-batches). */
  readonly steps: number;
  /** Default 128. */
  readonly batch?: number;
  /** Initial learning rate, cosine-decayed per step to 0 (default 0.01). */
  readonly lr?: number;
  /** Default 0.9. */
  readonly momentum?: number;
  /** Default 0 (a short fine-tune from a trained model). */
  readonly weightDecay?: number;
  /** Data order and noise (default 0). */
  readonly seed?: number;
  /** Threads of arq's pool (default: all). */
  readonly threads?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: FineTuneProgress) => void;
}

export interface FineTuneResult {
  /** The fine-tuned float graph: `IntPlan.build(graph, policy, calibration)` is the network that was trained. */
  readonly graph: Graph;
  readonly steps: number;
  /** Mean fake-quantized training loss and accuracy of the first and of the last 10% of the steps. */
  readonly firstLoss: number;
  readonly lastLoss: number;
  readonly lastAccuracy: number;
  readonly seconds: number;
}

export const FINE_TUNE_DEFAULTS = { batch: 128, lr: 0.01, momentum: 0.9, weightDecay: 0, seed: 0 } as const;

/** Fine-tunes `options.graph` under `options.policy` with QAT for `options.steps` SGD steps (see the module comment). */
export async function fineTune(options: FineTuneOptions): Promise<FineTuneResult> {
  const o = options;
  const d = FINE_TUNE_DEFAULTS;
  const steps = integerInRange('steps', o.steps, 1, 10_000_000);
  const batch = checkBatch(o.batch ?? d.batch);
  const lr = numberInRange('lr', o.lr ?? d.lr, 0, 100);
  const momentum = numberInRange('momentum', o.momentum ?? d.momentum, 0, 0.999999);
  const weightDecay = numberInRange('weightDecay', o.weightDecay ?? d.weightDecay, 0, 1);
  const sigma = checkSigma(o.sigma);
  const seed = checkSeed(o.seed ?? d.seed);
  const threads = checkThreads(o.threads ?? cpuInfo().threads);
  const policy = validatePolicy(o.policy, o.graph, o.policy?.model, { source: 'policy', allowOtherModel: true });
  const data = o.train;
  const size = shapeSize(data.shape);
  const [c, h, w] = o.graph.input.shape;
  if (size !== c * h * w) throw new ArqError(`training data ${data.name} has images of ${size} values, the model expects ${c * h * w}`);
  const net = QatNet.build(o.graph, policy, o.calibration);
  if (data.classes > net.classes) throw new ArqError(`training data ${data.name} has ${data.classes} classes, the model ${net.classes}`);

  const begin = performance.now();
  const tail = Math.max(1, Math.ceil(steps / 10));
  let lossSum = 0, correct = 0, seen = 0, firstLoss = 0, firstSeen = 0, lastLoss = 0, lastCorrect = 0, lastSeen = 0;
  let epoch = -1;
  let order: Int32Array = new Int32Array(0);
  let position = data.count;
  for (let step = 0; step < steps; step++) {
    o.signal?.throwIfAborted();
    const images = new Float32Array(batch * size);
    const labels = new Int32Array(batch);
    for (let i = 0; i < batch; i++) {
      if (position >= data.count) {
        epoch++;
        order = Random.fromSeed(seed, 2000 + epoch).permutation(data.count);
        position = 0;
      }
      const index = order[position++];
      const image = data.images.subarray(index * size, (index + 1) * size);
      images.set(sigma > 0 ? noisyCopy(image, sigma, seed, index, epoch) : image, i * size);
      labels[i] = data.labels[index];
    }
    const stats = await net.step({ input: images, labels, batch, threads }, { lr: cosineRate(lr, step, steps), momentum, weightDecay });
    if (!Number.isFinite(stats.loss)) throw new ArqError(`QAT diverged at step ${step + 1} (loss ${stats.loss}); lower the learning rate`);
    lossSum += stats.loss * batch;
    correct += stats.correct;
    seen += batch;
    if (step < tail) firstLoss += stats.loss * batch, firstSeen += batch;
    if (step >= steps - tail) lastLoss += stats.loss * batch, lastCorrect += stats.correct, lastSeen += batch;
    o.onProgress?.({ step: step + 1, steps, loss: lossSum / seen, accuracy: correct / seen });
  }
  return {
    graph: net.trained(),
    steps,
    firstLoss: firstLoss / firstSeen,
    lastLoss: lastLoss / lastSeen,
    lastAccuracy: lastCorrect / lastSeen,
    seconds: (performance.now() - begin) / 1000,
  };
}

