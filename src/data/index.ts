/**
 * Datasets for `--data`: parse a spec, load it. Every loader yields float32 NCHW images in [0, 1] and int32 labels;
 * every bad input is an ArqError naming the spec or file.
 */
import { join } from 'node:path';
import type { Dataset, Split } from './dataset.js';
import { integerInRange } from '../util/check.js';
import { parseDataSpec } from './spec.js';
import { loadMnist, mnistFiles } from './mnist.js';
import { fashionMnistFiles, loadFashionMnist } from './fashion-mnist.js';
import { loadIdx } from './idx.js';
import { CIFAR10_ARCHIVE_DIR, CIFAR10_FILES, loadCifar10 } from './cifar10.js';
import { loadNpyDataset } from './npy-dataset.js';

export type { Dataset, Split } from './dataset.js';
export { makeDataset, subset, selectEvery, selectedIndices, checkSelection, selectionReach, classesOf, MAX_LABEL } from './dataset.js';
export { parseDataSpec, trainingSpec, DATA_SPEC_FORMS, type DataSpec } from './spec.js';
export { loadMnist, mnistFiles } from './mnist.js';
export { loadFashionMnist, fashionMnistFiles, fashionMnistInstalled, FASHION_MNIST_DIR, FASHION_MNIST_PACKAGE } from './fashion-mnist.js';
export { loadIdx, readIdxImages, readIdxLabels } from './idx.js';
export { MAX_DATA_BYTES } from './files.js';
export { loadCifar10 } from './cifar10.js';
export { loadNpyDataset } from './npy-dataset.js';
export { parseShard, shardRange, shardSetting, MAX_SHARDS, type Shard, type ShardSetting } from './shard.js';
export { readNpy, readNpySync, decodeNpy, encodeNpy, writeNpy, writeNpySync, npyAsFloat32, type NpyArray, type NpyData, type NpyDtype } from './npy.js';

/**
 * The files a spec reads (for the output rule: no command writes over its data). CIFAR-10 names every batch file
 * of DIR and of DIR/cifar-10-batches-bin, since which one holds the data is found when loading.
 */
export function dataFiles(spec: string, defaultSplit: Split): string[] {
  const s = parseDataSpec(spec, defaultSplit);
  switch (s.kind) {
    case 'mnist': {
      const files = mnistFiles(s.split);
      return [files.images, files.labels];
    }
    case 'fashion-mnist': {
      const files = fashionMnistFiles(s.split);
      return [files.images, files.labels];
    }
    case 'idx':
      return [s.images, s.labels];
    case 'cifar10':
      return [...CIFAR10_FILES.train, ...CIFAR10_FILES.test].flatMap((f) => [join(s.dir, f), join(s.dir, CIFAR10_ARCHIVE_DIR, f)]);
    case 'npy':
      return [s.x, s.y];
  }
}

export interface DatasetLoadOptions {
  /** Read and decode only the first `limit` images (a positive integer); the rest of the files is never read. */
  readonly limit?: number;
}

/**
 * Load the dataset a spec names. `defaultSplit` is the split plain `mnist`, `fashion-mnist` and `cifar10:DIR` mean: 'test' where a
 * command evaluates, 'train' where it calibrates or trains. Files are checked against their headers before anything
 * is allocated, read off the event loop, and decoded in slices that never hold the loop for long.
 */
export async function loadDataset(spec: string, defaultSplit: Split, options: DatasetLoadOptions = {}): Promise<Dataset> {
  const s = parseDataSpec(spec, defaultSplit);
  const limit = options.limit === undefined ? undefined : integerInRange('limit', options.limit, 1, Number.MAX_SAFE_INTEGER);
  switch (s.kind) {
    case 'mnist':
      return loadMnist(s.split, limit);
    case 'fashion-mnist':
      return loadFashionMnist(s.split, limit);
    case 'idx':
      return loadIdx(s.images, s.labels, s.name, limit);
    case 'cifar10':
      return loadCifar10(s.dir, s.split, s.name, limit);
    case 'npy':
      return loadNpyDataset(s.x, s.y, s.name, limit);
  }
}

/**
 * The training data of `spec` (plain `mnist` = mnist:train), only its first `max` images when given; such a subset is
 * named for what it holds (e.g. mnist:train[:20000]), so sidecars and checkpoints tell it from the whole split.
 */
export async function loadTrainingData(spec: string, max?: number): Promise<Dataset> {
  const data = await loadDataset(spec === 'mnist' ? 'mnist:train' : spec, 'train', { limit: max });
  return max === undefined ? data : Object.freeze({ ...data, name: `${data.name}[:${data.count}]` });
}
