/** Batched prediction over a dataset: the work behind `arq predict`, and accuracy under noise for training and search. */
import type { Dataset } from '../data/index.js';
import { noisyCopy } from './noise.js';
import { imageValues } from '../util/check.js';
import { ArqError } from '../util/errors.js';
import { argmax, indexOfMax, type Classifier } from './classifier.js';
import { checkBatch, checkSigma } from './settings.js';

export interface PredictOptions {
  /** Images per engine call (default 256). */
  readonly batch?: number;
  /** Called after each batch with the number of images done. */
  readonly onProgress?: (done: number, total: number) => void;
}

export interface PredictResult {
  readonly count: number;
  readonly classes: number;
  readonly logits: Float32Array;
  readonly predictions: Int32Array;
  readonly accuracy: number;
  readonly seconds: number;
}

export async function predictDataset(classifier: Classifier, dataset: Dataset, options: PredictOptions = {}): Promise<PredictResult> {
  const batch = checkBatch(options.batch ?? 256);
  const imageSize = dataset.shape[0] * dataset.shape[1] * dataset.shape[2];
  const classes = classifier.classes;
  const logits = new Float32Array(dataset.count * classes);
  const started = performance.now();
  for (let first = 0; first < dataset.count; first += batch) {
    const count = Math.min(batch, dataset.count - first);
    const images = imageValues(dataset.name, dataset.images.subarray(first * imageSize, (first + count) * imageSize), { imageSize, firstImage: first });
    const out = await classifier.logits(images, count);
    if (out.length !== count * classes) throw new ArqError(`the ${classifier.engine} engine returned ${out.length} logits for ${count} images of ${classes} classes`);
    logits.set(out, first * classes);
    options.onProgress?.(first + count, dataset.count);
  }
  const seconds = (performance.now() - started) / 1000;
  const predictions = argmax(logits, classes);
  let correct = 0;
  for (let i = 0; i < dataset.count; i++) if (predictions[i] === dataset.labels[i]) correct++;
  return { count: dataset.count, classes, logits, predictions, accuracy: correct / dataset.count, seconds };
}

/** Accuracy of logits from `predict` on `data`, clean (sigma 0) or with one noise draw per image (seed `noiseSeed`). */
export async function accuracyOf(
  predict: (images: Float32Array, batch: number) => Promise<Float32Array>, classes: number, data: Dataset, sigma: number, noiseSeed: number, batch = 500,
): Promise<number> {
  checkSigma(sigma);
  checkBatch(batch);
  const size = data.shape[0] * data.shape[1] * data.shape[2];
  let correct = 0;
  for (let first = 0; first < data.count; first += batch) {
    const count = Math.min(batch, data.count - first);
    const images = new Float32Array(count * size);
    for (let i = 0; i < count; i++) {
      const image = imageValues(data.name, data.images.subarray((first + i) * size, (first + i + 1) * size), { imageSize: size, firstImage: first + i });
      images.set(sigma > 0 ? noisyCopy(image, sigma, noiseSeed, first + i) : image, i * size);
    }
    const logits = await predict(images, count);
    for (let i = 0; i < count; i++) if (indexOfMax(logits, i * classes, classes) === data.labels[first + i]) correct++;
  }
  return correct / data.count;
}
