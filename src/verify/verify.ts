/**
 * Complete l-infinity verification of the integer plan arq deploys (issue 16; QA-IBP, Lechner et al. AAAI 2023).
 * The network verified is always the integer plan of the model under the policy and calibration given: a float
 * model is verified as the quantized plan it would deploy, never as its float self.
 *
 * Per image: the plan's class of the clean image (an image it misclassifies is falsified at every radius, the image
 * itself the counterexample). Then per radius, smallest first, on the box of boxOf() (every float32 input within
 * eps, clipped to [0, 1]):
 *   1. nested: a counterexample of a smaller radius lies in this box too;
 *   2. IBP: interval bounds of the box through the plan (native/verify) prove the label for the whole box;
 *   3. attack: targeted PGD on the QAT surrogate (attack.ts), each candidate run through the plan;
 *   4. branch and bound (native/verify) with the time the radius has left.
 * Verdicts: verified (a proof over the whole box), falsified (an input in the box that the plan, re-run here,
 * does not classify as the label), or timeout. No verdict rests on the surrogate.
 *
 * Images go through in groups of `threads`, so that the native calls (bounds, branch and bound) run one box per
 * thread; a group's results are reported (onImage) when its last radius is done.
 */
import { checkSelection, selectEvery, type Dataset } from '../data/index.js';
import { indexOfMax } from '../engine/classifier.js';
import type { LoadedModel } from '../onnx/model.js';
import { cancelFlag, cpuInfo, VERIFY_OUTCOME, VERIFY_STAGE, type VerifyResult } from '../native.js';
import type { Calibration } from '../quant/calibrate.js';
import { IntPlan } from '../engine/int-plan.js';
import type { Policy } from '../quant/policy.js';
import { QatNet } from '../train/qat.js';
import { integerInRange, numberInRange } from '../util/check.js';
import { ArqError } from '../util/errors.js';
import { ATTACK_DEFAULTS, attack, targetOrder } from './attack.js';
import { boxOf, insideBox, type Box } from './box.js';
import { parseEpsilons, type Epsilon } from './eps.js';
import { checkSeed, checkThreads } from '../engine/settings.js';

export const OUTCOMES = ['verified', 'falsified', 'timeout'] as const;
export type Outcome = (typeof OUTCOMES)[number];

/**
 * What decided a radius: the clean image already misclassified, a smaller radius's counterexample, interval
 * bounds, the attack, the branch and bound (its own bounds or splits), or nothing (timeout).
 */
export const STAGES = ['clean', 'nested', 'ibp', 'attack', 'branch-and-bound', 'none'] as const;
export type Stage = (typeof STAGES)[number];

export const VERIFY_DEFAULTS = { timeout: 20, seed: 0, ...ATTACK_DEFAULTS } as const;

export interface EpsilonResult {
  /** The radius as given. */
  readonly eps: string;
  readonly outcome: Outcome;
  readonly stage: Stage;
  /** Seconds spent on this radius. */
  readonly seconds: number;
  /** Input splits of the branch and bound. */
  readonly splits: number;
  /** Falsified: an input inside the box and the plan's class for it (re-run through the plan, never the label). */
  readonly counterexample?: { readonly image: Float32Array; readonly prediction: number };
}

export interface ImageVerification {
  /** Index in the dataset. */
  readonly idx: number;
  readonly label: number;
  /** The integer plan's class of the clean image. */
  readonly prediction: number;
  /** Per radius, in the order given. */
  readonly results: readonly EpsilonResult[];
  readonly seconds: number;
  readonly splits: number;
}

