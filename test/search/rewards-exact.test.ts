// Every search reward (search.md) recomputed here from its definition, on a case small enough to check by hand: the
// tiny MLP fixture, six images whose dataset indices differ from their positions, and a float reference whose
// figures are round numbers, so that each term's sign, scale and source shows in the reward. What the candidate's
// smoothed classifier certifies comes from IRS run image by image here (irs.test.ts checks IRS itself); the rewards'
// arithmetic, their per-image soft margins and the clean accuracy are computed here without the code under test
// (the normal quantile by bisection on an erfc of the test support's own).
import { beforeAll, describe, expect, test } from 'vitest';
import { makeDataset, type Dataset } from '../../src/data/index.js';
import { FloatPlan } from '../../src/engine/float-plan.js';
import { IntPlan } from '../../src/engine/int-plan.js';
import { calibrate, type Calibration } from '../../src/quant/calibrate.js';
import { uniformPolicy, type Policy } from '../../src/quant/policy.js';
import type { RewardName } from '../../src/report/types.js';
import { CandidateBuilder } from '../../src/search/candidate.js';
import { floatSoft, measureCandidate, RewardFunction, type FloatReference, type RemoteMeasurer, type RewardOutcome } from '../../src/search/rewards.js';
import { certify } from '../../src/smoothing/certify.js';
import type { IrsCacheEntry } from '../../src/smoothing/irs-cache.js';
import { certifyIncremental, type IrsResult } from '../../src/smoothing/irs.js';
import { nativeSampler } from '../../src/smoothing/sampler.js';
import { loadFixture } from '../support/fixtures.js';
import { normalCdf } from '../support/stats.js';

const model = loadFixture('tiny_mlp'); // input [1, 8, 8], 10 classes
const SIZE = 64;
const SIGMA = 0.1;
const SEED = 12;
const N0 = 20;
const N = 400;
const NP = 40;
const ALPHA = 0.01;
const LAMBDA = 0.1;
/** Dataset indices of the six certified images (the noise's image numbers), not their positions. */
const INDICES = [7, 3, 40, 11, 25, 2];

/** Round figures for the float reference: each reward subtracts one of them, so its value shows. */
const FLOAT = { acr: 0.25, smoothedAccuracy: 0.5, score: 0.125, cleanAccuracy: 0.75 };

let calibration: Calibration;
let candidates: CandidateBuilder;
let reference: FloatReference;
let images: Float32Array;
let labels: Int32Array;
let clean: Dataset;

const image = (k: number) => images.subarray(k * SIZE, (k + 1) * SIZE);
const policy = (w: number, a: number): Policy => uniformPolicy(model.graph, model.sha256, w, a);

beforeAll(async () => {
  images = Float32Array.from({ length: INDICES.length * SIZE }, (_, i) => ((i * 29) % 31) / 31);
  const data = makeDataset({ name: 'synthetic', shape: [1, 8, 8], images: Float32Array.from({ length: 16 * SIZE }, (_, i) => ((i * 13) % 17) / 17), labels: new Int32Array(16) });
  calibration = await calibrate(model.graph, data, { sigma: SIGMA, count: 16, seed: 1, threads: 1 });
  candidates = new CandidateBuilder(model.graph, calibration, { steps: 0, train: data, sigma: SIGMA, seed: SEED, threads: 1 });
  // The float model certified with its estimation samples recorded: the IRS cache entries.
  const floatPlan = FloatPlan.build(model.graph);
  const sampler = nativeSampler(floatPlan, SIZE, { sigma: SIGMA, seed: SEED, batch: 100, threads: 1 });
  const cache = new Map<number, IrsCacheEntry>();
  const floatClasses: number[] = [];
  for (let k = 0; k < INDICES.length; k++) {
    const r = await certify(sampler, image(k), INDICES[k], { n0: N0, n: N, alpha: ALPHA, record: true });
    cache.set(INDICES[k], { idx: INDICES[k], label: -1, classA: r.classA, pALower: r.pALower, prediction: r.prediction, radius: r.radius, seconds: 0, predictions: r.predictions! });
    floatClasses.push(r.classA);
  }
  // Labels: f's class on the even positions, another class on the odd ones, so both signs of the soft margin occur.
  labels = Int32Array.from(floatClasses, (c, k) => (k % 2 === 0 ? c : (c + 1) % 10));
  clean = makeDataset({ name: 'clean', shape: [1, 8, 8], images, labels });
  reference = { certified: { images, labels, indices: INDICES }, cache, n0: N0, alpha: ALPHA, ...FLOAT, clean };
});

