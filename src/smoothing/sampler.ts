/**
 * The Sampler, the base classifier of a smoothed classifier under noise, and the engines arq samples with: a native
 * plan (fp32 or integer; the whole loop of noise, inference, arg-max and counting runs in C++ off the JavaScript
 * thread), or ONNX Runtime in a worker thread (onnxruntime-node computes on the thread that calls run(), so it must
 * not be the main one) with the same counter-based noise.
 */
import { randomBytes } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { buildNativePlan, type EngineName } from '../engine/classifier.js';
import { FloatPlan } from '../engine/float-plan.js';
import { seedWords } from '../engine/noise.js';
import { checkBatch, checkSeed, checkSigma, checkThreads } from '../engine/settings.js';
import type { LoadedModel } from '../onnx/model.js';
import type { Calibration } from '../quant/calibrate.js';
import type { IntPlan } from '../engine/int-plan.js';
import type { Policy } from '../quant/policy.js';
import { float32Array, imageValues } from '../util/check.js';
import { ArqError } from '../util/errors.js';
import type { OrtWorkerReply, OrtWorkerRequest, OrtWorkerSetup } from './ort-worker.js';
import { shapeSize } from '../graph/ir.js';

/** Draws noisy samples of one image and classifies them: the base classifier of a smoothed classifier. */
export interface Sampler {
  readonly classes: number;
  readonly inputSize: number;
  readonly sigma: number;
  /**
   * Class counts (and, when `record`, each sample's predicted class) over noise samples first .. first+count-1 of
   * image `imageIndex`. Noise is counter-based: a sample's noise depends only on (seed, imageIndex, sample number),
   * never on how samples are split into calls.
   */
  sample(image: Float32Array, imageIndex: number, first: number, count: number, record: boolean): Promise<{ counts: Uint32Array; predictions: Uint8Array | null }>;
  close(): Promise<void>;
}

export interface SamplerOptions {
  readonly sigma: number;
  /**
   * The noise key: a safe integer (reproducible experiments, the CLI's documented seeds) or a 64-bit bigint (the
   * full key of the counter-based generator; `randomNoiseSeed()` draws one that nobody can predict).
   */
  readonly seed: number | bigint;
  /** Noisy copies per classifier call. */
  readonly batch: number;
  readonly threads: number;
}

type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

/**
 * A noise key from the operating system's cryptographic generator, all 64 bits of the generator's key. Smoothing's
 * guarantee holds over noise the adversary does not know when choosing the input: a fixed seed makes every run draw
 * the same, publicly predictable noise, so anything that serves requests must use a key like this one.
 */
export function randomNoiseSeed(): bigint {
  return randomBytes(8).readBigUInt64LE(0);
}

/** The Sampler of an engine: ONNX Runtime (worker), the fp32 plan, or the integer plan of a quantization. */
export async function createSampler(
  model: LoadedModel,
  engine: EngineName,
  options: SamplerOptions & { readonly quantization?: { readonly policy: Policy; readonly calibration: Calibration } },
): Promise<Sampler> {
  checkSamplerOptions(options);
  const inputSize = shapeSize(model.graph.input.shape);
  if (engine === 'ort') return ortSampler(model, options);
  return nativeSampler(await buildNativePlan(model, engine, options.quantization), inputSize, options);
}

/**
 * The settings' ranges (engine/settings.ts), checked before a plan is built; a bigint seed is a whole 64-bit key.
 * nativeSampler trusts its caller (the search checks its settings once and derives further seeds from them).
 */
function checkSamplerOptions(options: SamplerOptions): void {
  checkSigma(options.sigma);
  if (typeof options.seed !== 'bigint') checkSeed(options.seed);
  checkBatch(options.batch);
  checkThreads(options.threads);
}

export function nativeSampler(plan: FloatPlan | IntPlan, inputSize: number, options: SamplerOptions): Sampler {
  const words = seedWords(options.seed);
  return guardedSampler(plan instanceof FloatPlan ? 'float' : 'int', {
    classes: plan.classes,
    inputSize,
    sigma: options.sigma,
    sample: (image, imageIndex, first, count, record) =>
      plan.sample({ image, imageIndex, firstSample: first, count, record, sigma: options.sigma, batch: options.batch, threads: options.threads, ...words }),
    close: async () => {},
  });
}

