import { describe, expect, test } from 'vitest';
import { ABSTAIN, certify, predict } from '../../src/smoothing/certify.js';
import { normalQuantile } from '../../src/smoothing/bounds.js';
import type { Sampler } from '../../src/smoothing/sampler.js';
import { thresholdSampler } from '../support/plan-sampler.js';
import { binomialUpperLimit, normalCdf } from '../support/stats.js';

// The threshold classifier returns class 0 iff x + e < t, e ~ N(0, sigma^2): the smoothed classifier predicts
// class 0 iff x < t with pA = Phi(|t - x| / sigma), so the largest sound radius is sigma * Phi^-1(pA) = |t - x|.
// Inputs and thresholds are float32 values, as the model sees them.
interface Case { x: number; t: number; sigma: number }

function truth({ x, t, sigma }: Case): { cls: number; pA: number; radius: number } {
  const fx = Math.fround(x);
  const ft = Math.fround(t);
  return { cls: fx < ft ? 0 : 1, pA: normalCdf(Math.abs(ft - fx) / sigma), radius: Math.abs(ft - fx) };
}

/** Independent noise per repetition: repetition r uses image index r (the noise is a function of seed, image, sample). */
async function repeatCertify(c: Case, reps: number, n0: number, n: number, alpha: number, seed: number) {
  const sampler = thresholdSampler(Math.fround(c.t), c.sigma, seed);
  const image = new Float32Array([c.x]);
  const results = [];
  for (let r = 0; r < reps; r++) results.push(await certify(sampler, image, r, { n0, n, alpha }));
  return results;
}

// Failures at a rate at most alpha exceed binomialUpperLimit(reps, alpha, 1e-9) with probability below 1e-9, and
// the noise is seeded, so a sound CERTIFY cannot fail these checks while an unsound one (see the plug-in check) does.
const TAIL = 1e-9;

describe('CERTIFY soundness on a classifier with known class probabilities', () => {
  const reps = 4000;
  const alpha = 0.05;
  const cases: Case[] = [
    { x: 0, t: 0.5, sigma: 1 }, // pA = 0.69
    { x: 0, t: 1, sigma: 0.5 }, // pA = 0.977
    { x: 0.2, t: -0.1, sigma: 0.25 }, // class 1, pA = 0.885
    { x: 0, t: 0.05, sigma: 1 }, // pA = 0.52: selection often picks the wrong class
  ];

  test.each(cases)('x = $x, t = $t, sigma = $sigma: wrong certificates at most alpha of the time', async (c) => {
    const { cls, pA, radius: trueRadius } = truth(c);
    const results = await repeatCertify(c, reps, 32, 1000, alpha, 11);
    let wrong = 0;
    let plugInWrong = 0;
    for (const r of results) {
      expect(r.samples).toBe(1032);
      expect(r.counts[0] + r.counts[1]).toBe(1000);
      expect(r.countA).toBe(r.counts[r.classA]);
      if (r.prediction === ABSTAIN) {
        expect(r.radius).toBe(0);
        expect(r.pALower).toBeLessThanOrEqual(0.5);
        continue;
      }
      expect(r.radius).toBeCloseTo(c.sigma * normalQuantile(r.pALower), 12);
      if (r.prediction !== cls || r.radius > trueRadius + 1e-6) wrong++;
      // The same check catches an unsound certificate: the plug-in estimate countA / n in place of the bound.
      if (r.classA === cls && c.sigma * normalQuantile(Math.min(r.countA / 1000, 1 - 1e-12)) > trueRadius + 1e-6) plugInWrong++;
    }
    const limit = binomialUpperLimit(reps, alpha, TAIL);
    expect(wrong, `wrong certificates ${wrong} of ${reps} (pA = ${pA.toFixed(4)}), limit ${limit}`).toBeLessThanOrEqual(limit);
    if (pA > 0.6 && pA < 0.95) expect(plugInWrong).toBeGreaterThan(limit);
  });

  test('the radius converges to the analytic value from below as n grows', async () => {
    const c = { x: 0, t: 0.5, sigma: 1 };
    const { pA, radius: trueRadius } = truth(c);
    for (const n of [10_000, 100_000, 1_000_000]) {
      const [r] = await repeatCertify(c, 1, 100, n, 0.001, 5);
      expect(r.prediction).toBe(0);
      expect(r.radius).toBeLessThanOrEqual(trueRadius);
      // The bound sits about Phi^-1(1 - alpha) = 3.09 standard errors below pA; allow 5 more for the noise.
      const floor = c.sigma * normalQuantile(pA - (3.09 + 5) * Math.sqrt((pA * (1 - pA)) / n));
      expect(r.radius, `n = ${n}`).toBeGreaterThan(floor);
      if (n === 1_000_000) expect(trueRadius - r.radius).toBeLessThan(0.01);
    }
  });

  test('a classifier that always returns one class reaches the largest radius n allows', async () => {
    const [r] = await repeatCertify({ x: -1000, t: 0, sigma: 0.5 }, 1, 10, 5000, 0.001, 3);
    expect(r.prediction).toBe(0);
    expect(r.countA).toBe(5000);
    expect(r.radius).toBeCloseTo(0.5 * normalQuantile(0.001 ** (1 / 5000)), 10);
  });
});

