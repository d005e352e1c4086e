/**
 * Training with Gaussian noise augmentation (Cohen et al. 2019: the base classifier of a smoothed classifier is
 * trained on x + N(0, sigma^2), unclipped): mini-batch SGD with momentum and weight decay on the native trainer,
 * cosine or step learning-rate schedule, optional random shifts, a checkpoint after every epoch and exact resume.
 *
 * Reproducibility: everything random is a pure function of the seed and the epoch (the shuffle and the shifts come
 * from Random.fromSeed(seed, 1000 + epoch), the noise of dataset image i in epoch e is the native generator's sample e of image i),
 * and native results never depend on the thread count, so a resumed run ends with the same weights as one that was
 * never interrupted.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { Dataset } from '../data/dataset.js';
import { accuracyOf } from '../engine/predict.js';
import { noisyCopy } from '../engine/noise.js';
import { cpuInfo } from '../native.js';
import { integerInRange, numberInRange } from '../util/check.js';
import { ArqError } from '../util/errors.js';
import { writeFileAtomic } from '../util/files.js';
import type { LoadedModel } from '../onnx/model.js';
import { buildArchitecture, type ArchitectureName } from './architectures.js';
import { checkExportable } from './export.js';
import { graphTensors, withTensors, type TrainGraph } from './graph.js';
import { TrainNet } from './native-net.js';
import { Random } from '../util/random.js';
import { cosineRate } from './schedule.js';
import { shapeSize, type Shape } from '../graph/ir.js';
import { checkBatch, checkSeed, checkSigma, checkThreads } from '../engine/settings.js';

export type Schedule = 'cosine' | 'step';

export interface TrainSettings {
  /** The architecture trained from scratch, or undefined when training starts from `init`. */
  readonly arch: ArchitectureName | undefined;
  /** The sha256 of the model file training starts from (`TrainOptions.init`), or undefined. */
  readonly init: string | undefined;
  /** MobileNetV2 width multiplier. */
  readonly width: number;
  /** Gaussian noise sigma on [0, 1] images (0 = clean training). */
  readonly sigma: number;
  readonly epochs: number;
  readonly batch: number;
  readonly lr: number;
  readonly momentum: number;
  readonly weightDecay: number;
  /** cosine: lr * (1 + cos(pi * step / steps)) / 2 per step; step: lr x0.1 after 50% and 75% of the epochs. */
  readonly schedule: Schedule;
  /** Random shifts of up to this many pixels in each direction (zero fill); 0 = none. */
  readonly shift: number;
  readonly seed: number;
  readonly data: string;
}

export const DEFAULT_SETTINGS = { width: 1, batch: 128, lr: 0.05, momentum: 0.9, weightDecay: 5e-4, schedule: 'cosine', shift: 0, seed: 0 } as const;

export interface EpochRecord {
  readonly epoch: number;
  readonly seconds: number;
  /** Mean loss and accuracy over the epoch's noisy training batches. */
  readonly trainLoss: number;
  readonly trainAccuracy: number;
  /** On the evaluation set, when given: clean, and with one noise draw per image at sigma. */
  readonly testAccuracy?: number;
  readonly testAccuracyNoisy?: number;
}

export interface TrainProgress {
  readonly epoch: number;
  readonly epochs: number;
  readonly step: number;
  readonly steps: number;
  /** Running means over the epoch so far. */
  readonly loss: number;
  readonly accuracy: number;
}

export interface TrainOptions extends Partial<Omit<TrainSettings, 'arch' | 'init' | 'sigma' | 'epochs' | 'data'>> {
  /** Train this architecture from a seeded initialisation; or give `init`. */
  readonly arch?: ArchitectureName;
  /** Train (fine-tune) this imported model, whatever its operators: batch norm arrives folded into the convolutions. */
  readonly init?: LoadedModel;
  readonly sigma: number;
  readonly epochs: number;
  readonly train: Dataset;
  /** Evaluated after every epoch when given. */
  readonly test?: Dataset;
  /** Written after every epoch (JSON: settings, history, tensors, momentum buffers). */
  readonly checkpoint?: string;
  /** Continue from `checkpoint` (its settings must equal these). */
  readonly resume?: boolean;
  /** Threads of arq's pool (default: all). */
  readonly threads?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: TrainProgress) => void;
  readonly onEpoch?: (record: EpochRecord) => void;
}

export interface TrainResult {
  readonly graph: TrainGraph;
  readonly settings: TrainSettings;
  readonly history: readonly EpochRecord[];
  /** Training time of the epochs run by this call (evaluation excluded). */
  readonly seconds: number;
  readonly samplesPerSecond: number;
}

const CHECKPOINT_FORMAT = 'arq-train-checkpoint/1';
/** Seed of the single noise draw per evaluation image (one fixed draw, so epochs compare). */
export const EVAL_NOISE_SEED = 1;

interface Checkpoint {
  format: string;
  settings: TrainSettings;
  epoch: number;
  history: EpochRecord[];
  tensors: string[];
  momenta: string[];
}

const encode = (array: Float32Array): string => Buffer.from(array.buffer, array.byteOffset, array.byteLength).toString('base64');
const decode = (text: string): Float32Array => {
  const bytes = Buffer.from(text, 'base64');
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
};

