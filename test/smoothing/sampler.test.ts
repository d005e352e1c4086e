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
    const { nativeSampler, ortSampler } = await import('../../src/smoothing/samplers.js');
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