describe('PREDICT', () => {
  const reps = 1000;
  const alpha = 0.05;

  test('at p = 1/2 it abstains except at most alpha of the time', async () => {
    const sampler = thresholdSampler(0.25, 1, 21);
    const image = new Float32Array([0.25]);
    let decided = 0;
    for (let r = 0; r < reps; r++) {
      const result = await predict(sampler, image, r, { n: 1000, alpha });
      expect(result.samples).toBe(1000);
      if (result.prediction !== ABSTAIN) decided++;
    }
    expect(decided).toBeLessThanOrEqual(binomialUpperLimit(reps, alpha, TAIL));
    expect(decided).toBeLessThan(reps / 5);
  });

  test('near p = 1/2 it never returns the wrong class more than alpha allows', async () => {
    const t = Math.fround(0.1);
    const sampler = thresholdSampler(t, 1, 22); // P(class 0) = Phi(0.1) = 0.54
    const image = new Float32Array([0]);
    let wrong = 0;
    let abstained = 0;
    for (let r = 0; r < reps; r++) {
      const { prediction } = await predict(sampler, image, r, { n: 500, alpha });
      if (prediction === 1) wrong++;
      if (prediction === ABSTAIN) abstained++;
    }
    expect(wrong).toBeLessThanOrEqual(binomialUpperLimit(reps, alpha, TAIL));
    expect(abstained).toBeGreaterThan(reps / 4);
  });

  test('far from p = 1/2 it returns the class', async () => {
    const sampler = thresholdSampler(-1, 0.5, 23); // P(class 1) = Phi(2)
    const image = new Float32Array([0]);
    for (let r = 0; r < 100; r++) {
      const result = await predict(sampler, image, r, { n: 1000, alpha: 0.001 });
      expect(result.prediction).toBe(1);
      expect(result.pValue).toBeLessThan(1e-100);
    }
  });
});

describe('sampling, progress, recording and cancellation', () => {
  test('selection and estimation use samples 0 .. n0-1 and n0 .. n0+n-1, in chunks, with progress', async () => {
    const sampler = thresholdSampler(0.3, 1, 9);
    const calls: [number, number, boolean][] = [];
    const spy: Sampler = { ...sampler, sample: (image, index, first, count, record) => { calls.push([first, count, record]); return sampler.sample(image, index, first, count, record); } };
    const progress: number[] = [];
    const image = new Float32Array([0]);
    const r = await certify(spy, image, 4, { n0: 30, n: 2500, alpha: 0.001, chunk: 1000, record: true, onSamples: (d) => progress.push(d) });
    expect(calls).toEqual([[0, 30, false], [30, 1000, true], [1030, 1000, true], [2030, 500, true]]);
    expect(progress).toEqual([30, 1030, 2030, 2530]);
    expect(r.predictions!.length).toBe(2500);
    expect(r.predictions!.filter((p) => p === r.classA).length).toBe(r.countA);
    // The recorded predictions are the estimation samples' classes, however the calls were split.
    const direct = await sampler.sample(image, 4, 30, 2500, true);
    expect(Array.from(r.predictions!)).toEqual(Array.from(direct.predictions!));
    expect(Array.from(r.counts)).toEqual(Array.from(direct.counts));
    const whole = await certify(sampler, image, 4, { n0: 30, n: 2500, alpha: 0.001 });
    expect(whole.predictions).toBeUndefined();
    expect(whole.radius).toBe(r.radius);
  });

  test('an aborted signal stops between chunks', async () => {
    const sampler = thresholdSampler(0.3, 1, 9);
    const controller = new AbortController();
    const promise = certify(sampler, new Float32Array([0]), 0, {
      n0: 10, n: 100_000, alpha: 0.001, chunk: 1000, signal: controller.signal, onSamples: (d) => { if (d >= 3010) controller.abort(new Error('stop here')); },
    });
    await expect(promise).rejects.toThrow('stop here');
  });

  test('bad options are rejected before sampling', async () => {
    const sampler = thresholdSampler(0.3, 1, 9);
    const image = new Float32Array([0]);
    await expect(certify(sampler, new Float32Array(2), 0, { n0: 10, n: 10, alpha: 0.01 })).rejects.toThrow(/image: expected a Float32Array of 1 values/);
    await expect(certify(sampler, image, 0, { n0: 0, n: 10, alpha: 0.01 })).rejects.toThrow(/n0: expected an integer/);
    await expect(certify(sampler, image, 0, { n0: 10, n: 10, alpha: 1 })).rejects.toThrow(/alpha/);
    await expect(certify(sampler, image, -1, { n0: 10, n: 10, alpha: 0.1 })).rejects.toThrow(/imageIndex/);
    await expect(predict(sampler, image, 0, { n: 10, alpha: 0 })).rejects.toThrow(/alpha/);
    // PREDICT and CERTIFY share one range: at alpha = 1 neither promises anything.
    await expect(predict(sampler, image, 0, { n: 10, alpha: 1 })).rejects.toThrow(/alpha: expected a number in \(0, 1\)/);
    await expect(certify(sampler, image, 0, { n0: 10, n: 10, alpha: 1 })).rejects.toThrow(/alpha: expected a number in \(0, 1\)/);
    await expect(certify(sampler, image, 0, { n0: 10, n: 10, alpha: 0.1, chunk: 0 })).rejects.toThrow(/chunk/);
  });
});
