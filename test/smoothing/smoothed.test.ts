import { describe, expect, test } from 'vitest';
import { SmoothedClassifier } from '../../src/smoothing/smoothed.js';
import { randomNoiseSeed } from '../../src/smoothing/sampler.js';
import { loadFixture } from '../support/fixtures.js';

// sigma 1 on [0,1] images puts the base classifier's top class well below probability 1, so the class counts of
// n samples vary with the noise: two different noise keys give the same counts on all images with negligible
// probability, and the same key gives them always.
const model = loadFixture('mnist_cnn');
const images = [0, 1, 2, 3].map((k) => Float32Array.from({ length: 784 }, (_, i) => ((i * (k + 3)) % 31) / 31));

async function countsOf(classifier: SmoothedClassifier): Promise<number[][]> {
  const out: number[][] = [];
  for (const image of images) out.push(Array.from((await classifier.predict(image, { n: 500 })).counts));
  await classifier.close();
  return out;
}

describe('SmoothedClassifier noise', () => {
  test('instances created without a seed draw different, unpredictable noise', async () => {
    const a = await countsOf(await SmoothedClassifier.create(model, { sigma: 1, threads: 1 }));
    const b = await countsOf(await SmoothedClassifier.create(model, { sigma: 1, threads: 1 }));
    const seeded = await countsOf(await SmoothedClassifier.create(model, { sigma: 1, threads: 1, seed: 0 }));
    expect(a).not.toEqual(b);
    expect(a).not.toEqual(seeded);
    expect(b).not.toEqual(seeded);
  });

  test('a fixed seed reproduces the noise exactly', async () => {
    const a = await countsOf(await SmoothedClassifier.create(model, { sigma: 1, threads: 1, seed: 7 }));
    const b = await countsOf(await SmoothedClassifier.create(model, { sigma: 1, threads: 1, seed: 7 }));
    expect(a).toEqual(b);
  });

  test('random noise keys use all 64 bits', () => {
    const keys = Array.from({ length: 64 }, () => randomNoiseSeed());
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys.some((key) => key >= 2n ** 53n)).toBe(true);
    expect(keys.every((key) => key >= 0n && key < 2n ** 64n)).toBe(true);
  });
});