export interface VerifyOptions {
  readonly model: LoadedModel;
  /** The policy and calibration of the integer plan (prepareQuantization() gives both, as certify --engine int does). */
  readonly quantization: { readonly policy: Policy; readonly calibration: Calibration };
  readonly dataset: Dataset;
  /** Radii in [0, 1] image units: numbers, strings such as "4/255", or one comma-separated string. */
  readonly eps: string | readonly (number | string)[];
  /** Seconds per image and radius (default 20): IBP, attack and branch and bound together. */
  readonly timeout?: number;
  /** Default: the machine's cores. */
  readonly threads?: number;
  /** Every skip-th image (default 1) up to max images (default all). */
  readonly skip?: number;
  readonly max?: number;
  /** Seeds the attack's random starting points (default 0); results depend on it only through the attack. */
  readonly seed?: number;
  /** PGD restarts and steps per restart (defaults 4 and 20). */
  readonly restarts?: number;
  readonly steps?: number;
  /** Dataset indices to leave out (already verified: a resumed run). */
  readonly exclude?: ReadonlySet<number>;
  /** After each image verified now: images done (excluded ones included), images selected, its result. */
  readonly onImage?: (done: number, total: number, image: ImageVerification) => void;
  /** Checked between stages and passed to the branch and bound: an aborted run rejects with the signal's reason. */
  readonly signal?: AbortSignal;
}

export interface VerifyRunResult {
  /** Images verified by this call, in selection order. */
  readonly images: ImageVerification[];
  /** Dataset indices of every selected image (excluded ones included). */
  readonly indices: number[];
  readonly eps: readonly Epsilon[];
  readonly settings: VerifySettings;
}

/** What every image of a run shares. */
interface Context {
  readonly plan: IntPlan;
  readonly surrogate: QatNet;
  readonly eps: readonly Epsilon[];
  readonly timeoutMs: number;
  readonly threads: number;
  readonly seed: number;
  readonly restarts: number;
  readonly steps: number;
  readonly signal?: AbortSignal;
}

/** The options that shape the verdicts, checked and with their defaults (recorded in results, compared on resume). */
export interface VerifySettings {
  eps: string[];
  timeout: number;
  seed: number;
  restarts: number;
  steps: number;
  skip: number;
  max: number | null;
  /** What is verified: always the integer plan of the model under the policy. */
  network: 'integer plan';
}

/** Checks the options verify() takes and resolves their defaults; throws an ArqError naming the first bad one. */
export function verifySettings(options: Omit<VerifyOptions, 'model' | 'quantization' | 'dataset'>): VerifySettings {
  const { skip, max } = checkSelection(options.skip ?? 1, options.max);
  return {
    eps: parseEpsilons(options.eps).map((e) => e.text),
    timeout: numberInRange('timeout', options.timeout ?? VERIFY_DEFAULTS.timeout, 0, 86400, { exclusiveMin: true }),
    seed: checkSeed(options.seed ?? VERIFY_DEFAULTS.seed),
    restarts: integerInRange('restarts', options.restarts ?? VERIFY_DEFAULTS.restarts, 1, 1024),
    steps: integerInRange('steps', options.steps ?? VERIFY_DEFAULTS.steps, 0, 100000),
    skip,
    max: max ?? null,
    network: 'integer plan',
  };
}

/** Verifies every skip-th image of the dataset (up to max) at every radius; see the module comment. */
export async function verify(options: VerifyOptions): Promise<VerifyRunResult> {
  const settings = verifySettings(options);
  const eps = parseEpsilons(options.eps);
  const threads = checkThreads(options.threads ?? cpuInfo().threads);
  const { timeout, seed, restarts, steps, skip, max } = settings;
  const { model, dataset } = options;
  const size = dataset.shape[0] * dataset.shape[1] * dataset.shape[2];
  const inputShape = model.graph.input.shape;
  if (size !== inputShape.reduce((a, b) => a * b, 1)) throw new ArqError(`${dataset.name}: images of ${size} values do not fit the model's input of ${inputShape.join('x')}`);
  const { policy, calibration } = options.quantization;
  const plan = await IntPlan.create(model.graph, policy, calibration);
  const surrogate = QatNet.build(model.graph, policy, calibration);
  const context: Context = { plan, surrogate, eps, timeoutMs: timeout * 1000, threads, seed, restarts, steps, signal: options.signal };

  const { dataset: selected, indices } = selectEvery(dataset, skip, max ?? undefined);
  const todo = indices.map((idx, k) => ({ idx, k })).filter(({ idx }) => !options.exclude?.has(idx));
  const images: ImageVerification[] = [];
  let done = indices.length - todo.length;
  for (let start = 0; start < todo.length; start += threads) {
    const group = todo.slice(start, start + threads).map(({ idx, k }) => ({ idx, label: selected.labels[k], image: selected.images.slice(k * size, (k + 1) * size) }));
    for (const image of await verifyGroup(context, group)) {
      images.push(image);
      options.onImage?.(++done, indices.length, image);
    }
  }
  return { images, indices, eps, settings };
}

