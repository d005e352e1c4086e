// Accuracy of the bundled noise-trained MNIST model (models/mnist-cnn-s025.onnx) through every engine, clean and
// quantized: W8A8 must lose at most 0.5 points of clean accuracy against the float model, and its logits must stay
// close to the float ones.
import { beforeAll, describe, expect, test } from 'vitest';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadDataset, type Dataset } from '../../src/data/index.js';
import { createClassifier } from '../../src/engine/classifier.js';
import { predictDataset } from '../../src/engine/predict.js';
import { loadModel, type LoadedModel } from '../../src/onnx/model.js';
import { calibrate, type Calibration } from '../../src/quant/calibrate.js';
import { uniformPolicy } from '../../src/quant/policy.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
let model: LoadedModel;
let test10k: Dataset;
let calibration: Calibration;
let floatResult: Awaited<ReturnType<typeof predictDataset>>;

beforeAll(async () => {
  model = await loadModel(path.join(root, 'models/mnist-cnn-s025.onnx'));
  test10k = await loadDataset('mnist:test', 'test');
  calibration = await calibrate(model.graph, await loadDataset('mnist:train', 'train'), { sigma: 0.25, count: 256, seed: 0 });
  floatResult = await predictDataset(await createClassifier(model, 'float'), test10k);
});

describe('the bundled MNIST model', () => {
  test('native fp32 reaches its documented clean accuracy (99.36%) and agrees with ONNX Runtime', async () => {
    expect(floatResult.accuracy).toBeCloseTo(0.9936, 4);
    const ort = await createClassifier(model, 'ort');
    const ortResult = await predictDataset(ort, test10k);
    await ort.close();
    expect(ortResult.predictions).toEqual(floatResult.predictions);
  });

  test('W8A8 loses at most 0.5 points and its logits stay close to the float ones', async () => {
    const quantization = { policy: uniformPolicy(model.graph, model.sha256, 8, 8), calibration };
    const int = await predictDataset(await createClassifier(model, 'int', { quantization }), test10k);
    expect(floatResult.accuracy - int.accuracy).toBeLessThanOrEqual(0.005);
    // Over the 100,000 logits, relative to the float logits' scale: the typical error is a fraction of a percent,
    // the 99.9th percentile under 2%, and no logit is off by more than 10% (measured: 0.13%, 1.5%, 5.8%).
    let scale = 0;
    const diffs = new Float64Array(int.logits.length);
    for (let i = 0; i < int.logits.length; i++) {
      diffs[i] = Math.abs(int.logits[i] - floatResult.logits[i]);
      scale = Math.max(scale, Math.abs(floatResult.logits[i]));
    }
    diffs.sort();
    expect(diffs.reduce((a, b) => a + b, 0) / diffs.length / scale).toBeLessThan(0.005);
    expect(diffs[Math.floor(0.999 * diffs.length)] / scale).toBeLessThan(0.02);
    expect(diffs[diffs.length - 1] / scale).toBeLessThan(0.1);
  });

  test.each([
    [4, 8, 0.01],
    [4, 4, 0.03],
    [2, 8, 0.1],
  ])('W%iA%i degrades gracefully (within %f)', async (wbits, abits, allowed) => {
    const quantization = { policy: uniformPolicy(model.graph, model.sha256, wbits, abits), calibration };
    const int = await predictDataset(await createClassifier(model, 'int', { quantization }), test10k);
    expect(floatResult.accuracy - int.accuracy).toBeLessThanOrEqual(allowed);
  });
});
