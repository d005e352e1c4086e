/**
 * Certified training with interval bound propagation: plain IBP (Gowal et al. 2018) on the float network, or
 * quantization-aware IBP (QA-IBP, Lechner et al., AAAI 2023) whose boxes follow the integer engine's semantics
 * (native/train/ibp_net.h), so that the bounds of training are the bounds of the deployed integer network.
 *
 * Recipe (the authors' schedule): Adam; a warm-up of `warmup` of the steps with eps = kappa = lambda = 0 (plain
 * training, or plain QAT), then eps, kappa and lambda ramped linearly to their targets at 90% of the steps, held
 * there; the learning rate drops x0.1 for the last 10%. `epsStart` > 0 starts the ramp (and the warm-up) at that
 * eps, kappa and lambda at the same fraction of their targets: a fine-tune of a network already certified at the
 * target (a float IBP one) keeps its certificates instead of training them away at eps 0 first. The loss is cross-entropy + kappa * hinge(delta - margin
 * lower bounds) + lambda * mean hidden width.
 *
 * QA-IBP fine-tunes a trained float network (an IBP-trained one is the warm start that works): the activation grids
 * come from `quantization.calibration` and stay fixed, weight codes follow the weights as in QAT (qat.ts). Build
 * the deployed plan with that same calibration (the CLI writes it into the model file).
 *
 * Reproducibility: epoch e's data order is Random.fromSeed(seed, 3000 + e)'s permutation; native results do not
 * depend on the thread count; a checkpoint after every epoch holds the tensors and Adam's state, so a resumed run
 * ends with the weights of an uninterrupted one.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { Dataset } from '../data/dataset.js';
import type { Graph } from '../graph/ir.js';
import { shapeSize } from '../graph/ir.js';
import { lowerGraph } from '../graph/lower.js';
import { addon, cpuInfo, withStack, type IbpBatchStats, type IbpNetSpec, type NativeIbpNet } from '../native.js';
import type { Calibration } from '../quant/calibrate.js';
import type { Policy } from '../quant/policy.js';
import { checkBatch, checkSeed, checkThreads } from '../engine/settings.js';
import { integerInRange, numberInRange } from '../util/check.js';
import { ArqError } from '../util/errors.js';
import { writeFileAtomic } from '../util/files.js';
import { Random } from '../util/random.js';
import type { TrainGraph } from './graph.js';
import { qatNetSpec, withLayerTensors } from './qat.js';

/** What the quantized net is: the policy and the fixed activation grids of the deployed integer plan. */
export interface IbpQuantization {
  readonly policy: Policy;
  readonly calibration: Calibration;
}

/** A network held by the native IBP net; one call at a time. */
export class IbpNet {
  private constructor(private readonly graph: Graph, private readonly native: NativeIbpNet) {}

  static spec(graph: Graph, quantization?: IbpQuantization): IbpNetSpec {
    return quantization ? { mode: 'quantized', plan: qatNetSpec(graph, quantization.policy, quantization.calibration) } : { mode: 'float', plan: lowerGraph(graph).spec };
  }

  static build(graph: Graph, quantization?: IbpQuantization): IbpNet {
    return new IbpNet(graph, new (addon().IbpNet)(IbpNet.spec(graph, quantization)));
  }

  get classes(): number {
    return this.native.classes;
  }

  get adamStep(): number {
    return this.native.adamStep;
  }

  step(...request: Parameters<NativeIbpNet['step']>): Promise<IbpBatchStats> {
    return withStack(() => this.native.step(...request));
  }

  gradients(...request: Parameters<NativeIbpNet['gradients']>): Promise<IbpBatchStats> {
    return withStack(() => this.native.gradients(...request));
  }

  /** Per image: the point's logits and the ends of the logits of its box [x - eps, x + eps] ∩ [0, 1]. */
  bounds(images: Float32Array, batch: number, eps: number, threads: number): Promise<{ logits: Float32Array; lower: Float32Array; upper: Float32Array }> {
    return withStack(() => this.native.bounds({ input: images, batch, threads, eps }));
  }

  tensors(): Float32Array[] {
    return this.native.tensors();
  }

  grads(): Float32Array[] {
    return this.native.grads();
  }

  moments(): Float32Array[] {
    return this.native.moments();
  }

  setMoments(moments: Float32Array[], step: number): void {
    this.native.setMoments(moments, step);
  }

  /** The graph with the net's current weights and biases. */
  trained(): Graph {
    return withLayerTensors(this.graph, this.native.tensors());
  }
}

