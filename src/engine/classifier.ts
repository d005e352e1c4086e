/**
 * A base classifier arq can run: ONNX Runtime (the float reference), the native fp32 plan, or the native integer
 * plan of a quantization policy. All take NCHW
 * float32 images in [0,1] (any normalisation is part of the model) and return logits.
 */
import type { LoadedModel } from '../onnx/model.js';
import { OrtModel } from '../ort/session.js';
import { cpuInfo } from '../native.js';
import { FloatPlan } from './float-plan.js';
import type { PlanOptions } from './native-plan.js';
import { IntPlan, type ActivationStatistics, type BitWidths } from './int-plan.js';
import { givenGridsSpec } from './given-grids.js';
import { shapeSize } from '../graph/ir.js';
import { finiteValues, float32Array, integerInRange } from '../util/check.js';
import { ArqError } from '../util/errors.js';
import { checkThreads } from './settings.js';

export const ENGINES = ['ort', 'float', 'int'] as const;
export type EngineName = (typeof ENGINES)[number];

export interface Classifier {
  readonly engine: EngineName;
  readonly classes: number;
  /** Logits [batch x classes]. */
  logits(images: Float32Array, batch: number): Promise<Float32Array>;
  close(): Promise<void>;
}

export interface ClassifierOptions {
  /** Threads for the engine; defaults to the machine's core count. */
  readonly threads?: number;
  /** The integer engine's policy and calibration (required for engine 'int'; quant/ makes both). */
  readonly quantization?: { readonly policy: BitWidths; readonly calibration: ActivationStatistics };
  /** The native plans' memory limit per call in bytes (PlanOptions.maxMemory). */
  readonly maxMemory?: number;
}

export async function createClassifier(model: LoadedModel, engine: EngineName, options: ClassifierOptions = {}): Promise<Classifier> {
  const threads = checkThreads(options.threads ?? cpuInfo().threads);
  const classes = model.graph.shapes.get(model.graph.output)!.reduce((a, b) => a * b, 1);
  const inputSize = shapeSize(model.graph.input.shape);
  if (engine === 'ort') {
    const session = await OrtModel.load(model.bytes, model.graph.input.shape, model.graph.input.rank, { threads });
    return guardedClassifier(engine, classes, inputSize, (images, batch) => session.run(images, batch), () => session.release());
  }
  const plan = await buildNativePlan(model, engine, options.quantization, { maxMemory: options.maxMemory });
  return guardedClassifier(engine, classes, inputSize, (images, batch) => plan.run(images, batch, threads), async () => {});
}

/**
 * The checks every Classifier makes before its engine runs (a batch of `batch` finite images of the model's input
 * size; batches may hold noisy images, so only finiteness is required of the values), and its life cycle: close()
 * waits for the runs in flight (an ONNX Runtime session must not be released under a run), may be called any number
 * of times, and every logits() after it rejects at once.
 */
function guardedClassifier(
  engine: EngineName, classes: number, inputSize: number,
  run: (images: Float32Array, batch: number) => Promise<Float32Array>, release: () => Promise<void>,
): Classifier {
  const inFlight = new Set<Promise<unknown>>();
  let closing: Promise<void> | undefined;
  return {
    engine,
    classes,
    async logits(images, batch) {
      if (closing) throw new ArqError(`the ${engine} classifier is closed`);
      integerInRange('batch', batch, 1, 2 ** 31 - 1);
      finiteValues('images', float32Array('images', images, batch * inputSize));
      const running = run(images, batch);
      inFlight.add(running);
      try {
        return await running;
      } finally {
        inFlight.delete(running);
      }
    },
    close: () => (closing ??= Promise.allSettled(inFlight).then(release)),
  };
}

/** Index of the largest logit per row; ties go to the lowest class index. */
export function argmax(logits: Float32Array, classes: number): Int32Array {
  const rows = logits.length / classes;
  const out = new Int32Array(rows);
  for (let row = 0; row < rows; row++) out[row] = indexOfMax(logits, row * classes, classes);
  return out;
}

/** Index (from `start`) of the largest of `length` values; ties go to the lowest index. */
export function indexOfMax(values: ArrayLike<number>, start = 0, length = values.length - start): number {
  let best = 0;
  for (let i = 1; i < length; i++) if (values[start + i] > values[start + best]) best = i;
  return best;
}

/**
 * The native plan of an engine: fp32, or integer under a policy and calibration (built between turns of the event
 * loop), or, for a QDQ file without them, on the file's own grids.
 */
export async function buildNativePlan(
  model: LoadedModel, engine: 'float' | 'int', quantization?: ClassifierOptions['quantization'], options: PlanOptions = {},
): Promise<FloatPlan | IntPlan> {
  if (engine === 'float') return FloatPlan.build(model.graph, options);
  if (!quantization && model.qdq) return IntPlan.fromSpec(givenGridsSpec(model.graph, model.qdq, { bias: model.qdq.bias }), options);
  if (!quantization) throw new ArqError('the int engine needs a quantization policy and a calibration');
  return IntPlan.create(model.graph, quantization.policy, quantization.calibration, options);
}
