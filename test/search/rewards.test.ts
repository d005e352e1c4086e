// The rewards on the bundled model at toy sizes, each checked against an independent computation of what it claims.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { bundledModelPath, loadModel, type LoadedModel } from '../../src/onnx/model.js';
import { loadDataset, selectEvery, type Dataset } from '../../src/data/index.js';
import { calibrate, type Calibration } from '../../src/quant/calibrate.js';
import { IntPlan } from '../../src/engine/int-plan.js';
import { FloatPlan } from '../../src/engine/float-plan.js';
import { uniformPolicy, type Policy } from '../../src/quant/policy.js';
import { certifyDataset } from '../../src/smoothing/run.js';
import { nativeSampler } from '../../src/smoothing/sampler.js';
import { readIrsCache } from '../../src/smoothing/irs-cache.js';
import { certifyIncremental } from '../../src/smoothing/irs.js';
import { normalQuantile } from '../../src/smoothing/bounds.js';
import { CandidateBuilder } from '../../src/search/candidate.js';
import { cleanAccuracy, floatSoft, imageScore, RewardFunction, softMargin, type FloatReference } from '../../src/search/rewards.js';
import type { RewardName } from '../../src/report/types.js';

const SIGMA = 0.25;
const SEED = 3;
const NP = 60;
const LAMBDA = 0.1;

let model: LoadedModel;
let calibration: Calibration;
let reference: FloatReference;
let candidates: CandidateBuilder;
let val: Dataset;

const policy = (w: number, a: number): Policy => uniformPolicy(model.graph, model.sha256, w, a);
const rewardOf = (reward: RewardName) => new RewardFunction(candidates, reference, { reward, lambda: LAMBDA, sigma: SIGMA, seed: SEED, np: NP, threads: 2 });

beforeAll(async () => {
  model = await loadModel(bundledModelPath());
  val = await loadDataset('mnist', 'train');
  calibration = await calibrate(model.graph, val, { sigma: SIGMA, count: 32, seed: SEED, threads: 2 });
  candidates = new CandidateBuilder(model.graph, calibration, { steps: 0, train: val, sigma: SIGMA, seed: SEED, threads: 2 });
  // Every 997th image: indices that differ from their positions, so an index mix-up changes the noise.
  const { dataset: certified, indices } = selectEvery(val, 997, 8);
  const dir = mkdtempSync(path.join(tmpdir(), 'arq-rewards-'));
  const plan = FloatPlan.build(model.graph);
  const sampler = nativeSampler(plan, 784, { sigma: SIGMA, seed: SEED, batch: 200, threads: 2 });
  const cache = path.join(dir, 'f.irs');
  const { summary } = await certifyDataset({
    sampler, dataset: val, out: path.join(dir, 'f.tsv'), cache, identity: { seed: SEED, model: model.sha256, engine: 'float', data: val.name },
    n0: 50, n: 600, alpha: 0.001, skip: 997, max: 8, overwrite: true,
  });
  const entries = readIrsCache(cache).entries;
  const { dataset: clean } = selectEvery(val, 211, 150);
  const score = indices.reduce((s, idx, k) => {
    const e = entries.get(idx)!;
    return s + imageScore(e.prediction === certified.labels[k] ? e.radius : 0, floatSoft(e, certified.labels[k], NP, SIGMA));
  }, 0) / indices.length;
  reference = {
    certified: { images: certified.images, labels: certified.labels, indices }, cache: entries, n0: 50, alpha: 0.001,
    acr: summary.acr, smoothedAccuracy: summary.clean_accuracy, score, clean, cleanAccuracy: await cleanAccuracy(plan, clean, 2),
  };
}, 120_000);

/** IRS of a policy's plan, image by image, as the reward should run it: each image with its own dataset index. */
async function independentIrs(p: Policy) {
  const plan = IntPlan.build(model.graph, p, calibration);
  const sampler = nativeSampler(plan, 784, { sigma: SIGMA, seed: SEED, batch: NP, threads: 2 });
  const { certified, cache } = reference;
  let radius = 0;
  let correct = 0;
  for (let k = 0; k < certified.indices.length; k++) {
    const idx = certified.indices[k];
    const result = await certifyIncremental(sampler, certified.images.subarray(k * 784, (k + 1) * 784), idx, cache.get(idx)!, { n0: 50, np: NP, alpha: 0.001 });
    if (result.prediction === certified.labels[k]) {
      correct++;
      radius += result.radius;
    }
  }
  return { acr: radius / certified.indices.length, accuracy: correct / certified.indices.length };
}

