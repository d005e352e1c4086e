/**
 * Datasets for `--data`: parse a spec, load it. Every loader yields float32 NCHW images in [0, 1] and int32 labels;
 * every bad input is an ArqError naming the spec or file.
 */
import type { Dataset, Split } from './dataset.js';
import { parseDataSpec } from './spec.js';
import { loadMnist } from './mnist.js';
import { loadIdx } from './idx.js';
import { loadCifar10 } from './cifar10.js';
import { loadNpyDataset } from './npy-dataset.js';

export type { Dataset, Split } from './dataset.js';
export { makeDataset, subset, selectEvery, classesOf, MAX_LABEL } from './dataset.js';
export { parseDataSpec, trainingSpec, DATA_SPEC_FORMS, type DataSpec } from './spec.js';
export { loadMnist, mnistFiles } from './mnist.js';
export { loadIdx, decodeIdxImages, decodeIdxLabels, isGzip } from './idx.js';
export { loadCifar10 } from './cifar10.js';
export { loadNpyDataset } from './npy-dataset.js';
export { readNpy, readNpySync, decodeNpy, encodeNpy, writeNpy, writeNpySync, npyAsFloat32, type NpyArray, type NpyData, type NpyDtype } from './npy.js';

/**
 * Load the dataset a spec names. `defaultSplit` is the split plain `mnist` and `cifar10:DIR` mean: 'test' where a
 * command evaluates, 'train' where it calibrates or trains.
 */
export async function loadDataset(spec: string, defaultSplit: Split): Promise<Dataset> {
  const s = parseDataSpec(spec, defaultSplit);
  switch (s.kind) {
    case 'mnist':
      return loadMnist(s.split);
    case 'idx':
      return loadIdx(s.images, s.labels, s.name);
    case 'cifar10':
      return loadCifar10(s.dir, s.split, s.name);
    case 'npy':
      return loadNpyDataset(s.x, s.y, s.name);
  }
}
