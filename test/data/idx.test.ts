import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { loadDataset, loadIdx } from '../../src/data/index.js';
import { expectArqError, idxImages, idxLabels, tempDir } from './helpers.js';

const dir = tempDir();
let n = 0;
function file(content: Buffer, suffix = ''): string {
  const p = join(dir, `f${n++}${suffix}`);
  writeFileSync(p, content);
  return p;
}

const pixel = (i: number): number => (i * 37) % 256;
const LABELS = [3, 1, 4, 1, 5];

describe('idx loader', () => {
  it('round-trips plain files', async () => {
    const img = file(idxImages(5, 3, 4, pixel));
    const lab = file(idxLabels(LABELS));
    const ds = await loadDataset(`idx:${img},${lab}`, 'test');
    expect(ds.name).toBe(`idx:${img},${lab}`);
    expect(ds.count).toBe(5);
    expect(ds.shape).toEqual([1, 3, 4]);
    expect(ds.classes).toBe(6);
    expect(Array.from(ds.labels)).toEqual(LABELS);
    expect(Array.from(ds.images)).toEqual(Array.from({ length: 60 }, (_, i) => Math.fround(pixel(i) / 255)));
  });

  it('round-trips gzipped files (detected by magic bytes, not by name), mixed with plain ones', async () => {
    const img = file(gzipSync(idxImages(5, 3, 4, pixel)), '-images');
    const lab = file(gzipSync(idxLabels(LABELS)), '.gz');
    const plainLab = file(idxLabels(LABELS));
    for (const ds of [await loadIdx(img, lab), await loadIdx(img, plainLab)]) {
      expect(ds.count).toBe(5);
      expect(Array.from(ds.labels)).toEqual(LABELS);
      expect(ds.images[1]).toBe(Math.fround(37 / 255));
    }
  });

  it('reads Fashion-MNIST-style 28x28 files with all byte values', async () => {
    const img = file(gzipSync(idxImages(2, 28, 28, (i) => i % 256)));
    const lab = file(gzipSync(idxLabels([9, 0])));
    const ds = await loadIdx(img, lab);
    expect(ds.shape).toEqual([1, 28, 28]);
    expect(ds.images[255]).toBe(1);
    expect(ds.images[0]).toBe(0);
    expect(ds.classes).toBe(10);
  });

  describe('rejects corrupt input with a clear error naming the file', () => {
    const goodImg = (): string => file(idxImages(5, 3, 4));
    const goodLab = (): string => file(idxLabels(LABELS));

    it('bad magic', async () => {
      const img = idxImages(5, 3, 4);
      img.writeUInt32BE(0x12345678, 0);
      const p = file(img);
      await expectArqError(loadIdx(p, goodLab()), `idx:${p}: bad magic number 0x12345678 in images file: not an idx file (expected 0x00000803)`);
      const lab = idxLabels(LABELS);
      lab.writeUInt32BE(0x00000803, 0);
      const q = file(lab);
      await expectArqError(loadIdx(goodImg(), q), `idx:${q}: wrong number of dimensions in labels file: expected 1, got 3`, 'is this an images file?');
    });

    it('images and labels swapped', async () => {
      const img = goodImg();
      const lab = goodLab();
      await expectArqError(loadIdx(lab, img), `idx:${lab}: wrong number of dimensions in images file: expected 3, got 1`, 'is this a labels file?');
    });

    it('non-ubyte element type', async () => {
      const img = idxImages(5, 3, 4);
      img[2] = 0x0d; // float
      const p = file(img);
      await expectArqError(loadIdx(p, goodLab()), `idx:${p}: unsupported element type 0x0d in images file`);
    });

    it('wrong dimension count', async () => {
      const img = idxImages(5, 3, 4);
      img[3] = 4;
      const p = file(img);
      await expectArqError(loadIdx(p, goodLab()), `idx:${p}: wrong number of dimensions in images file: expected 3, got 4`);
    });

    it('truncated images, with expected and actual byte counts', async () => {
      const full = idxImages(10000, 28, 28, () => 0);
      const p = file(full.subarray(0, 1000));
      await expectArqError(loadIdx(p, goodLab()), `idx:${p}: truncated images file: expected 7840016 bytes for 10000 images of 28x28, got 1000`);
    });

    it('oversized images', async () => {
      const p = file(Buffer.concat([idxImages(5, 3, 4), Buffer.alloc(3)]));
      await expectArqError(loadIdx(p, goodLab()), `idx:${p}: oversized images file: expected 76 bytes for 5 images of 3x4, got 79`);
    });

    it('truncated header and truncated or oversized labels', async () => {
      const short = file(Buffer.from([0, 0, 8, 3, 0, 0]));
      await expectArqError(loadIdx(short, goodLab()), `idx:${short}: truncated images file: expected at least 16 header bytes, got 6`);
      const tiny = file(Buffer.from([0, 0]));
      await expectArqError(loadIdx(tiny, goodLab()), `idx:${tiny}: truncated images file`);
      const lab = file(idxLabels(LABELS).subarray(0, 10));
      await expectArqError(loadIdx(goodImg(), lab), `idx:${lab}: truncated labels file: expected 13 bytes for 5 labels, got 10`);
      const big = file(Buffer.concat([idxLabels(LABELS), Buffer.alloc(1)]));
      await expectArqError(loadIdx(goodImg(), big), `idx:${big}: oversized labels file: expected 13 bytes for 5 labels, got 14`);
    });

    it('a truncated file inside gzip is still caught', async () => {
      const p = file(gzipSync(idxImages(5, 3, 4).subarray(0, 50)));
      await expectArqError(loadIdx(p, goodLab()), `idx:${p}: truncated images file: expected 76 bytes for 5 images of 3x4, got 50`);
    });

    it('corrupt gzip data', async () => {
      const gz = gzipSync(idxImages(5, 3, 4));
      const p = file(gz.subarray(0, gz.length - 10));
      await expectArqError(loadIdx(p, goodLab()), `idx:${p}: corrupt gzip data`);
    });

    it('count mismatch between images and labels', async () => {
      const img = goodImg();
      const lab = file(idxLabels([1, 2, 3]));
      await expectArqError(loadDataset(`idx:${img},${lab}`, 'test'), `idx:${img},${lab}: count mismatch: ${img} holds 5 images but ${lab} holds 3 labels`);
    });

    it('zero-size images and empty datasets', async () => {
      const img = file(idxImages(5, 0, 4));
      await expectArqError(loadIdx(img, goodLab()), `idx:${img}: bad images file: images of 0x4 are empty`);
      const none = file(idxImages(0, 3, 4));
      const noLab = file(idxLabels([]));
      await expectArqError(loadIdx(none, noLab), 'the dataset holds no images');
    });

    it('missing files and directories', async () => {
      const missing = join(dir, 'nope');
      await expectArqError(loadIdx(missing, goodLab()), `idx:${missing}: cannot read images file: no such file`);
      await expectArqError(loadIdx(goodImg(), dir), `idx:${dir}: cannot read labels file: is a directory`);
    });
  });
});
