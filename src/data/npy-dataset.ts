/**
 * A dataset from two .npy files: X images (uint8 scaled by 1/255, or float32/float64 taken as is; shape NCHW, or
 * NHW for one channel) and Y integer labels of shape [N].
 */
import { ArqError } from '../util/errors.js';
import { bytesToUnitInSlices, inSlices, makeDataset, MAX_LABEL, type Dataset } from './dataset.js';
import { readNpyRows, type NpyArray } from './npy.js';

/** X as float32 NCHW images of shape [C, H, W], decoded in slices (inSlices). `label` prefixes errors. */
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
    images = new Float32Array(x.data.length);
    await bytesToUnitInSlices(x.data as Uint8Array, images);
  } else if (x.dtype === 'float32' || x.dtype === 'float64') {
    const source = x.data as Float32Array | Float64Array;
    const floats = source instanceof Float32Array ? source : new Float32Array(source.length);
    await inSlices(source.length, (start, end) => {
      for (let i = start; i < end; i++) {
        floats[i] = source[i];
        const v = floats[i];
        if (v - v !== 0) {
          const what = Number.isNaN(v) ? 'NaN' : Number.isFinite(source[i]) ? `${source[i]} (beyond float32 range)` : String(v);
          throw new ArqError(`${label}: image values must be finite: found ${what} at flat index ${i}`);
        }
      }
    });
    images = floats;
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

/** Load `npy:X,Y` as a Dataset named `name` (default `npy:X,Y`), reading only the first `limit` images when given. */
export async function loadNpyDataset(xPath: string, yPath: string, name = `npy:${xPath},${yPath}`, limit?: number): Promise<Dataset> {
  const [x, y] = await Promise.all([readNpyRows(xPath, limit), readNpyRows(yPath, limit)]);
  const images = await npyImages(x.array, `npy:${xPath}`);
  const labels = npyLabels(y.array, `npy:${yPath}`);
  if (x.rows !== y.rows) {
    throw new ArqError(`${name}: count mismatch: ${xPath} holds ${x.rows} images but ${yPath} holds ${y.rows} labels`);
  }
  if (images.count === 0) throw new ArqError(`${name}: the dataset holds no images`);
  return makeDataset({ name, shape: images.shape, images: images.images, labels });
}