/** Phi^-1(p) by bisection on the support's normal CDF. */
function probit(p: number): number {
  let [lo, hi] = [-40, 40];
  for (let i = 0; i < 200; i++) {
    const mid = (lo + hi) / 2;
    if (normalCdf(mid) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** search.md's soft margin of cA's k votes of m: +sigma Phi^-1((k + 1/2) / (m + 1)) when cA is the label, else that of the m - k others. */
function soft(k: number, m: number, classAIsLabel: boolean): number {
  const votes = classAIsLabel ? k : m - k;
  return SIGMA * probit((votes + 0.5) / (m + 1));
}

interface Expected { acr: number; accuracy: number; score: number; cleanAccuracy: number; results: IrsResult[] }

/** The candidate's figures, from search.md's definitions. */
async function expected(p: Policy): Promise<Expected> {
  const plan = IntPlan.build(model.graph, p, calibration);
  const sampler = nativeSampler(plan, SIZE, { sigma: SIGMA, seed: SEED, batch: 7, threads: 1 });
  let radius = 0;
  let correct = 0;
  let score = 0;
  const results: IrsResult[] = [];
  for (let k = 0; k < INDICES.length; k++) {
    const entry = reference.cache.get(INDICES[k])!;
    const r = await certifyIncremental(sampler, image(k), INDICES[k], entry, { n0: N0, np: NP, alpha: ALPHA });
    results.push(r);
    const right = r.prediction === labels[k];
    if (right) {
      correct++;
      radius += r.radius;
    }
    let m: number;
    let votes: number;
    if (r.countA === null || r.samples === 0) {
      // IRS drew nothing: the float model's first NP recorded samples stand in.
      m = Math.min(NP, entry.predictions.length);
      votes = entry.predictions.subarray(0, m).filter((c) => c === entry.classA).length;
    } else {
      m = r.samples;
      votes = r.countA;
    }
    score += ((right ? r.radius : 0) + soft(votes, m, entry.classA === labels[k])) / 2;
  }
  // Clean accuracy: the plan's argmax (lowest class on ties) on the noise-free images.
  const logits = await plan.run(images, INDICES.length, 1);
  let cleanCorrect = 0;
  for (let k = 0; k < INDICES.length; k++) {
    const row = logits.subarray(k * 10, (k + 1) * 10);
    let best = 0;
    for (let c = 1; c < 10; c++) if (row[c] > row[best]) best = c;
    if (best === labels[k]) cleanCorrect++;
  }
  const count = INDICES.length;
  return { acr: radius / count, accuracy: correct / count, score: score / count, cleanAccuracy: cleanCorrect / count, results };
}

const rewardOf = (reward: RewardName, p: Policy) => new RewardFunction(candidates, reference, { reward, lambda: LAMBDA, sigma: SIGMA, seed: SEED, np: NP, threads: 1 }).evaluate(p);

describe('every reward against its definition', () => {
  test('the case covers what the rewards tell apart: certified and abstained images, right and wrong labels', async () => {
    const e = await expected(policy(8, 8));
    const branches = new Set(e.results.map((r) => r.branch));
    expect(branches.has('f-abstained') || e.results.some((r) => r.prediction === -1)).toBe(true);
    expect(e.results.some((r) => r.radius > 0)).toBe(true);
    expect(e.accuracy).toBeGreaterThan(0);
    expect(e.accuracy).toBeLessThan(1);
  });

  test.each([[8, 8], [3, 4], [2, 2]])('W%iA%i: arq, arq-acc, haq and arq-soft', async (w, a) => {
    const p = policy(w, a);
    const e = await expected(p);
    const arq = await rewardOf('arq', p);
    expect(arq.parts).toEqual({ acr: e.acr, acr_float: FLOAT.acr, smoothed_accuracy: e.accuracy, smoothed_accuracy_float: FLOAT.smoothedAccuracy });
    expect(arq.reward).toBeCloseTo(LAMBDA * (e.acr - 0.25), 14);

    const acc = await rewardOf('arq-acc', p);
    expect(acc.parts).toEqual(arq.parts);
    expect(acc.reward).toBeCloseTo(LAMBDA * (e.acr - 0.25) + LAMBDA * (e.accuracy - 0.5), 14);

    const haq = await rewardOf('haq', p);
    expect(haq.parts).toEqual({ clean_accuracy: e.cleanAccuracy, clean_accuracy_float: 0.75 });
    expect(haq.reward).toBeCloseTo(LAMBDA * (e.cleanAccuracy - 0.75), 14);

    const softReward = await rewardOf('arq-soft', p);
    expect(softReward.parts).toMatchObject({ ...arq.parts, score_float: 0.125 });
    expect(softReward.parts.score).toBeCloseTo(e.score, 9);
    expect(softReward.reward).toBeCloseTo(LAMBDA * (e.score - 0.125), 9);
    for (const r of [arq, acc, haq, softReward]) {
      expect(r.repeated).toBe(false);
      expect(r.finetuneSeconds).toBe(0);
    }
  });
});

describe('measured once, by policy', () => {
  test('a repeat reuses the reward and parts (a copy), a policy differing in one width is measured, recall counts as measured', async () => {
    const rewards = new RewardFunction(candidates, reference, { reward: 'arq', lambda: LAMBDA, sigma: SIGMA, seed: SEED, np: NP, threads: 1 });
    const p = policy(4, 4);
    const before = performance.now();
    const first = await rewards.evaluate(p);
    const elapsed = (performance.now() - before) / 1000;
    expect(first.repeated).toBe(false);
    for (const seconds of [first.quantizeSeconds, first.certifySeconds]) {
      expect(seconds).toBeGreaterThanOrEqual(0);
      expect(seconds).toBeLessThanOrEqual(elapsed);
    }
    first.parts.acr = -1; // the caller's copy: the stored parts stay
    const again = await rewards.evaluate({ ...p, layers: p.layers.map((l) => ({ ...l })) });
    expect(again).toEqual({ reward: first.reward, parts: { ...first.parts, acr: (await expected(p)).acr }, finetuneSeconds: 0, quantizeSeconds: 0, certifySeconds: 0, repeated: true });
    const other = { ...p, layers: p.layers.map((l, i) => (i === 0 ? { ...l, wbits: 2 } : l)) };
    const measured = await rewards.evaluate(other);
    expect(measured.repeated).toBe(false);
    expect(measured.parts.acr).toBe((await expected(other)).acr);
    const resumed = new RewardFunction(candidates, reference, { reward: 'arq', lambda: LAMBDA, sigma: SIGMA, seed: SEED, np: NP, threads: 1 });
    const parts = { acr: 0.5, acr_float: 0.25 };
    resumed.recall([{ policy: other.layers, reward: 0.025, reward_parts: parts }]);
    parts.acr = 7;
    expect(await resumed.evaluate(other)).toEqual({ reward: 0.025, parts: { acr: 0.5, acr_float: 0.25 }, finetuneSeconds: 0, quantizeSeconds: 0, certifySeconds: 0, repeated: true });
  });

  test('evaluateAll: the outcomes of evaluate() one after the other; a remote measurer is asked once per policy not measured yet', async () => {
    const options = { reward: 'arq-soft', lambda: LAMBDA, sigma: SIGMA, seed: SEED, np: NP, threads: 1 } as const;
    const [p, q, r] = [policy(4, 4), policy(3, 4), policy(2, 2)];
    const asked: Policy[][] = [];
    // the remote measures as a worker does: measureCandidate against the same reference
    const remote: RemoteMeasurer = async (policies) => {
      asked.push([...policies]);
      return Promise.all(policies.map((x) => measureCandidate(candidates, reference, 'irs', options, x)));
    };
    const local = new RewardFunction(candidates, reference, options);
    const queued = new RewardFunction(candidates, reference, options, remote);
    const sequence = [p, q, p, q];
    const one: RewardOutcome[] = [];
    for (const x of sequence) one.push(await local.evaluate(x));
    const without = (o: RewardOutcome) => ({ reward: o.reward, parts: o.parts, repeated: o.repeated });
    expect((await queued.evaluateAll(sequence)).map(without)).toEqual(one.map(without));
    expect(one.map((o) => o.repeated)).toEqual([false, false, true, true]);
    expect((await queued.evaluateAll([q, r, r])).map(without)).toEqual([without(await local.evaluate(q)), without(await local.evaluate(r)), without(await local.evaluate(r))]);
    expect(asked).toEqual([[p, q], [r]]);
  });

  test("floatSoft: the float model's margin from its first m recorded samples", () => {
    const entry = { idx: 0, label: 1, classA: 1, pALower: 0.6, prediction: 1, radius: 0.1, seconds: 0, predictions: Uint8Array.from([1, 1, 1, 0]) };
    expect(floatSoft(entry, 1, 2, 0.5)).toBeCloseTo(0.5 * probit(2.5 / 3), 9);
    expect(floatSoft(entry, 0, 2, 0.5)).toBeCloseTo(0.5 * probit(0.5 / 3), 9);
    // m past the recorded samples: all four, three of them cA.
    expect(floatSoft(entry, 1, 10, 0.5)).toBeCloseTo(0.5 * probit(3.5 / 5), 9);
  });
});

describe('the candidate builder', () => {
  test('with fine-tune steps the plan quantizes a fine-tuned copy, the same for the same seed', async () => {
    const settings = { steps: 2, train: clean, sigma: SIGMA, seed: SEED, threads: 1 };
    const p = policy(4, 4);
    const a = await new CandidateBuilder(model.graph, calibration, settings).build(p);
    const b = await new CandidateBuilder(model.graph, calibration, settings).build(p);
    expect(a.graph).not.toBe(model.graph);
    const weights = (g: typeof model.graph) => g.nodes.flatMap((n) => (n.op === 'conv' || n.op === 'gemm' ? Array.from(n.weight) : []));
    expect(weights(a.graph)).not.toEqual(weights(model.graph));
    expect(weights(a.graph)).toEqual(weights(b.graph));
    const logits = await a.plan.run(images, INDICES.length, 1);
    expect(Array.from(logits)).toEqual(Array.from(await IntPlan.build(a.graph, p, calibration).run(images, INDICES.length, 1)));
    const plain = await candidates.build(p);
    expect(plain.graph).toBe(model.graph);
    expect(plain.finetuneSeconds).toBe(0);
  });
});