describe('rewards', () => {
  it('arq: lambda (ACR_q - ACR_fp), ACR_q by IRS of each validation image under its own index and noise', async () => {
    for (const p of [policy(8, 8), policy(3, 3)]) {
      const { reward, parts } = await rewardOf('arq').evaluate(p);
      const expected = await independentIrs(p);
      expect(parts.acr).toBe(expected.acr);
      expect(parts.smoothed_accuracy).toBe(expected.accuracy);
      expect(parts.acr_float).toBe(reference.acr);
      expect(reward).toBeCloseTo(LAMBDA * (expected.acr - reference.acr), 15);
    }
  }, 60_000);

  it('arq-acc: adds lambda (smoothed acc_q - acc_fp); arq does not', async () => {
    // This robust model keeps every validation image certified even at W2A2, so a float reference with a lower
    // smoothed accuracy makes the accuracy term visible.
    const lowered = { ...reference, smoothedAccuracy: reference.smoothedAccuracy - 0.25 };
    const options = { lambda: LAMBDA, sigma: SIGMA, seed: SEED, np: NP, threads: 2 };
    const p = policy(2, 2);
    const expected = await independentIrs(p);
    const withAccuracy = await new RewardFunction(candidates, lowered, { ...options, reward: 'arq-acc' }).evaluate(p);
    expect(withAccuracy.parts.smoothed_accuracy_float).toBe(lowered.smoothedAccuracy);
    expect(withAccuracy.reward).toBeCloseTo(LAMBDA * (expected.acr - reference.acr) + LAMBDA * (expected.accuracy - lowered.smoothedAccuracy), 15);
    const acrOnly = await new RewardFunction(candidates, lowered, { ...options, reward: 'arq' }).evaluate(p);
    expect(acrOnly.reward).toBeCloseTo(LAMBDA * (expected.acr - reference.acr), 15);
    const w8 = await rewardOf('arq-acc').evaluate(policy(8, 8));
    expect(w8.reward).toBeGreaterThan((await rewardOf('arq-acc').evaluate(p)).reward);
  }, 60_000);

  it('haq: lambda (clean acc_q - clean acc_fp), higher for the policy that keeps more accuracy', async () => {
    const low = await rewardOf('haq').evaluate(policy(2, 2));
    const high = await rewardOf('haq').evaluate(policy(8, 8));
    const lowAccuracy = await cleanAccuracy(IntPlan.build(model.graph, policy(2, 2), calibration), reference.clean, 2);
    expect(low.parts).toEqual({ clean_accuracy: lowAccuracy, clean_accuracy_float: reference.cleanAccuracy });
    expect(low.reward).toBeCloseTo(LAMBDA * (lowAccuracy - reference.cleanAccuracy), 15);
    expect(lowAccuracy).toBeLessThan(high.parts.clean_accuracy!);
    expect(high.reward).toBeGreaterThan(low.reward);
  }, 60_000);

  it('arq-soft: lambda (S_q - S_fp), S the mean of (radius + soft margin) / 2, lower for the harsher policy', async () => {
    const high = await rewardOf('arq-soft').evaluate(policy(8, 8));
    const low = await rewardOf('arq-soft').evaluate(policy(2, 2));
    expect(high.parts.score_float).toBe(reference.score);
    expect(high.reward).toBeCloseTo(LAMBDA * (high.parts.score! - reference.score), 15);
    expect(high.reward).toBeGreaterThan(low.reward);
  }, 60_000);

  it('measures a policy once: a repeat (or a recalled episode) reuses its reward and parts without building or sampling', async () => {
    const rewards = rewardOf('arq');
    const p = policy(3, 4);
    const first = await rewards.evaluate(p);
    expect(first.repeated).toBe(false);
    expect(first.certifySeconds).toBeGreaterThan(0);
    const again = await rewards.evaluate({ ...p, layers: p.layers.map((l) => ({ ...l })) });
    expect(again).toEqual({ reward: first.reward, parts: first.parts, finetuneSeconds: 0, quantizeSeconds: 0, certifySeconds: 0, repeated: true });
    // The reused value is what measuring again gives: another function measures it afresh.
    expect((await rewardOf('arq').evaluate(p)).reward).toBe(first.reward);
    // A policy that differs in one width is measured, not confused with the first.
    const other = await rewards.evaluate({ ...p, layers: p.layers.map((l, i) => (i === 1 ? { ...l, abits: 3 } : l)) });
    expect(other.repeated).toBe(false);
    expect(other.parts.acr).toBe((await independentIrs({ ...p, layers: p.layers.map((l, i) => (i === 1 ? { ...l, abits: 3 } : l)) })).acr);
    // recall (a resumed search's episodes) counts as measured.
    const resumed = rewardOf('arq');
    resumed.recall([{ policy: p.layers, reward: first.reward, reward_parts: first.parts }]);
    expect(await resumed.evaluate(p)).toEqual(again);
  }, 60_000);

  it('softMargin: sigma Phi^-1((k + 1/2) / (m + 1)), finite at 0 and m, 0 at a tie, odd around it', () => {
    expect(softMargin(30, 60, 0.5)).toBeCloseTo(0, 12);
    expect(softMargin(60, 60, 0.25)).toBeCloseTo(0.25 * normalQuantile(60.5 / 61), 12);
    expect(softMargin(0, 60, 0.25)).toBeCloseTo(-softMargin(60, 60, 0.25), 12);
    expect(Number.isFinite(softMargin(0, 1, 1))).toBe(true);
    expect(imageScore(0.4, 0.2)).toBeCloseTo(0.3, 12);
  });
});