/** `graph` as the IR graph it is when it holds no batch-norm node (the IBP architectures); throws otherwise. */
export function withoutBatchNorm(graph: TrainGraph): Graph {
  const bn = graph.nodes.find((node) => node.op === 'batchnorm');
  if (bn) throw new ArqError(`IBP training needs a network without batch norm (${bn.name})`);
  return graph as Graph;
}

/** Images whose box is certified by IBP (lower label logit above every other upper logit), and correct points. */
export function certifiedCount(lower: Float32Array, upper: Float32Array, logits: Float32Array, labels: Int32Array, classes: number): { certified: number; correct: number } {
  let certified = 0;
  let correct = 0;
  for (let b = 0; b < labels.length; b++) {
    const y = labels[b];
    let best = 0;
    let sure = true;
    for (let j = 0; j < classes; j++) {
      if (logits[b * classes + j] > logits[b * classes + best]) best = j;
      if (j !== y && !(lower[b * classes + y] > upper[b * classes + j])) sure = false;
    }
    certified += sure ? 1 : 0;
    correct += best === y ? 1 : 0;
  }
  return { certified, correct };
}

/** Clean accuracy and IBP-certified accuracy at `eps` of `net` on `data`. */
export async function ibpAccuracy(net: IbpNet, data: Dataset, eps: number, threads: number, batch = 500): Promise<{ clean: number; certified: number }> {
  const size = shapeSize(data.shape);
  let certified = 0;
  let correct = 0;
  for (let first = 0; first < data.count; first += batch) {
    const count = Math.min(batch, data.count - first);
    const { logits, lower, upper } = await net.bounds(data.images.subarray(first * size, (first + count) * size), count, eps, threads);
    const counts = certifiedCount(lower, upper, logits, data.labels.subarray(first, first + count), net.classes);
    certified += counts.certified;
    correct += counts.correct;
  }
  return { clean: correct / data.count, certified: certified / data.count };
}

export interface IbpSettings {
  readonly mode: 'float' | 'quantized';
  /** What training starts from: an architecture name or a model's sha256 (the caller's identity of the start). */
  readonly start: string;
  /** The policy's layers as JSON in quantized mode, else null. */
  readonly policy: string | null;
  readonly eps: number;
  /** eps at the start of the ramp (0 for the authors' schedule; `eps` trains at the target from the first step). */
  readonly epsStart: number;
  readonly epochs: number;
  readonly batch: number;
  readonly lr: number;
  readonly kappa: number;
  readonly lambda: number;
  readonly delta: number;
  /** Fraction of the steps trained with eps = kappa = lambda = 0 before the ramp. */
  readonly warmup: number;
  readonly seed: number;
  readonly data: string;
}

export const IBP_DEFAULTS = { batch: 128, lr: 1e-3, kappa: 0.5, lambda: 0.001, delta: 0.25, warmup: 0.1, seed: 0 } as const;
/** The ramp ends (and the learning rate drops) at this fraction of the steps. */
export const RAMP_END = 0.9;

/**
 * eps, kappa and lambda as fractions of their targets, and the learning rate factor, at step `step` of `steps`: `from`
 * through the warm-up, then linear to 1 at RAMP_END.
 */
export function ibpSchedule(step: number, steps: number, warmup: number, from = 0): { ramp: number; lrFactor: number } {
  const f = step / steps;
  const ramp = f <= warmup ? 0 : Math.min(1, (f - warmup) / (RAMP_END - warmup));
  return { ramp: from + (1 - from) * ramp, lrFactor: f < RAMP_END ? 1 : 0.1 };
}

export interface IbpEpochRecord {
  readonly epoch: number;
  readonly seconds: number;
  /** eps, kappa and lambda at the epoch's last step. */
  readonly eps: number;
  readonly kappa: number;
  readonly lambda: number;
  /** Means over the epoch's training batches. */
  readonly loss: number;
  readonly ce: number;
  readonly hinge: number;
  readonly width: number;
  readonly trainAccuracy: number;
  /** Training images certified by IBP at the epoch's (ramping) eps. */
  readonly trainCertified: number;
  /** On the evaluation set, when given: clean accuracy and IBP-certified accuracy at the target eps. */
  readonly testAccuracy?: number;
  readonly testCertified?: number;
}

export interface IbpProgress extends Omit<IbpEpochRecord, 'seconds' | 'testAccuracy' | 'testCertified' | 'epoch'> {
  readonly epoch: number;
  readonly epochs: number;
  readonly step: number;
  readonly steps: number;
}

