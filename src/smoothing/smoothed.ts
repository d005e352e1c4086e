/**
 * The embedding API of certified prediction: a smoothed classifier over one engine, serving Cohen CERTIFY and
 * PREDICT per input with abstention, asynchronously (all sampling runs off the JavaScript thread). Each call draws
 * its noise from a fresh stream (the noise image index counts calls), so answers to different requests are
 * independent. Unless the caller fixes a seed, the noise key is drawn from the operating system's cryptographic
 * generator per instance: an adversary who could predict the noise could search for inputs that those samples
 * misclassify, and the certificate would no longer hold with probability 1 - alpha.
 */
import type { EngineName } from '../engine/classifier.js';
import type { LoadedModel } from '../onnx/model.js';
import type { Calibration } from '../quant/calibrate.js';
import type { Policy } from '../quant/policy.js';
import { ArqError } from '../util/errors.js';
import { CERTIFY_DEFAULTS, certify, predict, type CertifyResult, type SmoothPredictResult } from './certify.js';
import { createSampler, randomNoiseSeed, type Sampler } from './sampler.js';
import { NoiseStreams } from './streams.js';

export interface SmoothedClassifierOptions {
  /** 'ort' (ONNX Runtime fp32 in a worker), 'float' (native fp32, default) or 'int' (needs `quantization`). */
  readonly engine?: EngineName;
  /** Noise standard deviation in the model's input space ([0,1] images). */
  readonly sigma: number;
  /**
   * Noise seed, for reproducible experiments only. Default: a fresh 64-bit key from the operating system's
   * cryptographic generator per instance, so that nobody can predict the noise (a fixed seed voids the certificate
   * against an adversary who knows it).
   */
  readonly seed?: number;
  /** Noisy copies per classifier call (default 400). */
  readonly batch?: number;
  /** Threads (default: all cores). */
  readonly threads?: number;
  readonly quantization?: { readonly policy: Policy; readonly calibration: Calibration };
}

export class SmoothedClassifier {
  private readonly streams = new NoiseStreams('this smoothed classifier', 'create a new one with another seed, or none (a random key)');
  private closed = false;

  private constructor(private readonly sampler: Sampler) {}

  static async create(model: LoadedModel, options: SmoothedClassifierOptions): Promise<SmoothedClassifier> {
    const { cpuInfo } = await import('../native.js');
    const sampler = await createSampler(model, options.engine ?? 'float', {
      sigma: options.sigma,
      seed: options.seed ?? randomNoiseSeed(),
      batch: options.batch ?? 400,
      threads: options.threads ?? cpuInfo().threads,
      quantization: options.quantization,
    });
    return new SmoothedClassifier(sampler);
  }

  get classes(): number {
    return this.sampler.classes;
  }

  /**
   * Cohen CERTIFY: with probability at least 1 - alpha over the noise, when `prediction` is not ABSTAIN (-1) the
   * smoothed classifier returns it everywhere within l2 `radius` of `image`. Defaults n0 = 100, n = 100,000,
   * alpha = 0.001. Rejects (before any sampling) an image that is not the model's input size or holds values that
   * are not image values (NaN, infinities, anything far outside [0, 1]), and any call after close().
   */
  async certify(image: Float32Array, options: { n0?: number; n?: number; alpha?: number; signal?: AbortSignal } = {}): Promise<CertifyResult> {
    return certify(this.sampler, image, this.stream(), {
      n0: options.n0 ?? CERTIFY_DEFAULTS.n0,
      n: options.n ?? CERTIFY_DEFAULTS.n,
      alpha: options.alpha ?? CERTIFY_DEFAULTS.alpha,
      signal: options.signal,
    });
  }

  /**
   * Cohen PREDICT: the smoothed classifier's class, or ABSTAIN; wrong with probability at most alpha (defaults
   * n = 1,000, alpha = 0.001). Rejects bad images and calls after close() as certify does.
   */
  async predict(image: Float32Array, options: { n?: number; alpha?: number; signal?: AbortSignal } = {}): Promise<SmoothPredictResult> {
    return predict(this.sampler, image, this.stream(), { n: options.n ?? 1000, alpha: options.alpha ?? CERTIFY_DEFAULTS.alpha, signal: options.signal });
  }

  /**
   * Releases the engine (the ONNX Runtime worker; the promise resolves once it has finished the batch ONNX Runtime
   * may be computing and ended). Calls in flight settle: with ONNX Runtime they reject at once, with a native plan
   * they finish the chunk of samples being drawn and reject before the next one (or resolve, when it was their last).
   * Later calls reject at once; calling close() again is harmless.
   */
  close(): Promise<void> {
    this.closed = true;
    return this.sampler.close();
  }

  private stream(): number {
    if (this.closed) throw new ArqError('this SmoothedClassifier is closed; create a new one');
    return this.streams.take();
  }
}
