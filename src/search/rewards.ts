/**
 * The rewards of search.md, measured on the validation subset:
 * - `arq`:     R = lambda (ACR_q - ACR_fp). ACR_fp comes from CERTIFY of the float model (which also filled the IRS
 *              cache); ACR_q from IRS of the candidate's integer plan on the same images with the same noise (the
 *              noise is a function of seed, image and sample number, so every candidate sees identical noise:
 *              common random numbers). Wrong or abstained images count radius 0, so R also pays for accuracy.
 * - `arq-acc`: adds lambda (acc_q - acc_fp), acc the smoothed accuracy (certified correct at radius 0).
 * - `haq`:     R = lambda (acc_q - acc_fp) on the clean (noise-free) accuracy of the base classifiers: HAQ's reward.
 * - `arq-soft`: R = lambda (S_q - S_fp), S the mean over images of (radius + soft) / 2, soft = +-sigma
 *              Phi^-1((k + 1/2) / (m + 1)) with k the count of the certified class among the m samples IRS drew for
 *              the candidate (the float model's first m recorded samples for S_fp), + when that class is the label and
 *              - otherwise. The radius is capped by IRS's bounds and is 0 on every wrong or abstained image; the soft
 *              score keeps ranking candidates there, so fewer images separate two candidates.
 * IRS's ACR_q is biased low against ACR_fp by its disagreement bound zeta (n_p samples instead of n); the bias is
 * nearly the same for every candidate, so it shifts rewards without reordering them.
 */
import { policyKey, type Policy } from '../quant/policy.js';
import type { IntPlan, LayerBits } from '../engine/int-plan.js';
import type { FloatPlan } from '../engine/float-plan.js';
import type { Dataset } from '../data/index.js';
import { accuracyOf } from '../engine/predict.js';
import { certifyIncremental, type IrsResult } from '../smoothing/irs.js';
import { normalQuantile } from '../smoothing/bounds.js';
import { nativeSampler } from '../smoothing/sampler.js';
import type { IrsCacheEntry } from '../smoothing/irs-cache.js';
import { averageCertifiedRadius, certifiedAccuracy } from '../smoothing/results.js';
import type { CandidateBuilder } from './candidate.js';
import type { RewardName, RewardParts } from '../report/types.js';

/** Images and labels of one validation set, NCHW in [0, 1]. */
export interface ImageSet {
  readonly images: Float32Array;
  readonly labels: Int32Array;
  /** Dataset indices (the noise's image numbers). */
  readonly indices: readonly number[];
}

/** What the float model measured once per search, against which candidates are rewarded. */
export interface FloatReference {
  /** The images certified (IRS cache records exist for each). */
  readonly certified: ImageSet;
  readonly cache: ReadonlyMap<number, IrsCacheEntry>;
  readonly n0: number;
  readonly alpha: number;
  readonly acr: number;
  readonly smoothedAccuracy: number;
  /** The float model's mean `arq-soft` score over the certified images, from its recorded samples. */
  readonly score: number;
  /** The images of the clean-accuracy reward. */
  readonly clean: Dataset;
  readonly cleanAccuracy: number;
}

export interface RewardOptions {
  readonly reward: RewardName;
  /** Scale of every reward term (search.md: 0.1). */
  readonly lambda: number;
  readonly sigma: number;
  /** The noise seed of the float reference's certification. */
  readonly seed: number;
  /** IRS samples of the candidate per image. */
  readonly np: number;
  readonly threads: number;
}

export interface RewardOutcome {
  reward: number;
  parts: RewardParts;
  /** Seconds fine-tuning (0 without), building the integer plan and measuring the reward (all 0 when `repeated`). */
  finetuneSeconds: number;
  quantizeSeconds: number;
  certifySeconds: number;
  /** The policy was measured before by this function: its reward was reused, not measured again. */
  repeated: boolean;
}

export const DEFAULT_LAMBDA = 0.1;

/** Clean (noise-free) top-1 accuracy of a plan, fp32 or integer. */
export function cleanAccuracy(plan: FloatPlan | IntPlan, data: Dataset, threads: number): Promise<number> {
  return accuracyOf((images, batch) => plan.run(images, batch, threads), plan.classes, data, 0, 0);
}

/** What a reward needs of its float reference to measure a candidate (FloatReference, or the same rebuilt elsewhere). */
export type MeasureTarget = Pick<FloatReference, 'certified' | 'cache' | 'n0' | 'alpha' | 'clean'>;