export interface IbpTrainOptions extends Partial<Omit<IbpSettings, 'mode' | 'start' | 'policy' | 'eps' | 'epochs' | 'data'>> {
  /** The network to train (conv, gemm, ReLU/clamp and flatten only). */
  readonly graph: Graph;
  /** The identity of `graph` recorded in the settings (an architecture name or a model's sha256). */
  readonly start: string;
  /** QA-IBP under this policy and calibration; plain float IBP without it. */
  readonly quantization?: IbpQuantization;
  readonly eps: number;
  readonly epochs: number;
  readonly train: Dataset;
  readonly test?: Dataset;
  readonly checkpoint?: string;
  readonly resume?: boolean;
  readonly threads?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: IbpProgress) => void;
  readonly onEpoch?: (record: IbpEpochRecord) => void;
}

export interface IbpTrainResult {
  readonly graph: Graph;
  readonly settings: IbpSettings;
  readonly history: readonly IbpEpochRecord[];
  /** Training time of the epochs run by this call (evaluation excluded). */
  readonly seconds: number;
}

const CHECKPOINT_FORMAT = 'arq-ibp-checkpoint/1';

interface Checkpoint {
  format: string;
  settings: IbpSettings;
  history: IbpEpochRecord[];
  tensors: string[];
  moments: string[];
  adamStep: number;
}

const encode = (array: Float32Array): string => Buffer.from(array.buffer, array.byteOffset, array.byteLength).toString('base64');
const decode = (text: string): Float32Array => {
  const bytes = Buffer.from(text, 'base64');
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
};

function settingsOf(o: IbpTrainOptions): IbpSettings {
  const d = IBP_DEFAULTS;
  const eps = numberInRange('eps', o.eps, 0, 1);
  return {
    mode: o.quantization ? 'quantized' : 'float',
    start: o.start,
    policy: o.quantization ? JSON.stringify(o.quantization.policy.layers) : null,
    eps,
    epsStart: numberInRange('epsStart', o.epsStart ?? 0, 0, eps),
    epochs: integerInRange('epochs', o.epochs, 1, 100000),
    batch: checkBatch(o.batch ?? d.batch),
    lr: numberInRange('lr', o.lr ?? d.lr, 0, 100),
    kappa: numberInRange('kappa', o.kappa ?? d.kappa, 0, 1e6),
    lambda: numberInRange('lambda', o.lambda ?? d.lambda, 0, 1e6),
    delta: numberInRange('delta', o.delta ?? d.delta, 0, 1e6),
    warmup: numberInRange('warmup', o.warmup ?? d.warmup, 0, RAMP_END, { exclusiveMax: true }),
    seed: checkSeed(o.seed ?? d.seed),
    data: o.train.name,
  };
}

function loadCheckpoint(file: string, settings: IbpSettings): Checkpoint {
  let checkpoint: Checkpoint;
  try {
    checkpoint = JSON.parse(readFileSync(file, 'utf8')) as Checkpoint;
  } catch (error) {
    throw new ArqError(`cannot read checkpoint ${file}: ${(error as Error).message}`);
  }
  if (checkpoint?.format !== CHECKPOINT_FORMAT) throw new ArqError(`${file}: not an ${CHECKPOINT_FORMAT} file`);
  // Checkpoints written before epsStart existed ramped from 0.
  if (typeof checkpoint.settings === 'object' && checkpoint.settings !== null) checkpoint.settings = { ...checkpoint.settings, epsStart: checkpoint.settings.epsStart ?? 0 };
  const float32s = (list: unknown) => Array.isArray(list) && list.every((t) => typeof t === 'string' && Buffer.from(t, 'base64').length % 4 === 0);
  if (!float32s(checkpoint.tensors) || !float32s(checkpoint.moments) || !Array.isArray(checkpoint.history) || typeof checkpoint.settings !== 'object' || !Number.isInteger(checkpoint.adamStep)) {
    throw new ArqError(`${file}: corrupt checkpoint: settings, history, tensors, moments and adamStep are required`);
  }
  const differing = (Object.keys(settings) as (keyof IbpSettings)[]).filter((key) => checkpoint.settings[key] !== settings[key]);
  if (differing.length > 0) {
    throw new ArqError(`${file} was written with different settings (${differing.map((k) => `${k}: ${String(checkpoint.settings[k])} there, ${String(settings[k])} here`).join('; ')})`);
  }
  return checkpoint;
}

