// createSampler's own checks (sampler.ts), which the smoothed classifier's earlier checks hide: the seed's range
// (engine/settings.ts: an integer in [0, 2^53 - 1], or a whole 64-bit bigint key), an image of the wrong size given to
// the sampler itself, and the closed message of the integer engine's sampler, which names that engine.
import { beforeAll, describe, expect, test } from 'vitest';
import { makeDataset } from '../../src/data/index.js';
import { calibrate, type Calibration } from '../../src/quant/calibrate.js';
import { uniformPolicy } from '../../src/quant/policy.js';
import { createSampler } from '../../src/smoothing/sampler.js';
import { loadFixture } from '../support/fixtures.js';

const model = loadFixture('tiny_mlp'); // input [1, 8, 8]
const image = Float32Array.from({ length: 64 }, (_, i) => (i % 9) / 9);
let calibration: Calibration;

beforeAll(async () => {
  calibration = await calibrate(model.graph, makeDataset({ name: 'synthetic', shape: [1, 8, 8], images: Float32Array.from({ length: 4 * 64 }, (_, i) => (i % 13) / 13), labels: new Int32Array(4) }), { sigma: 0.1, count: 4, seed: 1, threads: 1 });
});

describe('createSampler', () => {
  test('refuses a seed outside [0, 2^53 - 1] or not an integer; takes a 64-bit bigint key', async () => {
    for (const seed of [-1, 1.5, 2 ** 53, NaN]) {
      await expect(createSampler(model, 'float', { sigma: 0.1, seed, batch: 10, threads: 1 })).rejects.toThrow(/^seed: expected an integer in \[0, 9007199254740991\]/);
    }
    const keyed = await createSampler(model, 'float', { sigma: 0.1, seed: 2n ** 64n - 1n, batch: 10, threads: 1 });
    expect((await keyed.sample(image, 0, 0, 5, false)).counts.reduce((a, b) => a + b, 0)).toBe(5);
    await keyed.close();
  });

  test('the sampler checks the image size itself; the integer sampler says it is closed', async () => {
    const sampler = await createSampler(model, 'int', { sigma: 0.1, seed: 1, batch: 10, threads: 1, quantization: { policy: uniformPolicy(model.graph, model.sha256, 4, 4), calibration } });
    await expect(sampler.sample(new Float32Array(63), 0, 0, 5, false)).rejects.toThrow(/^image: expected a Float32Array of 64 values, got 63 values$/);
    await sampler.close();
    await expect(sampler.sample(image, 0, 0, 5, false)).rejects.toThrow(/^the int sampler is closed$/);
  });
});
