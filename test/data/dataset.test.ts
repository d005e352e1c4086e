import { describe, expect, it } from 'vitest';
import { makeDataset, selectEvery, subset, type Dataset } from '../../src/data/index.js';
import { ArqError } from '../../src/util/errors.js';
import { expectArqError } from './helpers.js';

/** 10 images of [2, 1, 2]: image i holds values i + 0.0, i + 0.1, i + 0.2, i + 0.3 (scaled to stay distinct). */
function toy(count = 10): Dataset {
  const images = new Float32Array(count * 4);
  for (let i = 0; i < count; i++) for (let k = 0; k < 4; k++) images[i * 4 + k] = Math.fround((i * 4 + k) / 1000);
  const labels = Int32Array.from({ length: count }, (_, i) => i % 3);
  return makeDataset({ name: 'toy', shape: [2, 1, 2], images, labels });
}

const imageOf = (ds: Dataset, i: number): number[] => Array.from(ds.images.subarray(i * 4, (i + 1) * 4));

describe('makeDataset', () => {
  it('derives count and classes and freezes the result', () => {
    const ds = toy();
    expect(ds.count).toBe(10);
    expect(ds.classes).toBe(3);
    expect(Object.isFrozen(ds)).toBe(true);
    expect(makeDataset({ name: 'z', shape: [1, 1, 1], images: new Float32Array(2), labels: new Int32Array(2) }).classes).toBe(1);
    expect(makeDataset({ name: 'c', shape: [1, 1, 1], images: new Float32Array(1), labels: new Int32Array(1), classes: 10 }).classes).toBe(10);
  });

  it('rejects inconsistent buffers, bad shapes and out-of-range labels', async () => {
    await expectArqError(() => makeDataset({ name: 'x', shape: [1, 2, 2], images: new Float32Array(7), labels: new Int32Array(2) }), 'x: 7 image values do not match 2 labels of images [1, 2, 2] (expected 8)');
    await expectArqError(() => makeDataset({ name: 'x', shape: [1, 0, 2], images: new Float32Array(0), labels: new Int32Array(2) }), 'x: bad image shape [1, 0, 2]');
    await expectArqError(() => makeDataset({ name: 'x', shape: [1, 1, 1], images: new Float32Array(2), labels: Int32Array.from([0, -3]) }), 'x: label -3 at index 1 is out of range [0, 65535]');
  });
});

describe('subset', () => {
  it('copies the chosen images and labels in order, repeats allowed, keeping classes', () => {
    const ds = toy();
    const s = subset(ds, [7, 2, 2]);
    expect(s.count).toBe(3);
    expect(s.shape).toEqual([2, 1, 2]);
    expect(s.name).toBe('toy');
    expect(Array.from(s.labels)).toEqual([1, 2, 2]);
    expect(imageOf(s, 0)).toEqual(imageOf(ds, 7));
    expect(imageOf(s, 2)).toEqual(imageOf(ds, 2));
    const one = subset(ds, [0], 'toy[0]');
    expect(one.classes).toBe(3); // the parent's label space, not max label + 1 of the selection
    expect(one.name).toBe('toy[0]');
    s.images[0] = 99;
    expect(ds.images[7 * 4]).not.toBe(99);
    expect(subset(ds, []).count).toBe(0);
  });

  it('rejects out-of-range and non-integer indices', () => {
    const ds = toy();
    expect(() => subset(ds, [0, 10])).toThrow(ArqError);
    expect(() => subset(ds, [0, 10])).toThrow('toy: subset index 10 at position 1 is out of range [0, 10)');
    expect(() => subset(ds, [-1])).toThrow(/out of range/);
    expect(() => subset(ds, [1.5])).toThrow(/out of range/);
  });
});

describe('selectEvery', () => {
  it('takes indices 0, skip, 2*skip, ... up to max', () => {
    const ds = toy();
    const a = selectEvery(ds, 3, undefined);
    expect(a.indices).toEqual([0, 3, 6, 9]);
    expect(Array.from(a.dataset.labels)).toEqual([0, 0, 0, 0]);
    expect(imageOf(a.dataset, 2)).toEqual(imageOf(ds, 6));
    expect(selectEvery(ds, 3, 2).indices).toEqual([0, 3]);
    expect(selectEvery(ds, 2, 100).indices).toEqual([0, 2, 4, 6, 8]);
    expect(selectEvery(ds, 20, undefined).indices).toEqual([0]);
    expect(selectEvery(ds, 1, 4).dataset.count).toBe(4);
  });

  it('returns the dataset itself when everything is selected', () => {
    const ds = toy();
    const all = selectEvery(ds, 1, undefined);
    expect(all.dataset).toBe(ds);
    expect(all.indices).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(selectEvery(ds, 1, 10).dataset).toBe(ds);
  });

  it('validates skip and max with the option checks', async () => {
    const ds = toy();
    await expectArqError(() => selectEvery(ds, 0, undefined), 'skip: expected an integer in [1, 9007199254740991], got 0');
    await expectArqError(() => selectEvery(ds, 1.5, undefined), 'skip: expected an integer');
    await expectArqError(() => selectEvery(ds, 1, 0), 'max: expected an integer in [1, 9007199254740991], got 0');
    await expectArqError(() => selectEvery(ds, 1, NaN), 'max: expected an integer');
  });
});
