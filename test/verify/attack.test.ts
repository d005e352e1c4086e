import { beforeAll, describe, expect, test } from 'vitest';
import { loadDataset, type Dataset } from '../../src/data/index.js';
import { argmax } from '../../src/engine/classifier.js';
import { bundledModelPath, loadModel, type LoadedModel } from '../../src/onnx/model.js';
import { calibrate, type Calibration } from '../../src/quant/calibrate.js';
import { IntPlan } from '../../src/engine/int-plan.js';
import { uniformPolicy } from '../../src/quant/policy.js';
import { QatNet } from '../../src/train/qat.js';
import { attack, targetOrder } from '../../src/verify/attack.js';
import { boxOf, float32Down, float32Up, insideBox } from '../../src/verify/box.js';

let model: LoadedModel;
let calibration: Calibration;
let images: Dataset;

beforeAll(async () => {
  model = await loadModel(bundledModelPath());
  calibration = await calibrate(model.graph, await loadDataset('mnist:train', 'train', { limit: 64 }), { sigma: 0.25, count: 64, seed: 1, threads: 2 });
  images = await loadDataset('mnist:test', 'test', { limit: 12 });
});

describe('the l-infinity box', () => {
  test('is rounded inwards to float32 and clipped to [0, 1]', () => {
    const image = Float32Array.from([0, 1, 0.3, 0.5, 0.001]);
    const eps = 4 / 255;
    const { lo, hi } = boxOf(image, eps);
    for (let i = 0; i < image.length; i++) {
      expect(lo[i]).toBeGreaterThanOrEqual(Math.max(0, image[i] - eps));
      expect(hi[i]).toBeLessThanOrEqual(Math.min(1, image[i] + eps));
      expect(Math.fround(lo[i])).toBe(lo[i]);
      // nothing float32 is lost: the next float32 outwards is outside the ball
      expect(float32Down(lo[i] - 1e-12) < Math.max(0, image[i] - eps) || lo[i] === 0).toBe(true);
      expect(float32Up(hi[i] + 1e-12) > Math.min(1, image[i] + eps) || hi[i] === 1).toBe(true);
    }
    expect(lo[0]).toBe(0);
    expect(hi[1]).toBe(1);
    expect(float32Up(0.1)).toBeGreaterThanOrEqual(0.1);
    expect(float32Down(0.1)).toBeLessThanOrEqual(0.1);
    expect(float32Down(0.1)).not.toBe(float32Up(0.1));
    expect(() => boxOf(Float32Array.from([1.5]), 0.1)).toThrow(/^image: pixel 0 is 1.5: verification needs images in \[0, 1\]$/);
  });
});

describe('the targeted attack', () => {
  test('finds counterexamples that the integer plan misclassifies, never leaving the box', async () => {
    const policy = uniformPolicy(model.graph, model.sha256, 4, 4);
    const plan = IntPlan.build(model.graph, policy, calibration);
    const surrogate = QatNet.build(model.graph, policy, calibration);
    const size = 28 * 28;
    const clean = await plan.run(images.images, images.count, 2);
    const predictions = argmax(clean, 10);
    const seen: Float32Array[] = [];
    const recording = Object.create(plan) as IntPlan;
    recording.run = (x, batch, threads) => {
      seen.push(x.slice());
      return plan.run(x, batch, threads);
    };
    let found = 0;
    let correct = 0;
    for (let k = 0; k < images.count; k++) {
      const image = images.images.subarray(k * size, (k + 1) * size);
      const label = images.labels[k];
      if (predictions[k] !== label) continue;
      correct++;
      const box = boxOf(image, 0.15);
      seen.length = 0;
      const result = await attack(surrogate, recording, image, label, targetOrder(clean.subarray(k * 10, (k + 1) * 10), label), box, {
        restarts: 3, steps: 10, eps: 0.15, seed: k, threads: 2,
      });
      expect(seen.length).toBeGreaterThan(0);
      for (const candidates of seen) expect(insideBox(box, candidates)).toBe(true);
      if (!result.counterexample) continue;
      found++;
      expect(insideBox(box, result.counterexample)).toBe(true);
      const again = argmax(await plan.run(result.counterexample, 1, 1), 10)[0];
      expect(again).not.toBe(label);
      expect(again).toBe(result.prediction);
    }
    expect(correct).toBeGreaterThanOrEqual(10);
    // At eps 0.15 a noise-trained MNIST CNN is broken on most images.
    expect(found).toBeGreaterThanOrEqual(correct / 2);
  });

  test('a box of width 0 around a correctly classified image yields no counterexample', async () => {
    const policy = uniformPolicy(model.graph, model.sha256, 8, 8);
    const plan = IntPlan.build(model.graph, policy, calibration);
    const surrogate = QatNet.build(model.graph, policy, calibration);
    const image = images.images.subarray(0, 28 * 28);
    const logits = await plan.run(image, 1, 1);
    const label = argmax(logits, 10)[0];
    const result = await attack(surrogate, plan, image, label, targetOrder(logits, label), boxOf(image, 0), { restarts: 2, steps: 3, eps: 0, seed: 0, threads: 1 });
    expect(result.counterexample).toBeNull();
    expect(result.candidates).toBe(8);
  });

  test('targets run from the runner-up down, ties to the lowest class', () => {
    expect(targetOrder([0.1, 3, 2, 3, -1], 1)).toEqual([3, 2, 0, 4]);
  });
});
