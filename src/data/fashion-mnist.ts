/**
 * Fashion-MNIST (Xiao et al. 2017; 60k train / 10k test, MNIST's idx format) from Debian's `dataset-fashion-mnist`
 * package, which installs the four gzipped idx files in FASHION_MNIST_DIR. Not bundled: arq reads the system copy.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ArqError } from '../util/errors.js';
import type { Dataset, Split } from './dataset.js';
import { loadIdx } from './idx.js';

export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';
export const FASHION_MNIST_PACKAGE = 'dataset-fashion-mnist';

const FILES: Record<Split, { images: string; labels: string }> = {
  train: { images: 'train-images-idx3-ubyte.gz', labels: 'train-labels-idx1-ubyte.gz' },
  test: { images: 't10k-images-idx3-ubyte.gz', labels: 't10k-labels-idx1-ubyte.gz' },
};

/** The idx files of one Fashion-MNIST split in `dir` (whether or not they exist). */
export function fashionMnistFiles(split: Split, dir = FASHION_MNIST_DIR): { images: string; labels: string } {
  return { images: join(dir, FILES[split].images), labels: join(dir, FILES[split].labels) };
}

/** Whether both files of both splits are present in `dir`. */
export function fashionMnistInstalled(dir = FASHION_MNIST_DIR): boolean {
  return (['train', 'test'] as const).every((split) => Object.values(fashionMnistFiles(split, dir)).every((file) => existsSync(file)));
}

/** Loads one split, named 'fashion-mnist:train' or 'fashion-mnist:test'; an ArqError naming the package when absent. */
export async function loadFashionMnist(split: Split, limit?: number, dir = FASHION_MNIST_DIR): Promise<Dataset> {
  const files = fashionMnistFiles(split, dir);
  const missing = Object.values(files).filter((file) => !existsSync(file));
  if (missing.length > 0) {
    throw new ArqError(`fashion-mnist: ${missing.join(' and ')} not found; install Debian's ${FASHION_MNIST_PACKAGE} package (apt-get install ${FASHION_MNIST_PACKAGE})`);
  }
  return loadIdx(files.images, files.labels, `fashion-mnist:${split}`, limit);
}
