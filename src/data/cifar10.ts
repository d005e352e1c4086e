/**
 * CIFAR-10, binary version: DIR holds data_batch_1.bin .. data_batch_5.bin (train) and test_batch.bin (test).
 * Each record is 1 label byte then 3072 bytes: the R, G and B planes of a 32x32 image, row-major, which is already
 * CHW order. Batches may hold any positive number of records (the real ones hold 10000).
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ArqError } from '../util/errors.js';
import { bytesToUnit, makeDataset, type Dataset, type Split } from './dataset.js';
import { MAX_DATA_BYTES, readBody, withDataFile } from './files.js';

export const CIFAR10_RECORD_BYTES = 3073;
export const CIFAR10_IMAGE_BYTES = 3072;
export const CIFAR10_CLASSES = 10;

export const CIFAR10_FILES: Record<Split, readonly string[]> = {
  train: ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin'],
  test: ['test_batch.bin'],
};

/** Records read and decoded per step: about a megabyte. */
const RECORDS_PER_READ = 341;

/** The subdirectory the official archive extracts to; used when DIR is its parent. */
export const CIFAR10_ARCHIVE_DIR = 'cifar-10-batches-bin';

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** The record count of a batch file of `bytes` bytes; `label` prefixes errors. */
function recordsOf(bytes: number, label: string): number {
  if (bytes === 0) throw new ArqError(`${label}: empty batch file`);
  if (bytes % CIFAR10_RECORD_BYTES !== 0) {
    const hint = bytes % 3074 === 0 ? ' (3074-byte records are the CIFAR-100 binary format, which is not supported)' : '';
    throw new ArqError(
      `${label}: bad batch file size ${bytes} bytes: not a whole number of ${CIFAR10_RECORD_BYTES}-byte records ` +
        `(${Math.floor(bytes / CIFAR10_RECORD_BYTES)} records and ${bytes % CIFAR10_RECORD_BYTES} bytes over)${hint}`,
    );
  }
  return bytes / CIFAR10_RECORD_BYTES;
}

/**
 * Load one split of CIFAR-10 from DIR (or DIR/cifar-10-batches-bin), named `cifar10:DIR#split`; only its first
 * `limit` images when given, reading no batch file past them.
 */
export async function loadCifar10(dir: string, split: Split, name = `cifar10:${dir}#${split}`, limit?: number): Promise<Dataset> {
  if (!(await isDirectory(dir))) {
    const hint = /:(train|test)$/.test(dir) ? ' (select a split with #train or #test, e.g. cifar10:DIR#train)' : '';
    throw new ArqError(`cifar10:${dir}: no such directory${hint}`);
  }
  let base = dir;
  const files = CIFAR10_FILES[split];
  if (!(await exists(join(dir, files[0]))) && (await exists(join(dir, CIFAR10_ARCHIVE_DIR, files[0])))) base = join(dir, CIFAR10_ARCHIVE_DIR);
  const paths = files.map((f) => join(base, f));
  const records: number[] = [];
  for (const p of paths) {
    let size: number;
    try {
      size = (await stat(p)).size;
    } catch {
      throw new ArqError(`cifar10:${dir}: missing ${split} batch file ${p}`);
    }
    records.push(recordsOf(size, `cifar10:${p}`));
  }
  const total = records.reduce((a, b) => a + b, 0);
  if (total * CIFAR10_IMAGE_BYTES > MAX_DATA_BYTES) {
    throw new ArqError(`cifar10:${dir}: the ${split} batches hold ${total} images, more than the ${MAX_DATA_BYTES}-byte limit of a dataset`);
  }
  const count = Math.min(total, limit ?? total);
  const images = new Float32Array(count * CIFAR10_IMAGE_BYTES);
  const labels = new Int32Array(count);
  let first = 0;
  for (let f = 0; f < paths.length && first < count; f++) {
    const label = `cifar10:${paths[f]}`;
    const keep = Math.min(records[f], count - first);
    const sizes = { headerBytes: 0, bodyBytes: records[f] * CIFAR10_RECORD_BYTES, keep: keep * CIFAR10_RECORD_BYTES, description: `${records[f]} records` };
    await withDataFile(paths[f], label, 'batch file', false, (reader) =>
      readBody(reader, label, 'batch file', sizes, (piece, offset) => {
        for (let at = 0; at < piece.length; at += CIFAR10_RECORD_BYTES) {
          const r = (offset + at) / CIFAR10_RECORD_BYTES;
          const l = piece[at];
          if (l >= CIFAR10_CLASSES) throw new ArqError(`${label}: bad label ${l} in record ${r}: CIFAR-10 labels are 0..9`);
          labels[first + r] = l;
          bytesToUnit(piece, at + 1, images, (first + r) * CIFAR10_IMAGE_BYTES, CIFAR10_IMAGE_BYTES);
        }
      }, RECORDS_PER_READ * CIFAR10_RECORD_BYTES));
    first += keep;
  }
  return makeDataset({ name, shape: [3, 32, 32], images, labels });
}
