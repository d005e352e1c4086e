// SmoothedClassifier (the embedding API) against an independent computation: its class counts are recounted here
// from the base classifier on noisy copies made with the counter-based generator (src/engine/noise.ts), call k drawing
// from noise stream k; CERTIFY's bound and radius are recomputed from exact binomial tails and an erfc of our own.
import { afterAll, describe, expect, test } from 'vitest';
import { makeDataset } from '../../src/data/index.js';
import { FloatPlan } from '../../src/engine/float-plan.js';
import { noisyCopy } from '../../src/engine/noise.js';
import { calibrate } from '../../src/quant/calibrate.js';
import { IntPlan } from '../../src/engine/int-plan.js';
import { uniformPolicy } from '../../src/quant/policy.js';
import { ABSTAIN } from '../../src/smoothing/certify.js';
import { SmoothedClassifier } from '../../src/smoothing/smoothed.js';
import { loadFixture } from '../support/fixtures.js';

const model = loadFixture('tiny_mlp'); // input [1, 8, 8], 10 classes
const SIZE = 64;
const SEED = 2 ** 40 + 77;
const image = Float32Array.from({ length: SIZE }, (_, i) => ((i * 7) % 11) / 11);
const open: SmoothedClassifier[] = [];
afterAll(async () => {
  for (const classifier of open) await classifier.close();
});

async function classifier(options: Parameters<typeof SmoothedClassifier.create>[1]): Promise<SmoothedClassifier> {
  const created = await SmoothedClassifier.create(model, options);
  open.push(created);
  return created;
}

/** Class counts of `run` over noise samples first .. first+count-1 of stream `stream`, argmax ties to the lowest class. */
async function recount(run: (images: Float32Array, batch: number) => Promise<Float32Array>, sigma: number, stream: number, first: number, count: number): Promise<number[]> {
  const images = new Float32Array(count * SIZE);
  for (let i = 0; i < count; i++) images.set(noisyCopy(image, sigma, SEED, stream, first + i), i * SIZE);
  const logits = await run(images, count);
  const classes = logits.length / count;
  const counts = new Array<number>(classes).fill(0);
  for (let i = 0; i < count; i++) {
    const row = logits.subarray(i * classes, (i + 1) * classes);
    let best = 0;
    for (let c = 1; c < classes; c++) if (row[c] > row[best]) best = c;
    counts[best]++;
  }
  return counts;
}

/** P(Bin(n, p) >= k), summed exactly term by term. */
function upperTail(k: number, n: number, p: number): number {
  let logTerm = n * Math.log1p(-p); // j = 0
  let sum = 0;
  for (let j = 0; j <= n; j++) {
    if (j >= k) sum += Math.exp(logTerm);
    logTerm += Math.log((n - j) / (j + 1)) + Math.log(p) - Math.log1p(-p);
  }
  return sum;
}

