import { mkdtempSync, copyFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dataFiles, fashionMnistFiles, fashionMnistInstalled, loadDataset, loadFashionMnist, trainingSpec } from '../../src/data/index.js';

// Debian's dataset-fashion-mnist package; without it these tests are reported skipped, never passed.
const installed = fashionMnistInstalled();

describe.skipIf(!installed)('Fashion-MNIST from /usr/share/datasets/fashion-mnist', () => {
  it('plain fashion-mnist follows the default split, 60k/10k images of 1x28x28 in [0, 1], 10 classes', async () => {
    const train = await loadDataset('fashion-mnist', 'train', { limit: 1000 });
    const test = await loadDataset('fashion-mnist', 'test');
    expect(train.name).toBe('fashion-mnist:train');
    expect(test.name).toBe('fashion-mnist:test');
    expect(test.count).toBe(10000);
    expect((await loadFashionMnist('train')).count).toBe(60000);
    for (const ds of [train, test]) {
      expect(ds.shape).toEqual([1, 28, 28]);
      expect(ds.classes).toBe(10);
      expect(Math.min(...ds.images.subarray(0, 7840))).toBe(0);
      expect(Math.max(...ds.images.subarray(0, 7840))).toBeLessThanOrEqual(1);
    }
    // The dataset's well-known first labels (ankle boot, T-shirt, T-shirt, dress, T-shirt / ankle boot, pullover, ...).
    expect(Array.from(train.labels.subarray(0, 5))).toEqual([9, 0, 0, 3, 0]);
    expect(Array.from(test.labels.subarray(0, 5))).toEqual([9, 2, 1, 1, 6]);
  });

  it('explicit splits, the training counterpart and the files a spec reads', async () => {
    expect((await loadDataset('fashion-mnist:test', 'train', { limit: 3 })).name).toBe('fashion-mnist:test');
    expect((await loadDataset('fashion-mnist#train', 'test', { limit: 3 })).name).toBe('fashion-mnist:train');
    expect(trainingSpec('fashion-mnist:test')).toBe('fashion-mnist:train');
    expect(dataFiles('fashion-mnist', 'test')).toEqual([fashionMnistFiles('test').images, fashionMnistFiles('test').labels]);
  });
});

describe('Fashion-MNIST without the package', () => {
  it('names the missing file and the Debian package to install', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'arq-fmnist-'));
    try {
      await expect(loadFashionMnist('test', undefined, dir)).rejects.toThrow(/t10k-images-idx3-ubyte\.gz and .*t10k-labels-idx1-ubyte\.gz not found; install Debian's dataset-fashion-mnist package \(apt-get install dataset-fashion-mnist\)/);
      expect(fashionMnistInstalled(dir)).toBe(false);
      if (installed) {
        // One file present, one missing: only the missing one is named.
        copyFileSync(fashionMnistFiles('test').images, fashionMnistFiles('test', dir).images);
        await expect(loadFashionMnist('test', undefined, dir)).rejects.toThrow(/^fashion-mnist: \S*t10k-labels-idx1-ubyte\.gz not found/);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects a bad split in the spec', async () => {
    await expect(loadDataset('fashion-mnist:val', 'test')).rejects.toThrow(/fashion-mnist takes an optional split/);
  });
});
