/**
 * CIFAR-10, binary version: DIR holds data_batch_1.bin .. data_batch_5.bin (train) and test_batch.bin (test).
 * Each record is 1 label byte then 3072 bytes: the R, G and B planes of a 32x32 image, row-major, which is already
 * CHW order. Batches may hold any positive number of records (the real ones hold 10000).
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ArqError } from '../util/errors.js';
import { bytesToUnit, makeDataset, type Dataset, type Split } from './dataset.js';
import { readDataFile } from './files.js';
import { ELEMENTS_PER_SLICE, inSlices } from '../util/slices.js';

export const CIFAR10_RECORD_BYTES = 3073;
export const CIFAR10_IMAGE_BYTES = 3072;
export const CIFAR10_CLASSES = 10;

export const CIFAR10_FILES: Record<Split, readonly string[]> = {
  train: ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin'],
  test: ['test_batch.bin'],
};

/** The subdirectory the official archive extracts to; used when DIR is its parent. */
const ARCHIVE_DIR = 'cifar-10-batches-bin';

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

/** Check the size and labels of one batch file; returns its record count. `label` prefixes errors. */
export function checkCifar10Batch(buf: Uint8Array, label: string): number {
  if (buf.length === 0) throw new ArqError(`${label}: empty batch file`);
  if (buf.length % CIFAR10_RECORD_BYTES !== 0) {
    const hint = buf.length % 3074 === 0 ? ' (3074-byte records are the CIFAR-100 binary format, which is not supported)' : '';
    throw new ArqError(
      `${label}: bad batch file size ${buf.length} bytes: not a whole number of ${CIFAR10_RECORD_BYTES}-byte records ` +
        `(${Math.floor(buf.length / CIFAR10_RECORD_BYTES)} records and ${buf.length % CIFAR10_RECORD_BYTES} bytes over)${hint}`,
    );
  }
  const records = buf.length / CIFAR10_RECORD_BYTES;
  for (let r = 0; r < records; r++) {
    const l = buf[r * CIFAR10_RECORD_BYTES];
    if (l >= CIFAR10_CLASSES) throw new ArqError(`${label}: bad label ${l} in record ${r}: CIFAR-10 labels are 0..9`);
  }
  return records;
}

/** Load one split of CIFAR-10 from DIR (or DIR/cifar-10-batches-bin), named `cifar10:DIR#split`. */
export async function loadCifar10(dir: string, split: Split, name = `cifar10:${dir}#${split}`): Promise<Dataset> {
  if (!(await isDirectory(dir))) {
    const hint = /:(train|test)$/.test(dir) ? ' (select a split with #train or #test, e.g. cifar10:DIR#train)' : '';
    throw new ArqError(`cifar10:${dir}: no such directory${hint}`);
  }
  let base = dir;
  const files = CIFAR10_FILES[split];
  if (!(await exists(join(dir, files[0]))) && (await exists(join(dir, ARCHIVE_DIR, files[0])))) base = join(dir, ARCHIVE_DIR);
  const paths = files.map((f) => join(base, f));
  for (const p of paths) {
    if (!(await exists(p))) throw new ArqError(`cifar10:${dir}: missing ${split} batch file ${p}`);
  }
  const buffers = await Promise.all(paths.map((p) => readDataFile(p, `cifar10:${p}`, 'batch file')));
  const counts = buffers.map((b, i) => checkCifar10Batch(b, `cifar10:${paths[i]}`));
  const count = counts.reduce((a, b) => a + b, 0);
  const images = new Float32Array(count * CIFAR10_IMAGE_BYTES);
  const labels = new Int32Array(count);
  let n = 0;
  for (let f = 0; f < buffers.length; f++) {
    const buf = buffers[f];
    await inSlices(counts[f], Math.ceil(ELEMENTS_PER_SLICE / CIFAR10_IMAGE_BYTES), (first, end) => {
      for (let r = first; r < end; r++, n++) {
        const off = r * CIFAR10_RECORD_BYTES;
        labels[n] = buf[off];
        bytesToUnit(buf, off + 1, images, n * CIFAR10_IMAGE_BYTES, CIFAR10_IMAGE_BYTES);
      }
    });
  }
  return makeDataset({ name, shape: [3, 32, 32], images, labels });
}