/** How a candidate is measured: by IRS on the certified images (every `arq` reward) or by clean accuracy (`haq`). */
export type MeasureKind = 'irs' | 'clean';

export const measureKindOf = (reward: RewardName): MeasureKind => (reward === 'haq' ? 'clean' : 'irs');

/** The candidate's side of a reward: what its plan measured ('irs': acr, smoothedAccuracy, score; 'clean': accuracy) and the seconds it took. */
export interface CandidateMeasurement {
  readonly acr?: number;
  readonly smoothedAccuracy?: number;
  readonly score?: number;
  readonly cleanAccuracy?: number;
  readonly finetuneSeconds: number;
  readonly quantizeSeconds: number;
  readonly certifySeconds: number;
}

/** Measures policies' candidates elsewhere (a queue's workers), in order: what measureCandidate gives for each. */
export type RemoteMeasurer = (policies: readonly Policy[], signal?: AbortSignal) => Promise<CandidateMeasurement[]>;

/** Builds a policy's candidate and measures it against `target` (the work of one reward; on a worker as here). */
export async function measureCandidate(
  candidates: CandidateBuilder, target: MeasureTarget, kind: MeasureKind, options: Pick<RewardOptions, 'sigma' | 'seed' | 'np' | 'threads'>, policy: Policy, signal?: AbortSignal,
): Promise<CandidateMeasurement> {
  const { plan, quantizeSeconds, finetuneSeconds } = await candidates.build(policy, signal);
  const startCertify = performance.now();
  const measured = kind === 'clean'
    ? { cleanAccuracy: await cleanAccuracy(plan, target.clean, options.threads) }
    : await incrementalAcr(plan, target, options, signal);
  return { ...measured, finetuneSeconds, quantizeSeconds, certifySeconds: (performance.now() - startCertify) / 1000 };
}

/**
 * Measures a candidate policy's reward against the float reference. A reward is a function of the policy alone: the
 * same images, the same noise (common random numbers) and a seeded fine-tune give the same plan and the same counts.
 * So each policy is measured once per function and a repeat (an agent that exploits, or another search sharing this
 * function) reuses its reward: the search computes the same numbers without building and sampling the plan again.
 * Candidates are measured here one after the other, or by `remote` (a queue), in batches, with the same numbers.
 */
export class RewardFunction {
  /** Reward and parts of every policy measured, by its per-layer widths. */
  private readonly measured = new Map<string, { reward: number; parts: RewardParts }>();

  constructor(
    private readonly candidates: CandidateBuilder,
    private readonly reference: FloatReference,
    private readonly options: RewardOptions,
    private readonly remote?: RemoteMeasurer,
  ) {}

  async evaluate(policy: Policy, signal?: AbortSignal): Promise<RewardOutcome> {
    return (await this.evaluateAll([policy], signal))[0];
  }

  /**
   * The outcomes of `policies`, in order, as evaluate() one after the other gives them: a policy measured before, or
   * earlier in the list, is `repeated`; the others are measured (at once, when remote).
   */
  async evaluateAll(policies: readonly Policy[], signal?: AbortSignal): Promise<RewardOutcome[]> {
    const fresh = new Map<string, Policy>();
    for (const policy of policies) {
      const key = policyKey(policy.layers);
      if (!this.measured.has(key) && !fresh.has(key)) fresh.set(key, policy);
    }
    const measurements = new Map<string, CandidateMeasurement>();
    if (this.remote && fresh.size > 0) {
      const results = await this.remote([...fresh.values()], signal);
      [...fresh.keys()].forEach((key, k) => measurements.set(key, results[k]));
    } else {
      for (const [key, policy] of fresh) measurements.set(key, await measureCandidate(this.candidates, this.reference, measureKindOf(this.options.reward), this.options, policy, signal));
    }
    for (const [key, m] of measurements) this.measured.set(key, this.rewardOf(m));
    const told = new Set<string>();
    return policies.map((policy) => {
      const key = policyKey(policy.layers);
      const { reward, parts } = this.measured.get(key)!;
      const m = measurements.get(key);
      if (!m || told.has(key)) return { reward, parts: { ...parts }, finetuneSeconds: 0, quantizeSeconds: 0, certifySeconds: 0, repeated: true };
      told.add(key);
      return { reward, parts: { ...parts }, finetuneSeconds: m.finetuneSeconds, quantizeSeconds: m.quantizeSeconds, certifySeconds: m.certifySeconds, repeated: false };
    });
  }

