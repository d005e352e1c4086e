/**
 * MNIST-format idx files (images: magic 0x00000803, ubyte, N x rows x cols; labels: magic 0x00000801, ubyte, N),
 * plain or gzipped. Fashion-MNIST (e.g. Debian's dataset-fashion-mnist) uses the same format.
 */
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { ArqError } from '../util/errors.js';
import { bytesToUnit, makeDataset, type Dataset } from './dataset.js';
import { readDataFile } from './files.js';
import { ELEMENTS_PER_SLICE, inSlices } from '../util/slices.js';

export const IDX_IMAGES_MAGIC = 0x00000803;
export const IDX_LABELS_MAGIC = 0x00000801;

export interface IdxImages {
  readonly count: number;
  readonly rows: number;
  readonly cols: number;
  /** count*rows*cols values in [0, 1]. */
  readonly images: Float32Array;
}

/** True when the buffer starts with the gzip magic bytes 1f 8b. */
export function isGzip(buf: Uint8Array): boolean {
  return buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b;
}

const gunzipOffThread = promisify(gunzip);

/** Gunzip (on the libuv pool, off the JavaScript thread) when gzipped, else the buffer itself. `label` prefixes errors. */
export async function maybeGunzip(buf: Buffer, label: string): Promise<Buffer> {
  if (!isGzip(buf)) return buf;
  try {
    return await gunzipOffThread(buf);
  } catch (err) {
    throw new ArqError(`${label}: corrupt gzip data: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

function hex32(v: number): string {
  return '0x' + (v >>> 0).toString(16).padStart(8, '0');
}

/** Check the magic number and header of an idx file of ubyte elements with `ndims` dimensions; returns the dims. */
function readHeader(buf: Buffer, label: string, what: 'images' | 'labels', ndims: number): number[] {
  if (buf.length < 4) throw new ArqError(`${label}: truncated ${what} file: ${buf.length} bytes is too short for an idx header`);
  const magic = buf.readUInt32BE(0);
  const expectedMagic = ndims === 3 ? IDX_IMAGES_MAGIC : IDX_LABELS_MAGIC;
  if (magic !== expectedMagic) {
    if (buf[0] !== 0 || buf[1] !== 0) {
      throw new ArqError(`${label}: bad magic number ${hex32(magic)} in ${what} file: not an idx file (expected ${hex32(expectedMagic)})`);
    }
    if (buf[2] !== 0x08) {
      throw new ArqError(`${label}: unsupported element type 0x${buf[2].toString(16).padStart(2, '0')} in ${what} file (magic ${hex32(magic)}): only unsigned bytes (0x08) are supported`);
    }
    const hint = buf[3] === 1 ? ' (is this a labels file?)' : buf[3] === 3 ? ' (is this an images file?)' : '';
    throw new ArqError(`${label}: wrong number of dimensions in ${what} file: expected ${ndims}, got ${buf[3]} (magic ${hex32(magic)}, expected ${hex32(expectedMagic)})${hint}`);
  }
  const headerBytes = 4 + 4 * ndims;
  if (buf.length < headerBytes) {
    throw new ArqError(`${label}: truncated ${what} file: expected at least ${headerBytes} header bytes, got ${buf.length}`);
  }
  const dims: number[] = [];
  for (let i = 0; i < ndims; i++) dims.push(buf.readUInt32BE(4 + 4 * i));
  return dims;
}

function checkLength(buf: Buffer, label: string, what: string, expected: number, description: string): void {
  if (buf.length !== expected) {
    const kind = buf.length < expected ? 'truncated' : 'oversized';
    throw new ArqError(`${label}: ${kind} ${what} file: expected ${expected} bytes for ${description}, got ${buf.length}`);
  }
}

/**
 * Decode an (already gunzipped) idx images buffer. `label` prefixes errors, e.g. 'idx:/path/images'. The pixels are
 * decoded in slices between turns of the event loop.
 */
export async function decodeIdxImages(buf: Buffer, label: string): Promise<IdxImages> {
  const [count, rows, cols] = readHeader(buf, label, 'images', 3);
  if (rows === 0 || cols === 0) throw new ArqError(`${label}: bad images file: images of ${rows}x${cols} are empty`);
  const per = rows * cols;
  checkLength(buf, label, 'images', 16 + count * per, `${count} images of ${rows}x${cols}`);
  const images = new Float32Array(count * per);
  await inSlices(count * per, ELEMENTS_PER_SLICE, (start, end) => bytesToUnit(buf, 16 + start, images, start, end - start));
  return { count, rows, cols, images };
}

/** Decode an (already gunzipped) idx labels buffer. */
export function decodeIdxLabels(buf: Buffer, label: string): Int32Array {
  const [count] = readHeader(buf, label, 'labels', 1);
  checkLength(buf, label, 'labels', 8 + count, `${count} labels`);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) labels[i] = buf[8 + i];
  return labels;
}

/**
 * Load an images/labels idx pair (each plain or gzipped) as a one-channel Dataset named `name`
 * (default `idx:IMAGES,LABELS`).
 */
export async function loadIdx(imagesPath: string, labelsPath: string, name = `idx:${imagesPath},${labelsPath}`): Promise<Dataset> {
  const imagesLabel = `idx:${imagesPath}`;
  const labelsLabel = `idx:${labelsPath}`;
  const [imagesRaw, labelsRaw] = await Promise.all([
    readDataFile(imagesPath, imagesLabel, 'images file'),
    readDataFile(labelsPath, labelsLabel, 'labels file'),
  ]);
  const images = await decodeIdxImages(await maybeGunzip(imagesRaw, imagesLabel), imagesLabel);
  const labels = decodeIdxLabels(await maybeGunzip(labelsRaw, labelsLabel), labelsLabel);
  if (images.count !== labels.length) {
    throw new ArqError(`${name}: count mismatch: ${imagesPath} holds ${images.count} images but ${labelsPath} holds ${labels.length} labels`);
  }
  if (images.count === 0) throw new ArqError(`${name}: the dataset holds no images`);
  return makeDataset({ name, shape: [1, images.rows, images.cols], images: images.images, labels });
}