/** The one-sided (1 - alpha) Clopper-Pearson lower bound: the p at which P(Bin(n, p) >= k) = alpha, by bisection. */
function lowerBound(k: number, n: number, alpha: number): number {
  if (k === 0) return 0;
  let [lo, hi] = [0, 1];
  for (let i = 0; i < 100; i++) {
    const mid = (lo + hi) / 2;
    if (upperTail(k, n, mid) < alpha) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** The standard normal CDF through erfc (Numerical Recipes' Chebyshev fit, relative error below 1.2e-7). */
function normalCdf(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.5 * z);
  const erfc = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? 1 - erfc / 2 : erfc / 2;
}

describe('SmoothedClassifier on the float engine', () => {
  const plan = FloatPlan.build(model.graph);
  const run = (images: Float32Array, batch: number) => plan.run(images, batch, 1);

  test('PREDICT counts are the base classifier on noise samples 0 .. n-1 of stream k for call k', async () => {
    const smoothed = await classifier({ sigma: 0.5, seed: SEED, threads: 2, batch: 37 });
    expect(smoothed.classes).toBe(10);
    for (const stream of [0, 1, 2]) {
      const result = await smoothed.predict(image, { n: 300 });
      const counts = await recount(run, 0.5, stream, 0, 300);
      expect(Array.from(result.counts), `call ${stream + 1}`).toEqual(counts);
      expect(result.samples).toBe(300);
    }
  });

  test('PREDICT: the top class against the runner-up by an exact two-sided binomial test, abstaining above alpha', async () => {
    // sigma 1 spreads the counts over several classes, so the runner-up and the p-value are not trivial.
    const smoothed = await classifier({ sigma: 1, seed: SEED, threads: 2 });
    for (const alpha of [0.5, 1e-3, 1e-12]) {
      const result = await smoothed.predict(image, { n: 120, alpha });
      const counts = Array.from(result.counts);
      const top = counts.indexOf(Math.max(...counts));
      const nB = Math.max(...counts.filter((_, c) => c !== top));
      expect(counts.filter((c) => c > 0).length).toBeGreaterThan(2);
      const nA = counts[top];
      const pValue = nA === nB ? 1 : Math.min(1, 2 * upperTail(nA, nA + nB, 0.5));
      expect(Math.abs(result.pValue - pValue)).toBeLessThanOrEqual(1e-9 * pValue);
      expect(result.prediction).toBe(pValue <= alpha ? top : ABSTAIN);
    }
  });

  test('CERTIFY: selection samples 0 .. n0-1, estimation n0 .. n0+n-1, the Clopper-Pearson bound and sigma * Phi^-1', async () => {
    const sigma = 0.25;
    const smoothed = await classifier({ sigma, seed: SEED, threads: 2 });
    const [n0, n, alpha] = [20, 200, 0.01];
    const result = await smoothed.certify(image, { n0, n, alpha });
    const selection = await recount(run, sigma, 0, 0, n0);
    const estimation = await recount(run, sigma, 0, n0, n);
    expect(Array.from(result.selectionCounts)).toEqual(selection);
    expect(Array.from(result.counts)).toEqual(estimation);
    const classA = selection.indexOf(Math.max(...selection));
    expect(result.classA).toBe(classA);
    expect(result.countA).toBe(estimation[classA]);
    expect(result.pALower).toBeCloseTo(lowerBound(estimation[classA], n, alpha), 9);
    expect(result.pALower).toBeGreaterThan(0.5);
    expect(result.prediction).toBe(classA);
    expect(normalCdf(result.radius / sigma)).toBeCloseTo(result.pALower, 6);
    expect(result.samples).toBe(n0 + n);
  });

  test('CERTIFY abstains with radius 0 when the bound does not exceed 1/2', async () => {
    const smoothed = await classifier({ sigma: 4, seed: SEED, threads: 2 });
    const result = await smoothed.certify(image, { n0: 10, n: 40, alpha: 0.001 });
    expect(result.pALower).toBeCloseTo(lowerBound(result.countA, 40, 0.001), 9);
    expect(result.pALower).toBeLessThanOrEqual(0.5);
    expect(result.prediction).toBe(ABSTAIN);
    expect(result.radius).toBe(0);
  });

  test('a second instance with the same seed replays the same streams; another seed draws other noise', async () => {
    const a = await classifier({ sigma: 1, seed: SEED, threads: 1 });
    const b = await classifier({ sigma: 1, seed: SEED, threads: 2, batch: 11 });
    const c = await classifier({ sigma: 1, seed: SEED + 1, threads: 1 });
    const first = await a.predict(image, { n: 200 });
    expect(Array.from((await b.predict(image, { n: 200 })).counts)).toEqual(Array.from(first.counts));
    expect(Array.from((await c.predict(image, { n: 200 })).counts)).not.toEqual(Array.from(first.counts));
  });

  test('bad options and images are rejected naming them', async () => {
    await expect(SmoothedClassifier.create(model, { sigma: -1 })).rejects.toThrow(/sigma/);
    await expect(SmoothedClassifier.create(model, { sigma: 0.5, batch: 0 })).rejects.toThrow(/batch/);
    await expect(SmoothedClassifier.create(model, { sigma: 0.5, engine: 'int' })).rejects.toThrow(/quantization|policy|calibration/i);
    const smoothed = await classifier({ sigma: 0.5, seed: 1 });
    await expect(smoothed.predict(new Float32Array(63))).rejects.toThrow(/64 values/);
    await expect(smoothed.certify(new Float32Array(65))).rejects.toThrow(/64 values/);
  });
});

test('SmoothedClassifier on the integer engine counts the integer network', async () => {
  const data = makeDataset({ name: 'synthetic', shape: [1, 8, 8], images: Float32Array.from({ length: 32 * SIZE }, (_, i) => ((i * 13) % 17) / 17), labels: new Int32Array(32) });
  const calibration = await calibrate(model.graph, data, { sigma: 0.5, count: 32, seed: 1, threads: 2 });
  const policy = uniformPolicy(model.graph, model.sha256, 3, 4);
  const smoothed = await classifier({ sigma: 0.5, seed: SEED, threads: 2, engine: 'int', quantization: { policy, calibration } });
  const plan = IntPlan.build(model.graph, policy, calibration);
  const result = await smoothed.predict(image, { n: 250 });
  expect(Array.from(result.counts)).toEqual(await recount((images, batch) => plan.run(images, batch, 1), 0.5, 0, 0, 250));
});