interface Pending {
  readonly idx: number;
  readonly label: number;
  readonly image: Float32Array;
}

/** Mutable per-radius record while a group is worked on. */
interface Work {
  box: Box;
  spentMs: number;
  splits: number;
  outcome?: Outcome;
  stage?: Stage;
  counterexample?: { image: Float32Array; prediction: number };
}

/** The plan's class for an input that must lie in the box: throws when it is outside or is classified as the label. */
async function reproduce(context: Context, box: Box, image: Float32Array, label: number, source: string): Promise<{ image: Float32Array; prediction: number }> {
  if (!insideBox(box, image)) throw new ArqError(`${source}: the counterexample lies outside the box`);
  const prediction = indexOfMax(await context.plan.run(image, 1, 1), 0, context.plan.classes);
  if (prediction === label) throw new ArqError(`${source}: the counterexample does not reproduce (the integer plan classifies it as the label ${label})`);
  return { image, prediction };
}

async function verifyGroup(context: Context, group: readonly Pending[]): Promise<ImageVerification[]> {
  const { plan, eps } = context;
  const classes = plan.classes;
  const size = group[0].image.length;
  const cleanBatch = new Float32Array(group.length * size);
  group.forEach((p, b) => cleanBatch.set(p.image, b * size));
  const clean = await plan.run(cleanBatch, group.length, context.threads);
  const predictions = group.map((_, b) => indexOfMax(clean, b * classes, classes));
  const targets = group.map((p, b) => targetOrder(clean.subarray(b * classes, (b + 1) * classes), p.label));
  const work: Work[][] = group.map(() => []);
  let falsified: ({ image: Float32Array; prediction: number } | undefined)[] = group.map((p, b) => (predictions[b] === p.label ? undefined : { image: p.image, prediction: predictions[b] }));
  const order = eps.map((_, j) => j).sort((a, b) => eps[a].value - eps[b].value);
  for (const j of order) {
    context.signal?.throwIfAborted();
    const open: number[] = [];
    group.forEach((p, b) => {
      const w: Work = { box: boxOf(p.image, eps[j].value, `image ${p.idx}`), spentMs: 0, splits: 0 };
      work[b][j] = w;
      const earlier = falsified[b];
      if (earlier) Object.assign(w, { outcome: 'falsified', stage: predictions[b] === p.label ? 'nested' : 'clean', counterexample: earlier });
      else open.push(b);
    });
    if (open.length === 0) continue;
    await boundStage(context, group, work, j, open);
    for (const b of open) {
      const w = work[b][j];
      if (w.outcome || targets[b].length === 0) continue;  // a one-class model has no class to attack towards
      context.signal?.throwIfAborted();
      const started = performance.now();
      const found = await attack(context.surrogate, plan, group[b].image, group[b].label, targets[b], w.box, {
        restarts: context.restarts, steps: context.steps, eps: eps[j].value, seed: context.seed, stream: group[b].idx * eps.length + j,
        threads: context.threads, deadline: started + context.timeoutMs - w.spentMs,
      });
      if (found.counterexample) {
        w.counterexample = await reproduce(context, w.box, found.counterexample, group[b].label, `image ${group[b].idx} at eps ${eps[j].text} (attack)`);
        w.outcome = 'falsified';
        w.stage = 'attack';
      }
      w.spentMs += performance.now() - started;
    }
    await branchAndBoundStage(context, group, work, j, open.filter((b) => !work[b][j].outcome));
    falsified = falsified.map((f, b) => f ?? work[b][j].counterexample);
  }
  return group.map((p, b) => {
    const results = eps.map((e, j): EpsilonResult => {
      const w = work[b][j];
      return { eps: e.text, outcome: w.outcome!, stage: w.stage!, seconds: w.spentMs / 1000, splits: w.splits, ...(w.counterexample ? { counterexample: w.counterexample } : {}) };
    });
    return {
      idx: p.idx, label: p.label, prediction: predictions[b], results,
      seconds: results.reduce((s, r) => s + r.seconds, 0), splits: results.reduce((s, r) => s + r.splits, 0),
    };
  });
}

