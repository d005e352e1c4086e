// qatTrain (`arq train --qat`'s library side) against an independent recomputation: the written network is the one
// fineTune() produces with the same settings on the calibration quantization.md prescribes (noisy training images at
// sigma), its policy file is re-keyed to it, and every accuracy it reports is recounted here from the plans it names.
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadDataset, subset, type Dataset } from '../../src/data/index.js';
import { FloatPlan } from '../../src/engine/float-plan.js';
import { bundledModelPath, loadModel, type LoadedModel } from '../../src/onnx/model.js';
import { noisyCopy } from '../../src/engine/noise.js';
import { calibrate } from '../../src/quant/calibrate.js';
import { IntPlan } from '../../src/engine/int-plan.js';
import { uniformPolicy } from '../../src/quant/policy.js';
import { qatTrain, type QatSummary } from '../../src/train/fine-tune.js';
import { fineTune } from '../../src/train/qat.js';
import { EVAL_NOISE_SEED } from '../../src/train/train.js';

const dir = mkdtempSync(path.join(tmpdir(), 'arq-qat-train-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SETTINGS = { sigma: 0.25, steps: 8, batch: 32, lr: 0.2, seed: 5, calibrationCount: 32, threads: 2 } as const;
const out = path.join(dir, 'qat.onnx');
let testData: Dataset;
let summary: QatSummary;
let init: LoadedModel;

beforeAll(async () => {
  testData = subset(await loadDataset('mnist:test', 'test'), Array.from({ length: 300 }, (_, i) => i));
  init = await loadModel(bundledModelPath());
  summary = await qatTrain({ ...SETTINGS, init: bundledModelPath(), bits: 'w4a4', data: 'mnist', test: testData, out, command: 'arq train --qat (test)' });
});

/** Accuracy counted here: argmax (lowest class on ties) against the labels, clean or with one noise draw per image. */
async function accuracy(run: (images: Float32Array, batch: number) => Promise<Float32Array>, noisy: boolean): Promise<number> {
  const size = 784;
  const images = new Float32Array(testData.count * size);
  for (let i = 0; i < testData.count; i++) {
    const image = testData.images.subarray(i * size, (i + 1) * size);
    images.set(noisy ? noisyCopy(image, SETTINGS.sigma, EVAL_NOISE_SEED, i) : image, i * size);
  }
  const logits = await run(images, testData.count);
  let correct = 0;
  for (let i = 0; i < testData.count; i++) {
    const row = Array.from(logits.subarray(i * 10, (i + 1) * 10));
    if (row.indexOf(Math.max(...row)) === testData.labels[i]) correct++;
  }
  return correct / testData.count;
}

describe('qatTrain', () => {
  test('writes the network fineTune() trains on the initial model\'s noisy calibration, and its re-keyed policy', async () => {
    const bytes = readFileSync(out);
    expect(summary.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(summary.steps).toBe(8);
    const calibration = await calibrate(init.graph, await loadDataset('mnist:train', 'train'), { sigma: 0.25, count: 32, seed: 5, threads: 2 });
    const policy = uniformPolicy(init.graph, init.sha256, 4, 4);
    const expected = await fineTune({ graph: init.graph, policy, calibration, train: await loadDataset('mnist:train', 'train'), sigma: 0.25, steps: 8, batch: 32, lr: 0.2, seed: 5, threads: 2 });
    const written = await loadModel(out);
    const layers = (g: typeof written.graph) => g.nodes.flatMap((n) => (n.op === 'conv' || n.op === 'gemm' ? [n.weight, n.bias] : []));
    expect(layers(written.graph)).toEqual(layers(expected.graph));
    expect(layers(written.graph)).not.toEqual(layers(init.graph));

    const policyFile = JSON.parse(readFileSync(summary.policyFile, 'utf8'));
    expect(summary.policyFile).toBe(path.join(dir, 'qat.policy.json'));
    expect(policyFile.model).toBe(summary.sha256);
    expect(policyFile.layers).toEqual(policy.layers);
  });

  test('every reported accuracy is the accuracy of the plan it names', async () => {
    const written = await loadModel(out);
    const calibration = await calibrate(init.graph, await loadDataset('mnist:train', 'train'), { sigma: 0.25, count: 32, seed: 5, threads: 2 });
    const policy = uniformPolicy(init.graph, init.sha256, 4, 4);
    const plans = {
      float: FloatPlan.build(init.graph),
      ptq: IntPlan.build(init.graph, policy, calibration),
      qat: IntPlan.build(written.graph, policy, calibration),
      qat_float: FloatPlan.build(written.graph),
    };
    const counted: Record<string, { clean: number; noisy: number }> = {};
    for (const [key, plan] of Object.entries(plans)) {
      const run = (images: Float32Array, batch: number) => plan.run(images, batch, 2);
      counted[key] = { clean: await accuracy(run, false), noisy: await accuracy(run, true) };
    }
    expect(summary.accuracy).toEqual(counted);
    // The fine-tune moved the network enough that the plans tell apart: a swapped plan cannot pass unseen.
    expect(counted.qat).not.toEqual(counted.ptq);
    expect(counted.qat_float).not.toEqual(counted.float);
    const sidecar = JSON.parse(readFileSync(summary.sidecar, 'utf8'));
    expect(sidecar.test_accuracy).toEqual(summary.accuracy);
    expect(sidecar.settings).toMatchObject({ init_sha256: init.sha256, sigma: 0.25, steps: 8, batch: 32, lr: 0.2, seed: 5, calibration: { sigma: 0.25, count: 32, seed: 5 } });
    expect(existsSync(summary.model)).toBe(true);
  });

  test('steps and epochs are exclusive', async () => {
    await expect(qatTrain({ ...SETTINGS, steps: undefined, init: bundledModelPath(), bits: 'w4a4', data: 'mnist', out: path.join(dir, 'x.onnx'), command: '' })).rejects.toThrow(/either --steps or --epochs/);
  });
});
