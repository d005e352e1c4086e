import { describe, expect, test } from 'vitest';
import { createClassifier, type EngineName } from '../../src/engine/classifier.js';
import { accuracyOf, predictDataset } from '../../src/engine/predict.js';
import { makeDataset } from '../../src/data/index.js';
import { loadFixture } from '../support/fixtures.js';

// Hostile batches and the classifier's life cycle on every engine: one-line rejections naming the argument (or the
// dataset and image) and the first bad index before any engine runs, and promises that always settle around close().
const model = loadFixture('mnist_cnn');
const images = Float32Array.from({ length: 3 * 784 }, (_, i) => (i % 23) / 23);
const dataset = (values: Float32Array) => makeDataset({ name: 'hostile', shape: [1, 28, 28], images: values, labels: new Int32Array(values.length / 784) });

describe.each(['float', 'ort'] as EngineName[])('the %s classifier', (engine) => {
  test('rejects non-finite batches, wrong sizes and bad batch counts', async () => {
    const classifier = await createClassifier(model, engine, { threads: 1 });
    try {
      const bad = images.slice();
      bad[1000] = NaN;
      await expect(classifier.logits(bad, 3)).rejects.toThrow(/^images: expected finite values, got NaN at index 1000$/);
      bad[1000] = -Infinity;
      await expect(classifier.logits(bad, 3)).rejects.toThrow(/got -Infinity at index 1000/);
      await expect(classifier.logits(images, 2)).rejects.toThrow(/^images: expected a Float32Array of 1568 values, got 2352 values$/);
      await expect(classifier.logits(images, 0)).rejects.toThrow(/^batch: expected an integer/);
      await expect(classifier.logits(images, 1.5)).rejects.toThrow(/^batch: expected an integer/);
      expect((await classifier.logits(images, 3)).length).toBe(30);
    } finally {
      await classifier.close();
    }
  });

  test('close() waits for runs in flight, may be repeated, and later calls reject at once', async () => {
    const classifier = await createClassifier(model, engine, { threads: 1 });
    const batch = Float32Array.from({ length: 256 * 784 }, (_, i) => (i % 29) / 29);
    const inFlight = classifier.logits(batch, 256);
    await Promise.all([classifier.close(), classifier.close()]);
    expect((await inFlight).length).toBe(2560);
    await expect(classifier.logits(images, 3)).rejects.toThrow(`the ${engine} classifier is closed`);
  }, 30_000);

  test('predictDataset names the dataset, the image and the index of the first value that is not an image value', async () => {
    const classifier = await createClassifier(model, engine, { threads: 1 });
    try {
      const bad = images.slice();
      bad[2 * 784 + 17] = 1e30;
      await expect(predictDataset(classifier, dataset(bad), { batch: 2 })).rejects.toThrow(/^hostile: expected image values in \[-1, 2\] .* at image 2 index 17$/);
      await expect(predictDataset(classifier, dataset(images), { batch: 0 })).rejects.toThrow(/^batch: expected an integer/);
      expect((await predictDataset(classifier, dataset(images), { batch: 2 })).count).toBe(3);
    } finally {
      await classifier.close();
    }
  });
});

test('accuracyOf rejects images that are not image values before predicting', async () => {
  const bad = images.slice();
  bad[784 + 5] = NaN;
  let calls = 0;
  const predict = async (batch: Float32Array, count: number) => {
    calls++;
    return new Float32Array(count * 10);
  };
  await expect(accuracyOf(predict, 10, dataset(bad), 0.25, 1)).rejects.toThrow(/^hostile: .* got NaN at image 1 index 5$/);
  expect(calls).toBe(0);
});