function settingsOf(options: TrainOptions): TrainSettings {
  const s = { ...DEFAULT_SETTINGS, ...options };
  if ((options.arch === undefined) === (options.init === undefined)) throw new ArqError('train: give either arch or init');
  return {
    arch: options.arch,
    init: options.init?.sha256,
    width: numberInRange('width', s.width, 0, 4, { exclusiveMin: true }),
    sigma: checkSigma(s.sigma),
    epochs: integerInRange('epochs', s.epochs, 1, 100000),
    batch: checkBatch(s.batch),
    lr: numberInRange('lr', s.lr, 0, 100),
    momentum: numberInRange('momentum', s.momentum, 0, 0.999999),
    weightDecay: numberInRange('weightDecay', s.weightDecay, 0, 1),
    schedule: s.schedule === 'step' ? 'step' : s.schedule === 'cosine' ? 'cosine' : (() => { throw new ArqError(`schedule: expected cosine or step, got ${String(s.schedule)}`); })(),
    shift: integerInRange('shift', s.shift, 0, 64),
    seed: checkSeed(s.seed),
    data: options.train.name,
  };
}

/** Learning rate of global step `step` of `steps` (cosine) or in epoch `epoch` (0-based) of `epochs` (step). */
export function learningRate(settings: TrainSettings, step: number, steps: number, epoch: number): number {
  if (settings.schedule === 'cosine') return cosineRate(settings.lr, step, steps);
  return settings.lr * (epoch >= Math.floor(0.75 * settings.epochs) ? 0.01 : epoch >= Math.floor(0.5 * settings.epochs) ? 0.1 : 1);
}

/** Image `image` of `data` moved by (dy, dx) pixels, zero fill. */
function shifted(data: Dataset, image: number, dy: number, dx: number): Float32Array {
  const [c, h, w] = data.shape;
  const size = c * h * w;
  const source = data.images.subarray(image * size, (image + 1) * size);
  if (dy === 0 && dx === 0) return source;
  const out = new Float32Array(size);
  for (let ch = 0; ch < c; ch++) {
    for (let y = Math.max(0, dy); y < Math.min(h, h + dy); y++) {
      const from = ch * h * w + (y - dy) * w;
      const to = ch * h * w + y * w;
      for (let x = Math.max(0, dx); x < Math.min(w, w + dx); x++) out[to + x] = source[from + x - dx];
    }
  }
  return out;
}

/** Accuracy of the net (batch norm on running statistics) on `data`, clean or with one noise draw per image. */
export async function evaluate(net: TrainNet, data: Dataset, sigma: number, threads: number, batch = 500): Promise<number> {
  return accuracyOf((images, count) => net.predict(images, count, threads), net.classes, data, sigma, EVAL_NOISE_SEED, batch);
}

function loadCheckpoint(file: string, settings: TrainSettings): Checkpoint {
  let checkpoint: Checkpoint;
  try {
    checkpoint = JSON.parse(readFileSync(file, 'utf8')) as Checkpoint;
  } catch (error) {
    throw new ArqError(`cannot read checkpoint ${file}: ${(error as Error).message}`);
  }
  if (checkpoint?.format !== CHECKPOINT_FORMAT) throw new ArqError(`${file}: not an ${CHECKPOINT_FORMAT} file`);
  const float32s = (list: unknown) => Array.isArray(list) && list.every((t) => typeof t === 'string' && Buffer.from(t, 'base64').length % 4 === 0);
  if (!float32s(checkpoint.tensors) || !float32s(checkpoint.momenta) || !Array.isArray(checkpoint.history) || typeof checkpoint.settings !== 'object') {
    throw new ArqError(`${file}: corrupt checkpoint: settings, history, tensors and momenta (base64 float32 arrays) are required`);
  }
  const differing = (Object.keys(settings) as (keyof TrainSettings)[]).filter((key) => checkpoint.settings[key] !== settings[key]);
  if (differing.length > 0) {
    throw new ArqError(`${file} was written with different settings (${differing.map((k) => `${k}: ${String(checkpoint.settings[k])} there, ${String(settings[k])} here`).join('; ')})`);
  }
  return checkpoint;
}

/**
 * Throws an ArqError unless every dataset (training, and evaluation where given) has images of `input`'s size and
 * no more classes than the `outputs` of `model`: checked before training, since evaluation runs after it.
 */
export function checkDataFits(model: string, input: Shape, outputs: number, datasets: readonly (Dataset | undefined)[]): void {
  for (const data of datasets) {
    if (!data) continue;
    if (shapeSize(data.shape) !== shapeSize(input)) throw new ArqError(`data ${data.name} has images of ${shapeSize(data.shape)} values, ${model} expects ${shapeSize(input)}`);
    if (data.classes > outputs) throw new ArqError(`data ${data.name} has ${data.classes} classes, ${model} ${outputs} outputs`);
  }
}