/** Trains `options.graph` with (QA-)IBP; see the module comment for the recipe. */
export async function ibpTrain(options: IbpTrainOptions): Promise<IbpTrainResult> {
  const settings = settingsOf(options);
  const threads = checkThreads(options.threads ?? cpuInfo().threads);
  const data = options.train;
  const size = shapeSize(data.shape);
  if (size !== shapeSize(options.graph.input.shape)) throw new ArqError(`data ${data.name} has images of ${size} values, the network expects ${shapeSize(options.graph.input.shape)}`);
  let graph = options.graph;
  let history: IbpEpochRecord[] = [];
  let checkpoint: Checkpoint | undefined;
  if (options.resume) {
    if (!options.checkpoint) throw new ArqError('resume needs a checkpoint file');
    if (!existsSync(options.checkpoint)) throw new ArqError(`cannot resume: there is no checkpoint ${options.checkpoint}`);
    checkpoint = loadCheckpoint(options.checkpoint, settings);
    history = checkpoint.history;
    try {
      graph = withLayerTensors(graph, checkpoint.tensors.map(decode));
    } catch (error) {
      throw new ArqError(`${options.checkpoint}: corrupt checkpoint: ${(error as Error).message}`, { cause: error });
    }
  }
  const net = IbpNet.build(graph, options.quantization);
  for (const set of [data, options.test]) {
    if (set && set.classes > net.classes) throw new ArqError(`data ${set.name} has ${set.classes} classes, the network ${net.classes} outputs`);
  }
  if (checkpoint) {
    try {
      net.setMoments(checkpoint.moments.map(decode), checkpoint.adamStep);
    } catch (error) {
      throw new ArqError(`${options.checkpoint}: corrupt checkpoint: ${(error as Error).message}`, { cause: error });
    }
  }
  const stepsPerEpoch = Math.ceil(data.count / settings.batch);
  const totalSteps = settings.epochs * stepsPerEpoch;
  let seconds = 0;
  for (let epoch = history.length; epoch < settings.epochs; epoch++) {
    const order = Random.fromSeed(settings.seed, 3000 + epoch).permutation(data.count);
    const begin = performance.now();
    const sums = { loss: 0, ce: 0, hinge: 0, width: 0, correct: 0, certified: 0, seen: 0 };
    let last = { eps: 0, kappa: 0, lambda: 0 };
    for (let step = 0; step < stepsPerEpoch; step++) {
      options.signal?.throwIfAborted();
      const first = step * settings.batch;
      const count = Math.min(settings.batch, data.count - first);
      const images = new Float32Array(count * size);
      const labels = new Int32Array(count);
      for (let i = 0; i < count; i++) {
        const index = order[first + i];
        images.set(data.images.subarray(index * size, (index + 1) * size), i * size);
        labels[i] = data.labels[index];
      }
      const { ramp, lrFactor } = ibpSchedule(epoch * stepsPerEpoch + step, totalSteps, settings.warmup, settings.eps > 0 ? settings.epsStart / settings.eps : 0);
      last = { eps: settings.eps * ramp, kappa: settings.kappa * ramp, lambda: settings.lambda * ramp };
      const stats = await net.step({
        input: images, labels, batch: count, threads, ...last, delta: settings.delta,
        lr: settings.lr * lrFactor, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0,
      });
      if (!Number.isFinite(stats.loss)) throw new ArqError(`IBP training diverged at epoch ${epoch + 1}, step ${step + 1} (loss ${stats.loss}); lower the learning rate`);
      sums.loss += stats.loss * count;
      sums.ce += stats.ce * count;
      sums.hinge += stats.hinge * count;
      sums.width += stats.width * count;
      sums.correct += stats.correct;
      sums.certified += stats.certified;
      sums.seen += count;
      const n = sums.seen;
      options.onProgress?.({
        epoch: epoch + 1, epochs: settings.epochs, step: step + 1, steps: stepsPerEpoch, ...last,
        loss: sums.loss / n, ce: sums.ce / n, hinge: sums.hinge / n, width: sums.width / n, trainAccuracy: sums.correct / n, trainCertified: sums.certified / n,
      });
    }
    const epochSeconds = (performance.now() - begin) / 1000;
    seconds += epochSeconds;
    const n = sums.seen;
    const test = options.test ? await ibpAccuracy(net, options.test, settings.eps, threads) : undefined;
    const record: IbpEpochRecord = {
      epoch: epoch + 1, seconds: epochSeconds, ...last,
      loss: sums.loss / n, ce: sums.ce / n, hinge: sums.hinge / n, width: sums.width / n, trainAccuracy: sums.correct / n, trainCertified: sums.certified / n,
      ...(test ? { testAccuracy: test.clean, testCertified: test.certified } : {}),
    };
    history = [...history, record];
    if (options.checkpoint) {
      const saved: Checkpoint = { format: CHECKPOINT_FORMAT, settings, history, tensors: net.tensors().map(encode), moments: net.moments().map(encode), adamStep: net.adamStep };
      writeFileAtomic(options.checkpoint, JSON.stringify(saved));
    }
    options.onEpoch?.(record);
  }
  return { graph: net.trained(), settings, history, seconds };
}
