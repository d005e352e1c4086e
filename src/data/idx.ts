/**
 * MNIST-format idx files (images: magic 0x00000803, ubyte, N x rows x cols; labels: magic 0x00000801, ubyte, N),
 * plain or gzipped. Fashion-MNIST (e.g. Debian's dataset-fashion-mnist) uses the same format.
 */
import { ArqError } from '../util/errors.js';
import { bytesToUnit, makeDataset, type Dataset } from './dataset.js';
import { readBodyInto, withDataFile, type DataReader } from './files.js';

export const IDX_IMAGES_MAGIC = 0x00000803;
export const IDX_LABELS_MAGIC = 0x00000801;

export interface IdxImages {
  /** Images read (the first `limit` of the file's). */
  readonly count: number;
  /** Images the file holds. */
  readonly total: number;
  readonly rows: number;
  readonly cols: number;
  /** count*rows*cols values in [0, 1]. */
  readonly images: Float32Array;
}

function hex32(v: number): string {
  return '0x' + (v >>> 0).toString(16).padStart(8, '0');
}

/** Reads and checks the magic number and header of an idx file of ubyte elements with `ndims` dimensions. */
async function readHeader(reader: DataReader, label: string, what: 'images' | 'labels', ndims: number): Promise<number[]> {
  const headerBytes = 4 + 4 * ndims;
  const buf = Buffer.alloc(headerBytes);
  const got = await reader.read(buf.subarray(0, 4));
  if (got < 4) throw new ArqError(`${label}: truncated ${what} file: ${got} bytes is too short for an idx header`);
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
  const rest = await reader.read(buf.subarray(4));
  if (4 + rest < headerBytes) {
    throw new ArqError(`${label}: truncated ${what} file: expected at least ${headerBytes} header bytes, got ${4 + rest}`);
  }
  const dims: number[] = [];
  for (let i = 0; i < ndims; i++) dims.push(buf.readUInt32BE(4 + 4 * i));
  return dims;
}

/** The first `limit` (default all) images of an idx images file, plain or gzipped. `label` prefixes errors. */
export async function readIdxImages(path: string, label: string, limit?: number): Promise<IdxImages> {
  return withDataFile(path, label, 'images file', true, async (reader) => {
    const [total, rows, cols] = await readHeader(reader, label, 'images', 3);
    if (rows === 0 || cols === 0) throw new ArqError(`${label}: bad images file: images of ${rows}x${cols} are empty`);
    const per = rows * cols;
    const count = Math.min(total, limit ?? total);
    const sizes = { headerBytes: 16, bodyBytes: total * per, keep: count * per, description: `${total} images of ${rows}x${cols}` };
    const images = await readBodyInto(reader, label, 'images file', sizes, (length) => new Float32Array(length), (piece, offset, into) => bytesToUnit(piece, 0, into, offset, piece.length));
    return { count, total, rows, cols, images };
  });
}

/** The first `limit` (default all) labels of an idx labels file, and how many the file holds. */
export async function readIdxLabels(path: string, label: string, limit?: number): Promise<{ total: number; labels: Int32Array }> {
  return withDataFile(path, label, 'labels file', true, async (reader) => {
    const [total] = await readHeader(reader, label, 'labels', 1);
    const count = Math.min(total, limit ?? total);
    const sizes = { headerBytes: 8, bodyBytes: total, keep: count, description: `${total} labels` };
    const labels = await readBodyInto(reader, label, 'labels file', sizes, (length) => new Int32Array(length), (piece, offset, into) => into.set(piece, offset));
    return { total, labels };
  });
}

/**
 * Load an images/labels idx pair (each plain or gzipped) as a one-channel Dataset named `name`
 * (default `idx:IMAGES,LABELS`), reading only the first `limit` images when given.
 */
export async function loadIdx(imagesPath: string, labelsPath: string, name = `idx:${imagesPath},${labelsPath}`, limit?: number): Promise<Dataset> {
  // Both files are read at once, but a fault is reported in a fixed order (the images file's first), not in the
  // order the reads happen to fail: the same bad pair always gives the same message.
  const [imagesRead, labelsRead] = await Promise.allSettled([
    readIdxImages(imagesPath, `idx:${imagesPath}`, limit),
    readIdxLabels(labelsPath, `idx:${labelsPath}`, limit),
  ]);
  if (imagesRead.status === 'rejected') throw imagesRead.reason;
  if (labelsRead.status === 'rejected') throw labelsRead.reason;
  const images = imagesRead.value;
  const labels = labelsRead.value;
  if (images.total !== labels.total) {
    throw new ArqError(`${name}: count mismatch: ${imagesPath} holds ${images.total} images but ${labelsPath} holds ${labels.total} labels`);
  }
  if (images.count === 0) throw new ArqError(`${name}: the dataset holds no images`);
  return makeDataset({ name, shape: [1, images.rows, images.cols], images: images.images, labels: labels.labels });
}