/** The open boxes of radius j, one image after another, as the native calls take them. */
function packBoxes(group: readonly Pending[], work: Work[][], j: number, open: readonly number[]): { lo: Float32Array; hi: Float32Array } {
  const size = group[0].image.length;
  const lo = new Float32Array(open.length * size);
  const hi = new Float32Array(open.length * size);
  open.forEach((b, i) => {
    lo.set(work[b][j].box.lo, i * size);
    hi.set(work[b][j].box.hi, i * size);
  });
  return { lo, hi };
}

/** Interval bounds of the open boxes in one native call (its time shared equally between them). */
async function boundStage(context: Context, group: readonly Pending[], work: Work[][], j: number, open: readonly number[]): Promise<void> {
  const { lo, hi } = packBoxes(group, work, j, open);
  const started = performance.now();
  const bounds = await context.plan.intervalBounds(lo, hi, open.length, context.threads, Int32Array.from(open, (b) => group[b].label), { values: false });
  const share = (performance.now() - started) / open.length;
  open.forEach((b, i) => {
    const w = work[b][j];
    w.spentMs += share;
    if (bounds.verified[i] === 1) Object.assign(w, { outcome: 'verified', stage: 'ibp' });
  });
}

/** The branch and bound on the boxes still open, one box per thread, with the least time any of them has left. */
async function branchAndBoundStage(context: Context, group: readonly Pending[], work: Work[][], j: number, open: readonly number[]): Promise<void> {
  if (open.length === 0) return;
  const left = Math.min(...open.map((b) => context.timeoutMs - work[b][j].spentMs));
  if (left < 1) {
    for (const b of open) Object.assign(work[b][j], { outcome: 'timeout', stage: 'none' });
    return;
  }
  const { lo, hi } = packBoxes(group, work, j, open);
  const cancel = cancelFlag();
  const onAbort = () => cancel.cancel();
  context.signal?.addEventListener('abort', onAbort, { once: true });
  let result: VerifyResult;
  try {
    result = await context.plan.verifyBoxes({ lo, hi, labels: Int32Array.from(open, (b) => group[b].label), timeoutMs: Math.floor(left), threads: context.threads, cancel });
  } finally {
    context.signal?.removeEventListener('abort', onAbort);
  }
  context.signal?.throwIfAborted();
  for (const [i, b] of open.entries()) {
    const w = work[b][j];
    w.spentMs += result.seconds[i] * 1000;
    w.splits += result.splits[i];
    switch (result.outcome[i]) {
      case VERIFY_OUTCOME.verified:
        Object.assign(w, { outcome: 'verified', stage: result.stage[i] === VERIFY_STAGE.bounds ? 'ibp' : 'branch-and-bound' });
        break;
      case VERIFY_OUTCOME.falsified: {
        const size = group[0].image.length;
        const image = result.counterexample.slice(i * size, (i + 1) * size);
        w.counterexample = await reproduce(context, w.box, image, group[b].label, `image ${group[b].idx} at eps ${context.eps[j].text} (branch and bound)`);
        Object.assign(w, { outcome: 'falsified', stage: result.stage[i] === VERIFY_STAGE.bounds ? 'ibp' : 'branch-and-bound' });
        break;
      }
      case VERIFY_OUTCOME.cancelled:
        throw new ArqError('verification cancelled');
      default: // timeout, split limit
        Object.assign(w, { outcome: 'timeout', stage: 'none' });
    }
  }
}
