/**
 * The in-memory dataset every loader produces: float32 images in [0, 1], NCHW, with int32 labels. Also the pure
 * helpers that build, check and select from one.
 */
import { ArqError } from '../util/errors.js';
import { integerInRange } from '../util/check.js';

export type Split = 'train' | 'test';

export interface Dataset {
  /** Canonical spec-like name, e.g. 'mnist:test', 'cifar10:/path#train'. */
  readonly name: string;
  readonly count: number;
  /** [C, H, W] of one image. */
  readonly shape: readonly [number, number, number];
  /** count*C*H*W values, NCHW, in [0, 1]. */
  readonly images: Float32Array;
  /** count labels, each in [0, classes). */
  readonly labels: Int32Array;
  /** max label + 1 (at least 1). */
  readonly classes: number;
}

/** Largest label a dataset may hold; larger values are treated as corrupt label files rather than as class ids. */
export const MAX_LABEL = 65535;

/**
 * Decode `count` bytes of `src` starting at `srcOffset` into `dst` at `dstOffset`, scaling by 1/255. The division
 * is done in double precision and rounded once to float32 (so each value is the float32 nearest b/255); it is
 * faster than a look-up table here.
 */
export function bytesToUnit(src: Uint8Array, srcOffset: number, dst: Float32Array, dstOffset: number, count: number): void {
  for (let i = 0; i < count; i++) dst[dstOffset + i] = src[srcOffset + i] / 255;
}

/** Values a decoding loop handles between two yields to the event loop: well under a millisecond of work. */
const DECODE_CHUNK = 1 << 18;

/**
 * Runs `body(start, end)` over [0, count) in slices of `chunk`, yielding to the event loop between slices, so that
 * decoding a whole dataset (tens of millions of values) never holds the loop for more than one slice.
 */
export async function inSlices(count: number, body: (start: number, end: number) => void, chunk = DECODE_CHUNK): Promise<void> {
  for (let start = 0; start < count; start += chunk) {
    if (start > 0) await new Promise<void>((resolve) => setImmediate(resolve));
    body(start, Math.min(count, start + chunk));
  }
}

/** bytesToUnit over the whole of `src` into `dst`, in slices (inSlices). */
export async function bytesToUnitInSlices(src: Uint8Array, dst: Float32Array): Promise<void> {
  await inSlices(src.length, (start, end) => bytesToUnit(src, start, dst, start, end - start));
}

/** max label + 1, at least 1. Labels are assumed already checked to be in [0, MAX_LABEL]. */
export function classesOf(labels: Int32Array): number {
  let max = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i] > max) max = labels[i];
  return max + 1;
}

/**
 * Assemble a Dataset, checking that buffer sizes agree with count and shape and that every label is in
 * [0, MAX_LABEL]. `classes` defaults to max label + 1.
 */
export function makeDataset(fields: {
  name: string;
  shape: readonly [number, number, number];
  images: Float32Array;
  labels: Int32Array;
  classes?: number;
}): Dataset {
  const { name, images, labels } = fields;
  const shape = [fields.shape[0], fields.shape[1], fields.shape[2]] as const;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 1) throw new ArqError(`${name}: bad image shape [${shape.join(', ')}]: every dimension must be a positive integer`);
  }
  const count = labels.length;
  const per = shape[0] * shape[1] * shape[2];
  if (images.length !== count * per) {
    throw new ArqError(`${name}: ${images.length} image values do not match ${count} labels of images [${shape.join(', ')}] (expected ${count * per})`);
  }
  for (let i = 0; i < count; i++) {
    const l = labels[i];
    if (l < 0 || l > MAX_LABEL) throw new ArqError(`${name}: label ${l} at index ${i} is out of range [0, ${MAX_LABEL}]`);
  }
  const classes = fields.classes ?? classesOf(labels);
  return Object.freeze({ name, count, shape, images, labels, classes });
}

/**
 * The images at `indices` (in that order, repeats allowed) as a new Dataset with copied buffers. `classes` is kept
 * from the parent, since it describes the label space, not the selection; the name is kept unless one is given.
 */
export function subset(ds: Dataset, indices: readonly number[], name: string = ds.name): Dataset {
  const per = ds.shape[0] * ds.shape[1] * ds.shape[2];
  const images = new Float32Array(indices.length * per);
  const labels = new Int32Array(indices.length);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k];
    if (!Number.isInteger(i) || i < 0 || i >= ds.count) {
      throw new ArqError(`${ds.name}: subset index ${i} at position ${k} is out of range [0, ${ds.count})`);
    }
    images.set(ds.images.subarray(i * per, (i + 1) * per), k * per);
    labels[k] = ds.labels[i];
  }
  return Object.freeze({ name, count: indices.length, shape: ds.shape, images, labels, classes: ds.classes });
}

/**
 * The settings of a selection, checked once for every operation that selects images: `skip` (every skip-th image)
 * and `max` (at most that many of them, after skip; undefined: all), each an integer in [1, 2^53 - 1].
 */
export function checkSelection(skip: unknown, max: unknown): { skip: number; max: number | undefined } {
  return {
    skip: integerInRange('skip', skip, 1, Number.MAX_SAFE_INTEGER),
    max: max === undefined ? undefined : integerInRange('max', max, 1, Number.MAX_SAFE_INTEGER),
  };
}

/** How many leading images the selection of `skip` and `max` reaches (undefined: all), so the rest need not be read. */
export function selectionReach(skip: unknown, max: unknown): number | undefined {
  const checked = checkSelection(skip, max);
  return checked.max === undefined ? undefined : (checked.max - 1) * checked.skip + 1;
}

/** The dataset indices that every `skip`-th image of `count`, at most `max` of them, selects. */
export function selectedIndices(count: number, skip: number, max: number | undefined): number[] {
  checkSelection(skip, max);
  const indices: number[] = [];
  for (let i = 0; i < count && (max === undefined || indices.length < max); i += skip) indices.push(i);
  return indices;
}

/**
 * Every `skip`-th image (indices 0, skip, 2*skip, ...), at most `max` of them (all when undefined). Returns the
 * selection and the original indices it took. With skip 1 and no effective max, the dataset itself is returned.
 */
export function selectEvery(ds: Dataset, skip: number, max: number | undefined): { dataset: Dataset; indices: number[] } {
  const indices = selectedIndices(ds.count, skip, max);
  if (indices.length === ds.count) return { dataset: ds, indices };
  return { dataset: subset(ds, indices), indices };
}
