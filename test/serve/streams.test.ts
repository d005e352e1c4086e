import { describe, expect, test } from 'vitest';
import { FloatPlan } from '../../src/engine/float-plan.js';
import { cancelFlag } from '../../src/native.js';
import { StreamBatcher } from '../../src/serve/batcher.js';
import { seedWords } from '../../src/engine/noise.js';
import { loadFixture } from '../support/fixtures.js';

// sigma 1 keeps the class counts of a few hundred samples noisy, so a sample drawn from the wrong stream or sample
// number would change them.
const model = loadFixture('mnist_cnn');
const plan = FloatPlan.build(model.graph);
const seed = { ...seedWords(0x1234_5678_9abcn), sigma: 1, threads: 2 };
const images = [0, 1, 2, 3, 4].map((k) => Float32Array.from({ length: 784 }, (_, i) => ((i * (k + 3)) % 29) / 29));

async function alone(image: Float32Array, imageIndex: number, firstSample: number, count: number): Promise<number[]> {
  const { counts } = await plan.sample({ image, imageIndex, firstSample, count, batch: 64, record: false, ...seed });
  return [...counts];
}

describe('sampleStreams: several noise streams in shared batches', () => {
  test('each stream counts what sample() counts for the same stream, however batches split the streams', async () => {
    const slices = [
      { image: images[0], imageIndex: 3, firstSample: 0, count: 37 },
      { image: images[1], imageIndex: 9, firstSample: 100, count: 150 },
      { image: images[2], imageIndex: 4, firstSample: 5, count: 0 },
      { image: images[3], imageIndex: 0, firstSample: 7, count: 61 },
    ];
    const expected = await Promise.all(slices.map((s) => alone(s.image, s.imageIndex, s.firstSample, s.count)));
    for (const batch of [1, 16, 50, 400]) {
      const results = await plan.sampleStreams({ streams: slices, batch, ...seed });
      expect(results.map((r) => [...r.counts]), `batch ${batch}`).toEqual(expected);
      expect(results.map((r) => r.drawn)).toEqual(slices.map((s) => s.count));
    }
  });

  test('a cancelled stream draws nothing more, the others are unaffected', async () => {
    const flag = cancelFlag();
    flag.cancel();
    expect(flag.cancelled).toBe(true);
    const results = await plan.sampleStreams({
      streams: [{ image: images[0], imageIndex: 1, firstSample: 0, count: 200, cancel: flag }, { image: images[1], imageIndex: 2, firstSample: 0, count: 90 }],
      batch: 32, ...seed,
    });
    expect(results[0].drawn).toBe(0);
    expect(results[0].counts.reduce((a, b) => a + b, 0)).toBe(0);
    expect([...results[1].counts]).toEqual(await alone(images[1], 2, 0, 90));
  });

  test('cancelling while the call runs stops the stream between batches', async () => {
    const flag = cancelFlag();
    const call = plan.sampleStreams({ streams: [{ image: images[0], imageIndex: 1, firstSample: 0, count: 2_000_000, cancel: flag }], batch: 16, ...seed });
    setTimeout(() => flag.cancel(), 50);
    const [result] = await call;
    expect(result.drawn).toBeGreaterThan(0);
    expect(result.drawn).toBeLessThan(2_000_000);
    expect(result.drawn % 16).toBe(0);
    expect(result.counts.reduce((a, b) => a + b, 0)).toBe(result.drawn);
  });

  test('native checks every argument', async () => {
    const stream = { image: images[0], imageIndex: 0, firstSample: 0, count: 1 };
    const call = (request: object) => plan.sampleStreams({ batch: 8, ...seed, ...request } as Parameters<FloatPlan['sampleStreams']>[0]);
    await expect(call({ streams: [{ ...stream, cancel: {} }] })).rejects.toThrow(/streams\[0\]: cancel must be a CancelFlag/);
    await expect(call({ streams: [{ ...stream, image: new Float32Array(10) }] })).rejects.toThrow(/streams\[0\]: image must have 784 elements/);
    await expect(call({ streams: [{ ...stream, firstSample: 2 ** 32 - 1, count: 2 }] })).rejects.toThrow(/must not exceed 2\^32/);
    await expect(call({ streams: [{ ...stream, count: 2 ** 31 }, { ...stream, count: 2 ** 31 }, stream] })).rejects.toThrow(/must not exceed 2\^32 in all/);
    await expect(call({ streams: 'x' })).rejects.toThrow(TypeError);
    await expect(call({ streams: [stream], sigma: -1 })).rejects.toThrow(/sigma must be finite and >= 0/);
    await expect(call({ streams: [null] })).rejects.toThrow(/streams\[0\]: must be an object/);
  });
});

describe('StreamBatcher', () => {
  test('concurrent draws share native calls and each gets the counts of its own stream', async () => {
    const batcher = new StreamBatcher(plan, 784, { sigma: 1, seed: 0x1234_5678_9abcn, batch: 64, threads: 2, callSamples: 256 });
    let calls = 0;
    batcher.onCall = () => calls++;
    const draws = images.map((image, k) => batcher.draw(image, 10 + k, 0, 40 + 13 * k));
    const counts = await Promise.all(draws);
    expect(calls).toBeLessThan(images.length);
    for (let k = 0; k < images.length; k++) expect([...counts[k]]).toEqual(await alone(images[k], 10 + k, 0, 40 + 13 * k));
    expect(batcher.queuedSamples).toBe(0);
    expect(batcher.samplesPerSecond).toBeGreaterThan(0);
  });

  test('an aborted draw rejects with the reason and leaves the queue; the others complete', async () => {
    const batcher = new StreamBatcher(plan, 784, { sigma: 1, seed: 0x1234_5678_9abcn, batch: 16, threads: 2, callSamples: 64 });
    const controller = new AbortController();
    const big = batcher.draw(images[0], 0, 0, 1_000_000, controller.signal);
    const small = batcher.draw(images[1], 1, 0, 30);
    setTimeout(() => controller.abort(new Error('client gone')), 20);
    await expect(big).rejects.toThrow('client gone');
    expect([...(await small)]).toEqual(await alone(images[1], 1, 0, 30));
    expect(batcher.queuedSamples).toBe(0);
  });
});
