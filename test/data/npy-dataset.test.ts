import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeNpy, loadDataset, loadNpyDataset, type NpyData } from '../../src/data/index.js';
import { expectArqError, tempDir } from './helpers.js';

const dir = tempDir();
let n = 0;
function npy(array: NpyData, shape: number[]): string {
  const p = join(dir, `d${n++}.npy`);
  writeFileSync(p, encodeNpy(array, shape));
  return p;
}
const u8 = (count: number): Uint8Array => Uint8Array.from({ length: count }, (_, i) => (i * 11) % 256);

describe('npy:X,Y datasets', () => {
  it('uint8 NCHW, scaled by 1/255, with int64 labels', async () => {
    const x = npy(u8(2 * 3 * 4 * 5), [2, 3, 4, 5]);
    const y = npy(new BigInt64Array([4n, 0n]), [2]);
    const ds = await loadDataset(`npy:${x},${y}`, 'test');
    expect(ds.name).toBe(`npy:${x},${y}`);
    expect(ds.count).toBe(2);
    expect(ds.shape).toEqual([3, 4, 5]);
    expect(ds.classes).toBe(5);
    expect(Array.from(ds.labels)).toEqual([4, 0]);
    expect(Array.from(ds.images)).toEqual(Array.from(u8(120), (b) => Math.fround(b / 255)));
  });

  it('uint8 NHW becomes one channel', async () => {
    const ds = await loadNpyDataset(npy(u8(3 * 4 * 5), [3, 4, 5]), npy(new Uint8Array([1, 2, 3]), [3]));
    expect(ds.shape).toEqual([1, 4, 5]);
    expect(ds.count).toBe(3);
    expect(ds.images[1]).toBe(Math.fround(11 / 255));
  });

  it('float32 and float64 images are taken as is', async () => {
    const f = new Float32Array([0, 0.25, 0.5, 1, 0.125, 0.75, 0.3, 0.9]);
    const ds = await loadNpyDataset(npy(f, [2, 1, 2, 2]), npy(new Int32Array([0, 9]), [2]));
    expect(ds.images).toEqual(f);
    expect(ds.classes).toBe(10);
    const d = await loadNpyDataset(npy(Float64Array.from(f), [2, 2, 2]), npy(new Int16Array([1, 1]), [2]));
    expect(d.images).toEqual(f);
    expect(d.shape).toEqual([1, 2, 2]);
  });

  it('accepts every integer label dtype', async () => {
    const x = npy(u8(2 * 4), [2, 2, 2]);
    const labels: NpyData[] = [
      new Uint8Array([3, 0]), new Int8Array([3, 0]), new Uint16Array([3, 0]), new Int16Array([3, 0]),
      new Uint32Array([3, 0]), new Int32Array([3, 0]), new BigUint64Array([3n, 0n]), new BigInt64Array([3n, 0n]),
    ];
    for (const l of labels) expect(Array.from((await loadNpyDataset(x, npy(l, [2]))).labels)).toEqual([3, 0]);
  });

  it('reads version 2.0 files', async () => {
    const x = encodeNpy(u8(4), [1, 2, 2]);
    const header = "{'descr': '|u1', 'fortran_order': False, 'shape': (1, 2, 2), }";
    const v2 = Buffer.alloc(12 + 116);
    Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 2, 0]).copy(v2);
    v2.writeUInt32LE(116, 8);
    v2.write(header.padEnd(115, ' ') + '\n', 12, 'latin1');
    const p = join(dir, 'v2.npy');
    writeFileSync(p, Buffer.concat([v2, x.subarray(x.length - 4)]));
    const ds = await loadNpyDataset(p, npy(new Int32Array([2]), [1]));
    expect(ds.images[1]).toBe(Math.fround(11 / 255));
  });

  describe('rejects with a clear error naming the file', () => {
    const goodY = (count = 2): string => npy(new Int32Array(count), [count]);

    it('NaN and Inf images', async () => {
      const nan = npy(new Float32Array([0, 0.5, NaN, 1]), [1, 2, 2]);
      await expectArqError(loadNpyDataset(nan, goodY(1)), `npy:${nan}: image values must be finite: found NaN at flat index 2`);
      const inf = npy(new Float32Array([0, -Infinity, 0, 1]), [1, 2, 2]);
      await expectArqError(loadNpyDataset(inf, goodY(1)), `npy:${inf}: image values must be finite: found -Infinity at flat index 1`);
      const big = npy(new Float64Array([0, 0, 0, 1e39]), [1, 2, 2]);
      await expectArqError(loadNpyDataset(big, goodY(1)), `npy:${big}: image values must be finite: found 1e+39 (beyond float32 range) at flat index 3`);
    });

    it('unsupported image dtype and shapes', async () => {
      const i32 = npy(new Int32Array(8), [2, 2, 2]);
      await expectArqError(loadNpyDataset(i32, goodY()), `npy:${i32}: images must be uint8, float32 or float64, got int32`);
      const flat = npy(u8(8), [2, 4]);
      await expectArqError(loadNpyDataset(flat, goodY()), `npy:${flat}: images must have shape [N, C, H, W] or [N, H, W], got [2, 4]`, 'flattened');
      const nhwc = npy(u8(2 * 4 * 4 * 3), [2, 4, 4, 3]);
      await expectArqError(loadNpyDataset(nhwc, goodY()), `npy:${nhwc}: images of shape [2, 4, 4, 3] look channels-last (NHWC); transpose them to NCHW`);
      const zero = npy(u8(0), [2, 0, 3]);
      await expectArqError(loadNpyDataset(zero, goodY()), `npy:${zero}: images of shape [2, 0, 3] are empty`);
    });

    it('bad labels', async () => {
      const x = npy(u8(8), [2, 2, 2]);
      const f = npy(new Float32Array([1, 2]), [2]);
      await expectArqError(loadNpyDataset(x, f), `npy:${f}: labels must be integers`, 'got float32');
      const two = npy(new Int32Array([1, 2]), [2, 1]);
      await expectArqError(loadNpyDataset(x, two), `npy:${two}: labels must have shape [N], got [2, 1]`);
      const neg = npy(new Int8Array([1, -1]), [2]);
      await expectArqError(loadNpyDataset(x, neg), `npy:${neg}: label -1 at index 1 is out of range [0, 65535]`);
      const huge = npy(new BigInt64Array([1n << 40n, 0n]), [2]);
      await expectArqError(loadNpyDataset(x, huge), `npy:${huge}: label 1099511627776 at index 0 is out of range [0, 65535]`);
      const u32 = npy(new Uint32Array([0, 4294967295]), [2]);
      await expectArqError(loadNpyDataset(x, u32), `npy:${u32}: label 4294967295 at index 1 is out of range`);
    });

    it('count mismatch and empty datasets', async () => {
      const x = npy(u8(8), [2, 2, 2]);
      const y = goodY(3);
      await expectArqError(loadDataset(`npy:${x},${y}`, 'test'), `npy:${x},${y}: count mismatch: ${x} holds 2 images but ${y} holds 3 labels`);
      await expectArqError(loadNpyDataset(npy(u8(0), [0, 2, 2]), goodY(0)), 'the dataset holds no images');
    });

    it('format-level rejections propagate from the reader', async () => {
      const p = join(dir, 'fortran.npy');
      const buf = encodeNpy(u8(8), [2, 2, 2]);
      writeFileSync(p, Buffer.from(buf.toString('latin1').replace("'fortran_order': False", "'fortran_order': True "), 'latin1'));
      await expectArqError(loadNpyDataset(p, goodY()), `npy:${p}: fortran_order True is not supported`);
      const be = join(dir, 'be.npy');
      const b2 = encodeNpy(new Float32Array(8), [2, 2, 2]);
      writeFileSync(be, Buffer.from(b2.toString('latin1').replace("'<f4'", "'>f4'"), 'latin1'));
      await expectArqError(loadNpyDataset(be, goodY()), `npy:${be}: big-endian dtype '>f4' is not supported`);
      const missing = join(dir, 'missing.npy');
      await expectArqError(loadNpyDataset(npy(u8(8), [2, 2, 2]), missing), `npy:${missing}: cannot read NPY file: no such file`);
    });
  });
});