  /** Takes the rewards this function measured before (a resumed search's episodes) as measured. */
  recall(records: readonly { policy: readonly LayerBits[]; reward: number; reward_parts: RewardParts }[]): void {
    for (const r of records) this.measured.set(policyKey(r.policy), { reward: r.reward, parts: { ...r.reward_parts } });
  }

  /** The reward of a candidate's measurement against the float reference. */
  private rewardOf(m: CandidateMeasurement): { reward: number; parts: RewardParts } {
    const { lambda } = this.options;
    const ref = this.reference;
    if (this.options.reward === 'haq') {
      return { reward: lambda * (m.cleanAccuracy! - ref.cleanAccuracy), parts: { clean_accuracy: m.cleanAccuracy!, clean_accuracy_float: ref.cleanAccuracy } };
    }
    const parts: RewardParts = { acr: m.acr!, acr_float: ref.acr, smoothed_accuracy: m.smoothedAccuracy!, smoothed_accuracy_float: ref.smoothedAccuracy };
    if (this.options.reward === 'arq-soft') return { reward: lambda * (m.score! - ref.score), parts: { ...parts, score: m.score!, score_float: ref.score } };
    let reward = lambda * (m.acr! - ref.acr);
    if (this.options.reward === 'arq-acc') reward += lambda * (m.smoothedAccuracy! - ref.smoothedAccuracy);
    return { reward, parts };
  }
}

/** ACR and smoothed accuracy of the plan's smoothed classifier by IRS over the certified validation images. */
async function incrementalAcr(plan: IntPlan, target: MeasureTarget, options: Pick<RewardOptions, 'sigma' | 'seed' | 'np' | 'threads'>, signal?: AbortSignal): Promise<{ acr: number; smoothedAccuracy: number; score: number }> {
  const { certified, cache, n0, alpha } = target;
  const { sigma, seed, np, threads } = options;
  const per = certified.images.length / certified.labels.length;
  const sampler = nativeSampler(plan, per, { sigma, seed, batch: Math.min(np, 1000), threads });
  const outcomes: { correct: boolean; radius: number }[] = [];
  let scoreSum = 0;
  for (let k = 0; k < certified.indices.length; k++) {
    const idx = certified.indices[k];
    const entry = cache.get(idx)!;
    const result = await certifyIncremental(sampler, certified.images.subarray(k * per, (k + 1) * per), idx, entry, { n0, np, alpha, signal });
    const correct = result.prediction === certified.labels[k];
    outcomes.push({ correct, radius: result.radius });
    scoreSum += imageScore(correct ? result.radius : 0, softOfIrs(result, entry, certified.labels[k], np, sigma));
  }
  const count = certified.indices.length;
  return { acr: averageCertifiedRadius(outcomes), smoothedAccuracy: certifiedAccuracy(outcomes, 0), score: scoreSum / count };
}

/** sigma Phi^-1((k + 1/2) / (m + 1)): a continuous margin of k votes out of m (finite at k = 0 and k = m). */
export function softMargin(k: number, m: number, sigma: number): number {
  return sigma * normalQuantile((k + 0.5) / (m + 1));
}

/** `arq-soft`'s per-image score: the certified radius (0 when wrong or abstained) and the soft margin, equally weighted. */
export function imageScore(radius: number, soft: number): number {
  return (radius + soft) / 2;
}

/** The soft margin of the float model on one image from its first `m` recorded samples (what IRS compares against). */
export function floatSoft(entry: IrsCacheEntry, label: number, m: number, sigma: number): number {
  const used = Math.min(m, entry.predictions.length);
  let k = 0;
  for (let i = 0; i < used; i++) if (entry.predictions[i] === entry.classA) k++;
  return signedSoft(k, used, entry.classA === label, sigma);
}

/**
 * The soft margin of a candidate from its IRS result: the count of f's class cA among the samples it drew, + when cA
 * is the label; where IRS drew nothing (f abstained), the float model's own margin stands in.
 */
function softOfIrs(result: IrsResult, entry: IrsCacheEntry, label: number, np: number, sigma: number): number {
  if (result.countA === null || result.samples === 0) return floatSoft(entry, label, np, sigma);
  return signedSoft(result.countA, result.samples, entry.classA === label, sigma);
}

/** The margin of cA's k votes of m, for the label: + when cA is the label; else the margin of the m - k other votes at most. */
function signedSoft(k: number, m: number, isLabel: boolean, sigma: number): number {
  return isLabel ? softMargin(k, m, sigma) : softMargin(m - k, m, sigma);
}
