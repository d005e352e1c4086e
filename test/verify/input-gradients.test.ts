import { describe, expect, test } from 'vitest';
import { makeDataset } from '../../src/data/index.js';
import { calibrate } from '../../src/quant/calibrate.js';
import { IntPlan } from '../../src/engine/int-plan.js';
import { uniformPolicy } from '../../src/quant/policy.js';
import { TrainNet } from '../../src/train/native-net.js';
import { QatNet } from '../../src/train/qat.js';
import { addon } from '../../src/native.js';
import { trainNetSpec } from '../../src/train/native-net.js';
import { loadFixture } from '../support/fixtures.js';
import { poolingGraph, residualGraph, uniformValues } from '../train/graphs.js';

const margins = (logits: Float32Array, classes: number, labels: Int32Array, targets: Int32Array) =>
  Array.from(labels, (label, b) => logits[b * classes + targets[b]] - logits[b * classes + label]);

describe('input gradients of the margin logit[target] - logit[label]', () => {
  // Central differences in the pixels of the float net (batch norm on running statistics, as predict runs it);
  // coordinates with a ReLU or max-pool kink inside the step are skipped as in test/train/gradients.test.ts.
  test.each([
    ['conv, depthwise, batch norm, ReLU6, add, max pool, gemm', residualGraph(2)],
    ['strided conv, ReLU, average pools', poolingGraph(5)],
  ])('the float net matches finite differences: %s', async (_, graph) => {
    const net = TrainNet.build(graph);
    const classes = net.classes;
    const size = graph.input.shape.reduce((a, b) => a * b, 1);
    const batch = 3;
    const input = uniformValues(batch * size, 11);
    const labels = Int32Array.from({ length: batch }, (_, b) => b % classes);
    const targets = Int32Array.from(labels, (label) => (label + 1) % classes);
    const { logits, gradient } = await net.inputGradients({ input, labels, targets, batch, threads: 2 });
    expect(logits).toEqual(await net.predict(input, batch, 2));
    const h = 1e-3;
    let checked = 0;
    let skipped = 0;
    for (let b = 0; b < batch; b++) {
      for (const pixel of [0, Math.floor(size / 3), Math.floor(size / 2), size - 1]) {
        const at = b * size + pixel;
        const shifted = async (delta: number) => {
          const x = input.slice();
          x[at] += delta;
          return margins(await net.predict(x, batch, 2), classes, labels, targets)[b];
        };
        const [plus, base, minus] = [await shifted(h), await shifted(0), await shifted(-h)];
        const fd = (plus - minus) / (2 * h);
        if (Math.abs((plus - base) / h - (base - minus) / h) > 0.01 * Math.max(Math.abs(fd), 1e-2)) {
          skipped++;
          continue;
        }
        expect(Math.abs(gradient[at] - fd), `image ${b} pixel ${pixel}: ${gradient[at]} vs ${fd}`).toBeLessThanOrEqual(0.02 * Math.max(Math.abs(fd), 1e-2));
        checked++;
      }
    }
    expect(skipped).toBeLessThanOrEqual(checked / 2);
  });

  test('the QAT net gives the integer plan\'s logits and a straight-through gradient close to the float one at W8A8', async () => {
    const model = loadFixture('mnist_cnn');
    const shape = model.graph.input.shape;
    const size = shape[0] * shape[1] * shape[2];
    const count = 16;
    const images = uniformValues(count * size, 4);
    const data = makeDataset({ name: 'synthetic', shape, images, labels: new Int32Array(count), classes: 10 });
    const calibration = await calibrate(model.graph, data, { sigma: 0, count, seed: 1, threads: 2 });
    const policy = uniformPolicy(model.graph, model.sha256, 8, 8);
    const qat = QatNet.build(model.graph, policy, calibration);
    const float = TrainNet.build(model.graph);
    const batch = 4;
    const input = images.subarray(0, batch * size).slice();
    const labels = Int32Array.from([1, 2, 3, 4]);
    const targets = Int32Array.from([0, 5, 9, 7]);
    const quantized = await qat.inputGradients({ input, labels, targets, batch, threads: 2 });
    expect(quantized.logits).toEqual(await IntPlan.build(model.graph, policy, calibration).run(input, batch, 2));
    const reference = await float.inputGradients({ input, labels, targets, batch, threads: 2 });
    for (let b = 0; b < batch; b++) {
      const g = quantized.gradient.subarray(b * size, (b + 1) * size);
      const f = reference.gradient.subarray(b * size, (b + 1) * size);
      let dot = 0, gg = 0, ff = 0;
      for (let i = 0; i < size; i++) {
        dot += g[i] * f[i];
        gg += g[i] * g[i];
        ff += f[i] * f[i];
      }
      expect(gg).toBeGreaterThan(0);
      expect(dot / Math.sqrt(gg * ff), `image ${b}`).toBeGreaterThan(0.9);
    }
  });

  test('bad requests throw RangeError or TypeError', () => {
    const graph = poolingGraph(4);
    const net = new (addon().TrainNet)(trainNetSpec(graph));
    const size = graph.input.shape.reduce((a, b) => a * b, 1);
    const ok = { input: new Float32Array(2 * size), labels: Int32Array.from([0, 1]), targets: Int32Array.from([1, 2]), batch: 2, threads: 1 };
    expect(() => net.inputGradients({ ...ok, targets: Int32Array.from([1, 1]) })).toThrow(/targets\[1\] equals its label/);
    expect(() => net.inputGradients({ ...ok, targets: Int32Array.from([1, 3]) })).toThrow(RangeError);
    expect(() => net.inputGradients({ ...ok, targets: new Int32Array(1) })).toThrow(RangeError);
    expect(() => net.inputGradients({ ...ok, targets: new Float32Array(2) as unknown as Int32Array })).toThrow(TypeError);
    expect(() => net.inputGradients({ ...ok, input: new Float32Array(3) })).toThrow(RangeError);
  });
});
