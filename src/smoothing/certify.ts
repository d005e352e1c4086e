/**
 * Cohen et al. (ICML 2019), "Certified Adversarial Robustness via Randomized Smoothing": PREDICT and CERTIFY for the
 * smoothed classifier g(x) = argmax_c P(f(x + e) = c), e ~ N(0, sigma^2 I), of the base classifier that a Sampler
 * runs. Samples are drawn in chunks so progress can be reported and an AbortSignal can stop between chunks; the
 * statistics come from bounds.ts.
 *
 * Sample numbering (a sample's noise is a function of seed, image index and sample number only):
 * - CERTIFY: selection samples 0 .. n0-1, estimation samples n0 .. n0+n-1 (the IRS cache records f's prediction
 *   on each estimation sample, so irs.ts can re-create the same noise vectors for f').
 * - PREDICT: samples 0 .. n-1.
 */
import { indexOfMax } from '../engine/classifier.js';
import type { Sampler } from './sampler.js';
import { binomialTestPValue, clopperPearsonLower, normalQuantile } from './bounds.js';
import { ArqError } from '../util/errors.js';
import { integerInRange } from '../util/check.js';
import { checkFailureProbability, checkN, checkN0, MAX_SAMPLES } from '../engine/settings.js';

/** The prediction of a smoothed classifier that declines to decide; it always comes with radius 0. */
export const ABSTAIN = -1;

/** Default number of samples per sampler call (progress and cancellation granularity). */
export const DEFAULT_CHUNK = 10_000;

/** Cohen's defaults: n0 = 100 selection samples, n = 100,000 estimation samples, alpha = 0.001. */
export const CERTIFY_DEFAULTS = { n0: 100, n: 100_000, alpha: 0.001 } as const;

export interface PredictOptions {
  /** Number of noise samples. */
  n: number;
  /** Probability of returning a class other than g(x) (the test's level). */
  alpha: number;
  /** Samples per sampler call (default 10,000). */
  chunk?: number;
  /** Called after each chunk with the number of samples drawn so far for this image. */
  onSamples?: (done: number) => void;
  /** Checked between chunks; an aborted signal rejects with its reason. */
  signal?: AbortSignal;
}

export interface SmoothPredictResult {
  /** The predicted class, or ABSTAIN. */
  prediction: number;
  /** Class counts over the n samples. */
  counts: Uint32Array;
  /** Two-sided binomial test p-value of the top two counts (the class is returned when it is <= alpha). */
  pValue: number;
  /** Noise samples drawn (n). */
  samples: number;
  seconds: number;
}

export interface CertifyOptions {
  /** Selection samples (Cohen: 100). */
  n0: number;
  /** Estimation samples (Cohen: 100,000). */
  n: number;
  /** Failure probability of the certificate (Cohen: 0.001). */
  alpha: number;
  /** Samples per sampler call (default 10,000). */
  chunk?: number;
  /** Return the base classifier's prediction on each estimation sample (for an IRS cache). */
  record?: boolean;
  /** Called after each chunk with the number of samples drawn so far for this image (of n0 + n). */
  onSamples?: (done: number) => void;
  /** Checked between chunks; an aborted signal rejects with its reason. */
  signal?: AbortSignal;
}

export interface CertifyResult {
  /** The certified class cA, or ABSTAIN. */
  prediction: number;
  /** Certified L2 radius sigma * Phi^-1(pALower); 0 when abstaining. */
  radius: number;
  /** One-sided (1 - alpha) Clopper-Pearson lower bound on P(f(x + e) = cA). */
  pALower: number;
  /** The class selected on the n0 selection samples (also when abstaining). */
  classA: number;
  /** Count of cA over the n estimation samples. */
  countA: number;
  /** Class counts over the n estimation samples. */
  counts: Uint32Array;
  /** Class counts over the n0 selection samples. */
  selectionCounts: Uint32Array;
  /** Noise samples drawn (n0 + n). */
  samples: number;
  seconds: number;
  /** With `record`: the base classifier's class on estimation samples n0 .. n0+n-1 (one byte each). */
  predictions?: Uint8Array;
}

function checkImage(sampler: Sampler, image: Float32Array, imageIndex: number): void {
  if (!(image instanceof Float32Array) || image.length !== sampler.inputSize) {
    throw new ArqError(`image: expected a Float32Array of ${sampler.inputSize} values, got ${image instanceof Float32Array ? image.length : typeof image} values`);
  }
  integerInRange('imageIndex', imageIndex, 0, 2 ** 32 - 1);
}


/**
 * Counts (and optionally predictions) over samples first .. first+count-1, drawn in chunks. `onChunk` receives the
 * number of samples drawn by this call so far. Exported for irs.ts.
 */
