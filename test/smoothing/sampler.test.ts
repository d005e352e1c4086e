import { describe, expect, test } from 'vitest';
import { FloatPlan } from '../../src/engine/float-plan.js';
import { loadFixture } from '../support/fixtures.js';
import { thresholdModel } from '../support/threshold.js';

const request = { sigma: 1, seedHi: 0, seedLo: 42, imageIndex: 3, batch: 100, threads: 2, record: true };

describe('native sampling loop', () => {
  test('counts follow the exact class probability of a threshold classifier', async () => {
    const plan = FloatPlan.build(thresholdModel(0.5).graph);
    const n = 100_000;
    const { counts } = await plan.sample({ ...request, image: new Float32Array([0]), firstSample: 0, count: n, record: false });
    const p = 0.6914624612740131; // Phi(0.5)
    expect(counts[0] + counts[1]).toBe(n);
    expect(Math.abs(counts[0] / n - p)).toBeLessThan(5 * Math.sqrt((p * (1 - p)) / n));
  });

  test('results do not depend on how samples are split into calls, batches and threads', async () => {
    const { graph } = loadFixture('resnet20');
    const plan = FloatPlan.build(graph);
    const image = Float32Array.from({ length: 3 * 32 * 32 }, (_, i) => (i % 97) / 97);
    const whole = await plan.sample({ ...request, image, sigma: 0.5, firstSample: 0, count: 100 });
    const first = await plan.sample({ ...request, image, sigma: 0.5, firstSample: 0, count: 37, batch: 7, threads: 1 });
    const rest = await plan.sample({ ...request, image, sigma: 0.5, firstSample: 37, count: 63, batch: 64 });
    expect([...first.predictions!, ...rest.predictions!]).toEqual([...whole.predictions!]);
    expect(Array.from(whole.counts)).toEqual(Array.from(first.counts, (c, i) => c + rest.counts[i]));
  });

  test('bad requests throw instead of crashing', async () => {
    const plan = FloatPlan.build(thresholdModel(0).graph);
    const base = { ...request, image: new Float32Array([0]), firstSample: 0, count: 10 };
    await expect(plan.sample({ ...base, image: new Float32Array(2) })).rejects.toThrow(/image must have 1 elements/);
    await expect(plan.sample({ ...base, sigma: -1 })).rejects.toThrow(/sigma/);
    await expect(plan.sample({ ...base, batch: 0 })).rejects.toThrow(/batch/);
    await expect(plan.sample({ ...base, firstSample: 2 ** 32 - 5 })).rejects.toThrow(/2\^32/);
    await expect(plan.sample({ ...base, record: 1 as unknown as boolean })).rejects.toThrow(/record must be a boolean/);
  });
});

describe('samplers', () => {
  test('ONNX Runtime in a worker and the native fp32 plan give identical counts with the same seed', async () => {
    const { nativeSampler, ortSampler } = await import('../../src/smoothing/sampler.js');
    const model = loadFixture('mnist_cnn');
    const options = { sigma: 0.25, seed: 9, batch: 64, threads: 1 };
    const ort = await ortSampler(model, options);
    const native = nativeSampler(FloatPlan.build(model.graph), 784, options);
    const image = Float32Array.from({ length: 784 }, (_, i) => (i % 29) / 29);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const [a, b] = await Promise.all([ort.sample(image, 5, 100, 300, true), native.sample(image, 5, 100, 300, true)]);
    clearInterval(timer);
    expect(ticks).toBeGreaterThan(0);
    // The two float engines agree on every sample here, so the counts must be identical.
    expect(Array.from(a.predictions!)).toEqual(Array.from(b.predictions!));
    expect(Array.from(a.counts)).toEqual(Array.from(b.counts));
    await ort.close();
  });
});

describe('engines agree statistically', () => {
  test('ONNX Runtime and the native fp32 plan give statistically indistinguishable counts with independent seeds', async () => {
    const { nativeSampler, ortSampler } = await import('../../src/smoothing/sampler.js');
    const { loadModel } = await import('../../src/onnx/model.js');
    const { loadDataset } = await import('../../src/data/index.js');
    const model = await loadModel(new URL('../../models/mnist-cnn-s025.onnx', import.meta.url).pathname);
    const data = await loadDataset('mnist:test', 'test');
    const image = data.images.subarray(0, 784);
    const n = 4000;
    // sigma 1 spreads the votes, so the comparison has power.
    const ort = await ortSampler(model, { sigma: 1, seed: 1, batch: 200, threads: 1 });
    const native = nativeSampler(FloatPlan.build(model.graph), 784, { sigma: 1, seed: 2, batch: 200, threads: 2 });
    const [a, b] = await Promise.all([ort.sample(image, 0, 0, n, false), native.sample(image, 0, 0, n, false)]);
    await ort.close();
    // Chi-square test of homogeneity over the classes with enough votes: p-value far above 1e-6.
    let chi2 = 0;
    let dof = -1;
    for (let c = 0; c < a.counts.length; c++) {
      const total = a.counts[c] + b.counts[c];
      if (total < 20) continue;
      const expected = total / 2;
      chi2 += (a.counts[c] - expected) ** 2 / expected + (b.counts[c] - expected) ** 2 / expected;
      dof++;
    }
    expect(dof).toBeGreaterThanOrEqual(1);
    // The 1 - 1e-6 quantile of chi-square is below 6 * dof + 25 for dof <= 9.
    expect(chi2).toBeLessThan(6 * dof + 25);
    expect(Array.from(a.counts)).not.toEqual(Array.from(b.counts));
  });
});