/** The network training starts from: `init`'s graph (checked to export and fit the data) or a fresh architecture. */
function initialGraph(options: TrainOptions, settings: TrainSettings): TrainGraph {
  const data = options.train;
  if (!options.init) {
    const classes = Math.max(data.classes, options.test?.classes ?? 0, 2);
    checkDataFits(settings.arch!, data.shape, classes, [options.test]);
    return buildArchitecture(settings.arch!, { input: data.shape, classes, seed: settings.seed, width: settings.width });
  }
  const { graph, path } = options.init;
  checkDataFits(path, graph.input.shape, shapeSize(graph.shapes.get(graph.output)!), [data, options.test]);
  checkExportable(graph, path);
  return graph;
}

/**
 * Trains `options.arch` from a seeded initialisation, or fine-tunes `options.init`, on `options.train`; see the module
 * comment for the recipe. Everything that could stop the run at its end is checked before the first step.
 */
export async function train(options: TrainOptions): Promise<TrainResult> {
  const settings = settingsOf(options);
  const data = options.train;
  const threads = checkThreads(options.threads ?? cpuInfo().threads);
  let graph = initialGraph(options, settings);
  let momenta: Float32Array[] | undefined;
  let history: EpochRecord[] = [];
  if (options.resume) {
    if (!options.checkpoint) throw new ArqError('resume needs a checkpoint file');
    if (!existsSync(options.checkpoint)) throw new ArqError(`cannot resume: there is no checkpoint ${options.checkpoint}`);
    const checkpoint = loadCheckpoint(options.checkpoint, settings);
    momenta = checkpoint.momenta.map(decode);
    history = checkpoint.history;
    try {
      graph = withTensors(graph, checkpoint.tensors.map(decode));
    } catch (error) {
      throw new ArqError(`${options.checkpoint}: corrupt checkpoint: ${(error as Error).message}`, { cause: error });
    }
  }
  let net: TrainNet;
  try {
    net = TrainNet.build(graph, momenta);
  } catch (error) {
    // Tensors and momenta that do not fit the architecture come from a damaged checkpoint.
    if (momenta) throw new ArqError(`${options.checkpoint}: corrupt checkpoint: ${(error as Error).message}`, { cause: error });
    throw error;
  }
  const size = shapeSize(data.shape);
  const stepsPerEpoch = Math.ceil(data.count / settings.batch);
  const totalSteps = settings.epochs * stepsPerEpoch;
  let seconds = 0;
  let samples = 0;
  for (let epoch = history.length; epoch < settings.epochs; epoch++) {
    const random = Random.fromSeed(settings.seed, 1000 + epoch);
    const order = random.permutation(data.count);
    const begin = performance.now();
    let lossSum = 0;
    let correct = 0;
    let seen = 0;
    for (let step = 0; step < stepsPerEpoch; step++) {
      options.signal?.throwIfAborted();
      const first = step * settings.batch;
      const count = Math.min(settings.batch, data.count - first);
      const images = new Float32Array(count * size);
      const labels = new Int32Array(count);
      for (let i = 0; i < count; i++) {
        const index = order[first + i];
        const dy = settings.shift > 0 ? random.integer(2 * settings.shift + 1) - settings.shift : 0;
        const dx = settings.shift > 0 ? random.integer(2 * settings.shift + 1) - settings.shift : 0;
        const image = shifted(data, index, dy, dx);
        images.set(settings.sigma > 0 ? noisyCopy(image, settings.sigma, settings.seed, index, epoch) : image, i * size);
        labels[i] = data.labels[index];
      }
      const lr = learningRate(settings, epoch * stepsPerEpoch + step, totalSteps, epoch);
      const stats = await net.step({ input: images, labels, batch: count, threads }, { lr, momentum: settings.momentum, weightDecay: settings.weightDecay });
      if (!Number.isFinite(stats.loss)) throw new ArqError(`training diverged at epoch ${epoch + 1}, step ${step + 1} (loss ${stats.loss}); lower the learning rate`);
      lossSum += stats.loss * count;
      correct += stats.correct;
      seen += count;
      options.onProgress?.({ epoch: epoch + 1, epochs: settings.epochs, step: step + 1, steps: stepsPerEpoch, loss: lossSum / seen, accuracy: correct / seen });
    }
    const epochSeconds = (performance.now() - begin) / 1000;
    seconds += epochSeconds;
    samples += seen;
    const record: EpochRecord = {
      epoch: epoch + 1,
      seconds: epochSeconds,
      trainLoss: lossSum / seen,
      trainAccuracy: correct / seen,
      ...(options.test ? { testAccuracy: await evaluate(net, options.test, 0, threads), testAccuracyNoisy: await evaluate(net, options.test, settings.sigma, threads) } : {}),
    };
    history = [...history, record];
    if (options.checkpoint) {
      const checkpoint: Checkpoint = { format: CHECKPOINT_FORMAT, settings, epoch: epoch + 1, history, tensors: graphTensors(net.trained()).map(encode), momenta: net.momenta().map(encode) };
      writeFileAtomic(options.checkpoint, JSON.stringify(checkpoint));
    }
    options.onEpoch?.(record);
  }
  return { graph: net.trained(), settings, history, seconds, samplesPerSecond: seconds > 0 ? samples / seconds : 0 };
}