export async function drawSamples(
  sampler: Sampler,
  image: Float32Array,
  imageIndex: number,
  first: number,
  count: number,
  options: { chunk?: number; record?: boolean; signal?: AbortSignal; onChunk?: (drawn: number) => void },
): Promise<{ counts: Uint32Array; predictions: Uint8Array | null }> {
  const chunk = integerInRange('chunk', options.chunk ?? DEFAULT_CHUNK, 1, MAX_SAMPLES);
  const record = options.record ?? false;
  if (first + count > MAX_SAMPLES) throw new ArqError(`samples ${first} .. ${first + count - 1} exceed the noise counter range (2^32 samples per image)`);
  if (record && sampler.classes > 256) throw new ArqError(`recording predictions needs at most 256 classes, the model has ${sampler.classes}`);
  const counts = new Uint32Array(sampler.classes);
  const predictions = record ? new Uint8Array(count) : null;
  for (let done = 0; done < count; ) {
    options.signal?.throwIfAborted();
    const size = Math.min(chunk, count - done);
    const part = await sampler.sample(image, imageIndex, first + done, size, record);
    if (part.counts.length !== sampler.classes) throw new ArqError(`sampler returned ${part.counts.length} class counts for ${sampler.classes} classes`);
    for (let c = 0; c < counts.length; c++) counts[c] += part.counts[c];
    if (predictions) {
      if (!part.predictions || part.predictions.length !== size) throw new ArqError(`sampler returned no predictions for ${size} recorded samples`);
      predictions.set(part.predictions, done);
    }
    done += size;
    options.onChunk?.(done);
  }
  return { counts, predictions };
}

/**
 * Cohen's PREDICT: counts classes over n noisy samples and returns the top class cA if the two-sided binomial test
 * of its count nA against the runner-up's nB (nA successes in nA + nB trials, p = 1/2) has p-value <= alpha, else
 * ABSTAIN. With probability at least 1 - alpha over the noise, the returned class is g(x) (the prediction is either
 * g(x) or an abstention).
 */
export async function predict(sampler: Sampler, image: Float32Array, imageIndex: number, options: PredictOptions): Promise<SmoothPredictResult> {
  checkImage(sampler, image, imageIndex);
  const n = checkN(options.n);
  const alpha = checkFailureProbability(options.alpha);
  const start = performance.now();
  const { counts } = await drawSamples(sampler, image, imageIndex, 0, n, { chunk: options.chunk, signal: options.signal, onChunk: options.onSamples });
  const top = indexOfMax(counts); // the first on ties, as numpy's argmax
  let runnerUp = top === 0 ? 1 : 0;
  for (let c = 0; c < counts.length; c++) if (c !== top && counts[c] > counts[runnerUp]) runnerUp = c;
  const nA = counts[top];
  const nB = runnerUp < counts.length ? counts[runnerUp] : 0;
  const pValue = binomialTestPValue(nA, nA + nB);
  return { prediction: pValue <= alpha ? top : ABSTAIN, counts, pValue, samples: n, seconds: (performance.now() - start) / 1000 };
}

/**
 * CERTIFY's decision from its class counts: cA the top class of the n0 selection samples (the first on ties), pALower
 * the (1 - alpha) Clopper-Pearson lower bound of cA's count among the n estimation samples, and the certificate when
 * pALower > 1/2. The counts may have been drawn in any number of parts (the queue's sample ranges), summed.
 */
export function certificateOf(selectionCounts: Uint32Array, estimationCounts: Uint32Array, n: number, alpha: number, sigma: number): Pick<CertifyResult, 'prediction' | 'radius' | 'pALower' | 'classA' | 'countA'> {
  const classA = indexOfMax(selectionCounts);
  const countA = estimationCounts[classA];
  const pALower = clopperPearsonLower(countA, n, alpha);
  const certified = pALower > 0.5;
  return { prediction: certified ? classA : ABSTAIN, radius: certified ? sigma * normalQuantile(pALower) : 0, pALower, classA, countA };
}

/**
 * Cohen's CERTIFY: selects cA as the top class over n0 selection samples, counts cA over n fresh estimation
 * samples, and bounds pA = P(f(x + e) = cA) from below by the one-sided (1 - alpha) Clopper-Pearson bound pALower.
 * If pALower > 1/2 it returns (cA, sigma * Phi^-1(pALower)), else (ABSTAIN, 0).
 *
 * Guarantee: with probability at least 1 - alpha over the noise, if it returns a class cA with radius R then
 * g(x + delta) = cA for every ||delta||_2 < R.
 */
export async function certify(sampler: Sampler, image: Float32Array, imageIndex: number, options: CertifyOptions): Promise<CertifyResult> {
  checkImage(sampler, image, imageIndex);
  const n0 = checkN0(options.n0);
  const n = checkN(options.n, n0);
  const alpha = checkFailureProbability(options.alpha);
  const record = options.record ?? false;
  const start = performance.now();
  const common = { chunk: options.chunk, signal: options.signal };
  const selection = await drawSamples(sampler, image, imageIndex, 0, n0, { ...common, onChunk: (d) => options.onSamples?.(d) });
  const estimation = await drawSamples(sampler, image, imageIndex, n0, n, { ...common, record, onChunk: (d) => options.onSamples?.(n0 + d) });
  const result: CertifyResult = {
    ...certificateOf(selection.counts, estimation.counts, n, alpha, sampler.sigma),
    counts: estimation.counts,
    selectionCounts: selection.counts,
    samples: n0 + n,
    seconds: (performance.now() - start) / 1000,
  };
  if (estimation.predictions) result.predictions = estimation.predictions;
  return result;
}