/**
 * The checks every Sampler makes before its engine runs: the image is a Float32Array of the model's input size
 * holding image values (no NaN, no infinities, nothing far outside [0, 1]), and the sampler is not closed. close()
 * may be called any number of times; a sample() after it rejects at once.
 */
function guardedSampler(engine: EngineName, inner: Sampler): Sampler {
  let closing: Promise<void> | undefined;
  return {
    classes: inner.classes,
    inputSize: inner.inputSize,
    sigma: inner.sigma,
    async sample(image, imageIndex, first, count, record) {
      if (closing) throw new ArqError(`the ${engine} sampler is closed`);
      imageValues('image', float32Array('image', image, inner.inputSize));
      return inner.sample(image, imageIndex, first, count, record);
    },
    close: () => (closing ??= inner.close()),
  };
}

/** The compiled worker script (dist/); from the TypeScript sources (tests) the build output is used too. */
function workerScript(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const compiled = path.join(here, 'ort-worker.js');
  if (existsSync(compiled)) return compiled;
  const fromSources = path.resolve(here, '../../dist/smoothing/ort-worker.js');
  if (existsSync(fromSources)) return fromSources;
  throw new ArqError('the ONNX Runtime worker is not built; run `npm run build`');
}

export async function ortSampler(model: LoadedModel, options: SamplerOptions): Promise<Sampler> {
  const words = seedWords(options.seed);
  const classes = model.graph.shapes.get(model.graph.output)!.reduce((a, b) => a * b, 1);
  const inputSize = shapeSize(model.graph.input.shape);
  const setup: OrtWorkerSetup = {
    model: model.bytes, inputShape: [...model.graph.input.shape], rank: model.graph.input.rank, classes,
    threads: options.threads, sigma: options.sigma, batch: options.batch, ...words,
  };
  const worker = new Worker(workerScript(), { workerData: setup });
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  const pending = new Map<number, { resolve: (reply: OrtWorkerReply) => void; reject: (error: Error) => void }>();
  let nextId = 0;
  let failure: Error | undefined;
  const failAll = (error: Error) => {
    failure ??= error;
    for (const { reject } of pending.values()) reject(error);
    pending.clear();
  };
  worker.on('message', (reply: OrtWorkerReply) => {
    const waiter = pending.get(reply.id);
    pending.delete(reply.id);
    if (!waiter) return;
    if (reply.error) waiter.reject(new ArqError(reply.error));
    else waiter.resolve(reply);
  });
  worker.on('error', (error) => failAll(error));
  worker.on('exit', (code) => failAll(new ArqError(`the ONNX Runtime worker exited (code ${code})`)));
  const call = (request: WithoutId<OrtWorkerRequest>): Promise<OrtWorkerReply> => {
    if (failure) return Promise.reject(failure);
    const id = nextId++;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      worker.postMessage({ ...request, id });
    });
  };
  // Every call still waiting, and every later one, rejects at once; the worker finishes the batch ONNX Runtime may be
  // computing and ends by itself (ort-worker.ts: terminating it mid-run would abort the process).
  const shutDown = async (reason: ArqError) => {
    failAll(reason);
    worker.postMessage({ id: nextId++, kind: 'close' } satisfies OrtWorkerRequest);
    await exited;
  };
  try {
    await call({ kind: 'ready' });
  } catch (error) {
    await shutDown(new ArqError('the ort sampler could not start'));
    throw error;
  }
  return guardedSampler('ort', {
    classes,
    inputSize,
    sigma: options.sigma,
    async sample(image, imageIndex, first, count, record) {
      const reply = await call({ kind: 'sample', image, imageIndex, first, count, record });
      return { counts: reply.counts!, predictions: reply.predictions ?? null };
    },
    close: () => shutDown(new ArqError('the ort sampler is closed')),
  });
}
