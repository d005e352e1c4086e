// The measured cost of a policy (quant/time.ts): what it reports and how the ratios are formed; no assertion on
// how fast anything is (speed claims are benchmarks, measured as ratios in one process).
import { describe, expect, test } from 'vitest';
import { loadFixture } from '../support/fixtures.js';
import { makePolicy, uniformPolicy } from '../../src/quant/policy.js';
import { measureTimes, type MeasuredTime } from '../../src/quant/time.js';

const model = loadFixture('mnist_cnn');
const quick = { batch: 8, threads: 1, repeats: 3, roundMs: 5 };
const policy = (wbits: number, abits: number) => uniformPolicy(model.graph, model.sha256, wbits, abits);

function expectMeasured(time: MeasuredTime, w8a8: MeasuredTime, engine: 'int' | 'float'): void {
  expect(time.engine).toBe(engine);
  expect(time.kernels).toMatch(/ukernel|dwconv|gemm/);
  for (const value of [time.seconds_per_image, ...time.seconds_per_image_range, time.time_vs_w8a8, ...time.time_vs_w8a8_range]) {
    expect(Number.isFinite(value) && value > 0).toBe(true);
  }
  const [fast, slow] = time.seconds_per_image_range;
  expect(fast).toBeLessThanOrEqual(time.seconds_per_image);
  expect(time.seconds_per_image).toBeLessThanOrEqual(slow);
  // The ratio is the two measured medians' quotient, not a separate measurement.
  expect(time.time_vs_w8a8).toBe(time.seconds_per_image / w8a8.seconds_per_image);
  expect(time.time_vs_w8a8_range[0]).toBeLessThanOrEqual(time.time_vs_w8a8_range[1]);
}

describe('measureTimes', () => {
  test('times each entry and W8A8 in the same rounds; a policy equal to W8A8 is W8A8 (ratio exactly 1)', async () => {
    const entries = [policy(4, 4), null, policy(8, 8), policy(4, 4)];
    const measured = await measureTimes(model.graph, entries, quick);
    expect(measured.settings).toMatchObject({ engine: 'int', batch: 8, threads: 1, repeats: 3, round_ms: 5, inputs: '8 images uniform on [0, 1), seed 0' });
    expect(measured.times).toHaveLength(4);
    expectMeasured(measured.w8a8, measured.w8a8, 'int');
    expect(measured.w8a8.time_vs_w8a8).toBe(1);
    expectMeasured(measured.times[0], measured.w8a8, 'int');
    expectMeasured(measured.times[1], measured.w8a8, 'float');
    expect(measured.times[2]).toEqual(measured.w8a8);
    // One plan per distinct policy: the repeated W4A4 is the same measurement.
    expect(measured.times[3]).toEqual(measured.times[0]);
  });

  test('uses the given statistics instead of calibrating on the random images', async () => {
    const calibration = { valueOf: new Map<string, number>(), ranges: new Float32Array(0), histograms: new Float64Array(0) };
    await expect(measureTimes(model.graph, [policy(4, 4)], { ...quick, calibration })).rejects.toThrow(/the calibration does not fit the graph/);
  });

  test('rejects a policy that does not fit the graph, naming it, and bad settings, naming them', async () => {
    const good = policy(4, 4);
    await expect(measureTimes(model.graph, [good, makePolicy(model.sha256, good.layers.slice(1))], quick)).rejects.toThrow(/^policy 2 of 2: layer '\/conv1\/Conv' has no bit widths/);
    const wide = makePolicy(model.sha256, good.layers.map((l, i) => (i === 1 ? { ...l, wbits: 9 } : l)));
    await expect(measureTimes(model.graph, [wide], quick)).rejects.toThrow(/^policy 1 of 1: .*wbits must be an integer in 2\.\.8, got 9/);
    const extra = makePolicy(model.sha256, [...good.layers, { name: 'nope', wbits: 4, abits: 4 }]);
    await expect(measureTimes(model.graph, [extra], quick)).rejects.toThrow(/layer 'nope' is not a quantizable layer/);
    await expect(measureTimes(model.graph, [good], { ...quick, batch: 0 })).rejects.toThrow('batch: expected an integer in [1, 65536], got 0');
    await expect(measureTimes(model.graph, [good], { ...quick, threads: 1.5 })).rejects.toThrow('threads: expected an integer in [1, 256], got 1.5');
    await expect(measureTimes(model.graph, [good], { ...quick, repeats: 0 })).rejects.toThrow('repeats: expected an integer in [1, 1000], got 0');
  });

  test('stops at an aborted signal', async () => {
    const controller = new AbortController();
    controller.abort(new Error('stop here'));
    await expect(measureTimes(model.graph, [policy(2, 2)], { ...quick, signal: controller.signal })).rejects.toThrow('stop here');
  });
});
