import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCifar10, loadDataset } from '../../src/data/index.js';
import { cifarBatch, expectArqError, tempDir } from './helpers.js';

const root = tempDir();
let n = 0;

/** A CIFAR-10 directory whose train batches hold trainCounts[i] records and whose test batch holds testLabels. */
function makeDir(trainCounts: number[] = [2, 1, 3, 1, 2], testLabels: number[] = [3, 8, 0]): string {
  const dir = join(root, `c${n++}`);
  mkdirSync(dir);
  let label = 0;
  trainCounts.forEach((count, b) => {
    const labels = Array.from({ length: count }, () => label++ % 10);
    // Plane c of record r holds (b*16 + r*4 + c + p) mod 256 so decoded values identify batch, record, channel.
    writeFileSync(join(dir, `data_batch_${b + 1}.bin`), cifarBatch(labels, (r, c, p) => (b * 16 + r * 4 + c + p) % 256));
  });
  writeFileSync(join(dir, 'test_batch.bin'), cifarBatch(testLabels, (r, c, p) => (c === 0 ? 255 : c === 1 ? 128 : 0) ^ (p % 2) ^ r));
  return dir;
}

describe('CIFAR-10 binary loader', () => {
  it('loads the train split from the five batches in order, planar RGB as NCHW', async () => {
    const dir = makeDir();
    const ds = await loadDataset(`cifar10:${dir}`, 'train');
    expect(ds.name).toBe(`cifar10:${dir}#train`);
    expect(ds.count).toBe(9);
    expect(ds.shape).toEqual([3, 32, 32]);
    expect(ds.images.length).toBe(9 * 3072);
    expect(Array.from(ds.labels)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(ds.classes).toBe(9);
    // Image index -> (batch, record) for counts [2, 1, 3, 1, 2].
    const where = [[0, 0], [0, 1], [1, 0], [2, 0], [2, 1], [2, 2], [3, 0], [4, 0], [4, 1]];
    where.forEach(([b, r], i) => {
      for (const c of [0, 1, 2]) {
        for (const p of [0, 1, 31, 32, 1023]) {
          expect(ds.images[i * 3072 + c * 1024 + p]).toBe(Math.fround(((b * 16 + r * 4 + c + p) % 256) / 255));
        }
      }
    });
  });

  it('loads the test split; #train / #test override the default', async () => {
    const dir = makeDir();
    const test = await loadDataset(`cifar10:${dir}`, 'test');
    expect(test.name).toBe(`cifar10:${dir}#test`);
    expect(Array.from(test.labels)).toEqual([3, 8, 0]);
    // Record 0: R plane 255^(p%2), G 128^(p%2), B 0^(p%2).
    expect(test.images[0]).toBe(1);
    expect(test.images[1]).toBe(Math.fround(254 / 255));
    expect(test.images[1024]).toBe(Math.fround(128 / 255));
    expect(test.images[2048]).toBe(0);
    expect(test.images[2049]).toBe(Math.fround(1 / 255));
    expect((await loadDataset(`cifar10:${dir}#test`, 'train')).count).toBe(3);
    expect((await loadDataset(`cifar10:${dir}#train`, 'test')).count).toBe(9);
    expect((await loadCifar10(dir, 'test')).name).toBe(`cifar10:${dir}#test`);
  });

  it('accepts the parent of the extracted cifar-10-batches-bin directory', async () => {
    const parent = join(root, `p${n++}`);
    const target = join(parent, 'cifar-10-batches-bin');
    mkdirSync(target, { recursive: true });
    writeFileSync(join(target, 'test_batch.bin'), cifarBatch([5, 6], () => 7));
    const ds = await loadCifar10(parent, 'test');
    expect(Array.from(ds.labels)).toEqual([5, 6]);
    expect(ds.images[0]).toBe(Math.fround(7 / 255));
  });

  describe('rejects bad input with a clear error', () => {
    it('missing batch file, naming it', async () => {
      const dir = makeDir();
      const missing = join(dir, 'data_batch_3.bin');
      rmSync(missing);
      await expectArqError(loadDataset(`cifar10:${dir}`, 'train'), `cifar10:${dir}: missing train batch file ${missing}`);
      const dir2 = join(root, `empty${n++}`);
      mkdirSync(dir2);
      await expectArqError(loadCifar10(dir2, 'test'), `missing test batch file ${join(dir2, 'test_batch.bin')}`);
    });

    it('missing directory, with a hint for DIR:train', async () => {
      const dir = join(root, 'absent');
      await expectArqError(loadCifar10(dir, 'test'), `cifar10:${dir}: no such directory`);
      await expectArqError(loadDataset(`cifar10:${dir}:train`, 'test'), `cifar10:${dir}:train: no such directory`, 'select a split with #train or #test');
    });

    it('size not a multiple of 3073 bytes, and empty batches', async () => {
      const dir = makeDir();
      const p = join(dir, 'test_batch.bin');
      writeFileSync(p, Buffer.alloc(3073 * 2 + 5));
      await expectArqError(loadCifar10(dir, 'test'), `cifar10:${p}: bad batch file size 6151 bytes: not a whole number of 3073-byte records (2 records and 5 bytes over)`);
      writeFileSync(p, Buffer.alloc(3074 * 3));
      await expectArqError(loadCifar10(dir, 'test'), 'CIFAR-100 binary format');
      writeFileSync(p, Buffer.alloc(0));
      await expectArqError(loadCifar10(dir, 'test'), `cifar10:${p}: empty batch file`);
    });

    it('labels of 10 or more', async () => {
      const dir = makeDir();
      const p = join(dir, 'data_batch_5.bin');
      writeFileSync(p, cifarBatch([1, 10], () => 0));
      await expectArqError(loadCifar10(dir, 'train'), `cifar10:${p}: bad label 10 in record 1: CIFAR-10 labels are 0..9`);
    });
  });
});
