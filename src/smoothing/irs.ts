/**
 * Incremental Randomized Smoothing (Ugare et al., ICLR 2024): certify a modified base classifier f' (here a
 * quantized plan) by reusing what certifying the original f left behind, per image: the class cA f selected, f's
 * one-sided (1 - alpha) lower bound pALower on P(f(x + e) = cA), and f's class on each estimation noise sample
 * (samples n0, n0+1, ... of the same seed, which the counter-based noise re-creates exactly).
 *
 * - pALower < gamma: run f' on the first n_p of those noise samples (numbers n0 .. n0+n_p-1), count the samples
 *   where f' disagrees with f's recorded class, and bound the disagreement rate P(f(x+e) != f'(x+e)) from above by
 *   the one-sided (1 - alphaZeta) Clopper-Pearson bound zeta. Since P(f'(x+e) = cA) >= pA - zeta, return
 *   (cA, sigma * Phi^-1(pALower - zeta)) if pALower - zeta > 1/2, else abstain.
 * - pALower >= gamma (where subtracting zeta costs the most radius): estimate P(f'(x+e) = cA) directly with the one-
 *   sided Clopper-Pearson lower bound at confidence 1 - (alpha + alphaZeta) from f''s classes on n_p fresh noise
 *   samples, numbers n0+n .. n0+n+n_p-1 (after all f drew, so independent of the selection of cA and of the branch
 *   decision, as the paper's fresh samples); certify if the bound exceeds 1/2.
 * - When f abstained (pALower <= 1/2) the first branch must abstain whatever zeta is, so no sample is drawn: the
 *   output is the same as the algorithm's, only faster.
 *
 * Guarantee: with probability at least 1 - (alpha + alphaZeta) over the noise, if it returns a class cA with radius
 * R then the smoothed f' is cA on the whole L2 ball of radius R around x (alpha being the level of f's pALower).
 */
import type { Sampler } from './sampler.js';
import { clopperPearsonLower, clopperPearsonUpper, normalQuantile } from './bounds.js';
import { ABSTAIN, drawSamples } from './certify.js';
import { ArqError } from '../util/errors.js';
import { integerInRange, numberInRange } from '../util/check.js';
import { checkFailureProbability, checkN0 } from '../engine/settings.js';

/**
 * Defaults of smoothing.md (alpha = alphaZeta = 0.001, gamma = 0.99) and n_p = 5% of f's estimation samples
 * (5,000 of Cohen's n = 100,000: the zero-disagreement zeta is then 1.4e-3).
 */
export const IRS_DEFAULTS = { alpha: 0.001, alphaZeta: 0.001, gamma: 0.99, npFraction: 0.05 } as const;

/** n_p for f's n estimation samples under the default fraction: ceil(5% of n), at least 1. */
export function defaultNp(n: number): number {
  return Math.max(1, Math.ceil(IRS_DEFAULTS.npFraction * n));
}

/** What certifying f recorded for one image (an IRS cache record holds these). */
export interface IrsReference {
  /** The class f selected on its n0 selection samples (recorded also when f abstained). */
  classA: number;
  /** f's one-sided (1 - alpha) Clopper-Pearson lower bound on P(f(x + e) = classA). */
  pALower: number;
  /** f's class on estimation samples n0 .. n0+n-1. */
  predictions: Uint8Array;
}

export interface IrsOptions {
  /** First estimation sample number of f's run (its n0): f's recorded predictions start there. */
  n0: number;
  /** Samples of f' (default: defaultNp(number of recorded predictions)); at most the number recorded. */
  np?: number;
  /** The level of f's pALower; the estimate branch runs at 1 - (alpha + alphaZeta). Default 0.001. */
  alpha?: number;
  /** Failure probability of the disagreement bound zeta. Default 0.001. */
  alphaZeta?: number;
  /** pALower threshold above which f' is estimated directly. Default 0.99. */
  gamma?: number;
  /** Samples per sampler call (default 10,000). */
  chunk?: number;
  /** Called after each chunk with the number of samples drawn so far for this image (of n_p). */
  onSamples?: (done: number) => void;
  /** Checked between chunks; an aborted signal rejects with its reason. */
  signal?: AbortSignal;
}

