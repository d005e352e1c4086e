/**
 * A dataset from two .npy files: X images (uint8 scaled by 1/255, or float32/float64 taken as is; shape NCHW, or
 * NHW for one channel) and Y integer labels of shape [N].
 */
import { ArqError } from '../util/errors.js';
import { bytesToUnit, makeDataset, MAX_LABEL, type Dataset } from './dataset.js';
import { readNpy, type NpyArray } from './npy.js';
import { ELEMENTS_PER_SLICE, inSlices } from '../util/slices.js';

/** X as float32 NCHW images of shape [C, H, W], converted and checked in slices between turns of the event loop. `label` prefixes errors. */
export async function npyImages(x: NpyArray, label: string): Promise<{ count: number; shape: [number, number, number]; images: Float32Array }> {
  const s = x.shape;
  if (s.length !== 3 && s.length !== 4) {
    const hint = s.length === 2 ? ' (flattened images are not supported: reshape to [N, C, H, W])' : '';
    throw new ArqError(`${label}: images must have shape [N, C, H, W] or [N, H, W], got [${s.join(', ')}]${hint}`);
  }
  const count = s[0];
  const shape: [number, number, number] = s.length === 4 ? [s[1], s[2], s[3]] : [1, s[1], s[2]];
  if (shape.some((d) => d === 0)) throw new ArqError(`${label}: images of shape [${s.join(', ')}] are empty`);
  if (s.length === 4 && (s[3] === 1 || s[3] === 3) && s[1] !== 1 && s[1] !== 3) {
    throw new ArqError(`${label}: images of shape [${s.join(', ')}] look channels-last (NHWC); transpose them to NCHW`);
  }
  let images: Float32Array;
  if (x.dtype === 'uint8') {
    const out = new Float32Array(x.data.length);
    await inSlices(out.length, ELEMENTS_PER_SLICE, (start, end) => bytesToUnit(x.data as Uint8Array, start, out, start, end - start));
    images = out;
  } else if (x.dtype === 'float32' || x.dtype === 'float64') {
    const out = x.data instanceof Float32Array ? x.data : new Float32Array(x.data.length);
    await inSlices(out.length, ELEMENTS_PER_SLICE, (start, end) => {
      if (out !== x.data) out.set(x.data.subarray(start, end) as Float64Array, start);
      for (let i = start; i < end; i++) {
        const v = out[i];
        if (v - v !== 0) {
          const what = Number.isNaN(v) ? 'NaN' : x.dtype === 'float64' && Number.isFinite((x.data as Float64Array)[i]) ? `${(x.data as Float64Array)[i]} (beyond float32 range)` : String(v);
          throw new ArqError(`${label}: image values must be finite: found ${what} at flat index ${i}`);
        }
      }
    });
    images = out;
  } else {
    throw new ArqError(`${label}: images must be uint8, float32 or float64, got ${x.dtype}`);
  }
  return { count, shape, images };
}

/** Y as int32 labels in [0, MAX_LABEL]. `label` prefixes errors. */
export function npyLabels(y: NpyArray, label: string): Int32Array {
  if (y.shape.length !== 1) throw new ArqError(`${label}: labels must have shape [N], got [${y.shape.join(', ')}]`);
  if (y.dtype === 'bool' || y.dtype === 'float32' || y.dtype === 'float64') {
    throw new ArqError(`${label}: labels must be integers (int8/16/32/64 or uint8/16/32/64), got ${y.dtype}`);
  }
  const n = y.data.length;
  const out = new Int32Array(n);
  const d = y.data;
  for (let i = 0; i < n; i++) {
    const raw = d[i];
    const v = typeof raw === 'bigint' ? (raw < 0n ? -1 : raw > BigInt(MAX_LABEL) ? MAX_LABEL + 1 : Number(raw)) : raw;
    if (v < 0 || v > MAX_LABEL) throw new ArqError(`${label}: label ${raw} at index ${i} is out of range [0, ${MAX_LABEL}]`);
    out[i] = v;
  }
  return out;
}

/** Load `npy:X,Y` as a Dataset named `name` (default `npy:X,Y`). */
export async function loadNpyDataset(xPath: string, yPath: string, name = `npy:${xPath},${yPath}`): Promise<Dataset> {
  const [x, y] = await Promise.all([readNpy(xPath), readNpy(yPath)]);
  const images = await npyImages(x, `npy:${xPath}`);
  const labels = npyLabels(y, `npy:${yPath}`);
  if (images.count !== labels.length) {
    throw new ArqError(`${name}: count mismatch: ${xPath} holds ${images.count} images but ${yPath} holds ${labels.length} labels`);
  }
  if (images.count === 0) throw new ArqError(`${name}: the dataset holds no images`);
  return makeDataset({ name, shape: images.shape, images: images.images, labels });
}
