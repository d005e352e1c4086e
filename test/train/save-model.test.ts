// Saving a trained network (src/train/save.ts): the ONNX file is the exported graph with the settings in its metadata,
// the sidecar JSON describes it (identity, history, accuracies), and the file loads back as the network that was trained.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { loadModel } from '../../src/onnx/model.js';
import { decodeModel } from '../../src/onnx/import.js';
import { FloatPlan } from '../../src/engine/float-plan.js';
import { TrainNet } from '../../src/train/native-net.js';
import { saveTrainedModel } from '../../src/train/save.js';
import type { TrainResult, TrainSettings } from '../../src/train/train.js';
import { residualGraph, uniformValues } from './graphs.js';

const dir = mkdtempSync(path.join(tmpdir(), 'arq-save-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const settings: TrainSettings = { arch: 'mnist-cnn', width: 1, sigma: 0.25, epochs: 2, batch: 8, lr: 0.05, momentum: 0.9, weightDecay: 5e-4, schedule: 'cosine', shift: 0, seed: 3, data: 'synthetic', init: undefined };

async function trainedResult(): Promise<{ result: TrainResult; net: TrainNet }> {
  const net = TrainNet.build(residualGraph(4));
  for (let step = 0; step < 2; step++) {
    await net.step({ input: uniformValues(8 * 108, 10 + step), labels: Int32Array.from({ length: 8 }, (_, i) => (i + step) % 5), batch: 8, threads: 2 }, { lr: 0.05, momentum: 0.9, weightDecay: 5e-4 });
  }
  const history = [
    { epoch: 1, seconds: 0.5, trainLoss: 1.5, trainAccuracy: 0.25, testAccuracy: 0.3, testAccuracyNoisy: 0.2 },
    { epoch: 2, seconds: 0.25, trainLoss: 1.25, trainAccuracy: 0.5, testAccuracy: 0.625, testAccuracyNoisy: 0.5 },
  ];
  return { result: { graph: net.trained(), settings, history, seconds: 0.75, samplesPerSecond: 64 }, net };
}

describe('saveTrainedModel', () => {
  test('writes the ONNX file and its sidecar; the file loads back as the trained network', async () => {
    const { result, net } = await trainedResult();
    const out = path.join(dir, 'small.onnx');
    const saved = saveTrainedModel(result, out, 'arq train --arch mnist-cnn ...');
    const bytes = readFileSync(out);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    expect(saved).toEqual({ model: out, sidecar: path.join(dir, 'small.json'), sha256, onnx_size_bytes: bytes.length, training_seconds: 0.75, samples_per_second: 64, history: result.history });

    const sidecar = JSON.parse(readFileSync(saved.sidecar, 'utf8'));
    expect(sidecar).toMatchObject({
      model: 'small.onnx', command: 'arq train --arch mnist-cnn ...', produced_by: 'arq train', settings: JSON.parse(JSON.stringify(settings)), history: result.history,
      input: { name: 'input', shape: ['batch', 3, 6, 6] }, output: { name: 'logits', shape: ['batch', 5] },
      test_acc_clean: 0.625, test_acc_noisy: 0.5, sha256, onnx_size_bytes: bytes.length, training_time_s: 0.8, samples_per_second: 64,
    });
    const metadata = decodeModel(bytes, out).metadataProps ?? [];
    expect(JSON.parse(metadata.find((p) => p.key === 'arq.train.settings')!.value!)).toEqual(settings);

    const model = await loadModel(out);
    expect(model.sha256).toBe(sha256);
    const images = uniformValues(4 * 108, 99);
    const expected = await net.predict(images, 4, 2);
    const logits = await FloatPlan.build(model.graph).run(images, 4, 2);
    logits.forEach((x, i) => expect(x).toBeCloseTo(expected[i], 4));
  });

  test('an output name without .onnx gets NAME.json beside it', async () => {
    const { result } = await trainedResult();
    const saved = saveTrainedModel({ ...result, history: [] }, path.join(dir, 'plain.bin'), 'arq train');
    expect(saved.sidecar).toBe(path.join(dir, 'plain.bin.json'));
    const sidecar = JSON.parse(readFileSync(saved.sidecar, 'utf8'));
    expect(sidecar.model).toBe('plain.bin');
    expect(sidecar.test_acc_clean).toBeUndefined();
  });
});