export interface IrsResult {
  /** The certified class cA, or ABSTAIN. */
  prediction: number;
  /** Certified L2 radius of the smoothed f'; 0 when abstaining. */
  radius: number;
  /**
   * Which path ran: 'zeta' (pALower < gamma: f's bound minus zeta), 'estimate' (pALower >= gamma: f' estimated
   * directly) or 'f-abstained' (f's pALower <= 1/2: abstain without sampling).
   */
  branch: 'zeta' | 'estimate' | 'f-abstained';
  /** The lower bound on P(f'(x + e) = cA) behind the certificate: pALower - zeta, or the estimate. */
  pALower: number;
  /** Upper bound on the disagreement rate ('zeta' branch only, else null). */
  zeta: number | null;
  /** Samples where f' and f disagree among the n_p ('zeta' branch only, else null). */
  disagreements: number | null;
  /** Count of cA among f''s n_p samples (null when none were drawn). */
  countA: number | null;
  /** Noise samples drawn for f'. */
  samples: number;
  seconds: number;
}

/**
 * Certifies f' at image x from f's reference (see the module comment). With probability at least
 * 1 - (alpha + alphaZeta) over the noise, a returned class cA with radius R is the smoothed f''s prediction on the
 * whole L2 ball of radius R around x.
 */
export async function certifyIncremental(
  sampler: Sampler,
  image: Float32Array,
  imageIndex: number,
  reference: IrsReference,
  options: IrsOptions,
): Promise<IrsResult> {
  const start = performance.now();
  const recorded = reference.predictions.length;
  if (recorded < 1) throw new ArqError('IRS: the reference holds no recorded predictions of f');
  const n0 = checkN0(options.n0);
  const np = integerInRange('np', options.np ?? defaultNp(recorded), 1, recorded);
  const alpha = checkFailureProbability(options.alpha ?? IRS_DEFAULTS.alpha);
  const alphaZeta = checkFailureProbability(options.alphaZeta ?? IRS_DEFAULTS.alphaZeta, 'alphaZeta');
  if (alpha + alphaZeta >= 1) throw new ArqError(`IRS: alpha + alphaZeta must be below 1, got ${alpha + alphaZeta}`);
  const gamma = numberInRange('gamma', options.gamma ?? IRS_DEFAULTS.gamma, 0, 1);
  const classA = integerInRange('classA', reference.classA, 0, sampler.classes - 1);
  const fBound = numberInRange('pALower', reference.pALower, 0, 1);
  if (image.length !== sampler.inputSize) throw new ArqError(`image: expected ${sampler.inputSize} values, got ${image.length}`);

  const seconds = (): number => (performance.now() - start) / 1000;
  const abstain = { prediction: ABSTAIN, radius: 0 };
  if (fBound <= 0.5) {
    return { ...abstain, branch: 'f-abstained', pALower: fBound, zeta: null, disagreements: null, countA: null, samples: 0, seconds: seconds() };
  }

  if (fBound < gamma) {
    const { counts, predictions } = await drawSamples(sampler, image, imageIndex, n0, np, {
      chunk: options.chunk, record: true, signal: options.signal, onChunk: options.onSamples,
    });
    let disagreements = 0;
    for (let i = 0; i < np; i++) if (predictions![i] !== reference.predictions[i]) disagreements++;
    const zeta = clopperPearsonUpper(disagreements, np, alphaZeta);
    const bound = fBound - zeta;
    const certified = bound > 0.5;
    return {
      ...(certified ? { prediction: classA, radius: sampler.sigma * normalQuantile(bound) } : abstain),
      branch: 'zeta', pALower: bound, zeta, disagreements, countA: counts[classA], samples: np, seconds: seconds(),
    };
  }
  // Fresh samples, after every sample f drew: independent of cA's selection and of the branch decision.
  const { counts } = await drawSamples(sampler, image, imageIndex, n0 + recorded, np, {
    chunk: options.chunk, signal: options.signal, onChunk: options.onSamples,
  });
  const countA = counts[classA];
  const bound = clopperPearsonLower(countA, np, alpha + alphaZeta);
  const certified = bound > 0.5;
  return {
    ...(certified ? { prediction: classA, radius: sampler.sigma * normalQuantile(bound) } : abstain),
    branch: 'estimate', pALower: bound, zeta: null, disagreements: null, countA, samples: np, seconds: seconds(),
  };
}
