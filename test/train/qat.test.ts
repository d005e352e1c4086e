import { describe, expect, test } from 'vitest';
import { loadDataset, makeDataset, subset, type Dataset } from '../../src/data/index.js';
import type { Graph } from '../../src/graph/ir.js';
import { bundledModelPath, loadModel, type LoadedModel } from '../../src/onnx/model.js';
import { calibrate } from '../../src/quant/calibrate.js';
import { quantizeWeights } from '../../src/engine/grid.js';
import { roundHalfEven } from '../support/requant.js';
import { IntPlan, intPlanSpec } from '../../src/engine/int-plan.js';
import { layerNames, uniformPolicy, type Policy } from '../../src/quant/policy.js';
import { accuracyOf } from '../../src/engine/predict.js';
import { fineTune, QatNet } from '../../src/train/qat.js';
import { Random } from '../../src/util/random.js';
import { loadFixture, type FixtureName } from '../support/fixtures.js';

function syntheticData(shape: readonly [number, number, number], classes: number, count: number, seed: number): Dataset {
  const random = Random.fromSeed(seed);
  const images = Float32Array.from({ length: count * shape[0] * shape[1] * shape[2] }, () => random.uniform());
  const labels = Int32Array.from({ length: count }, () => random.integer(classes));
  return makeDataset({ name: 'synthetic', shape, images, labels, classes });
}

function mixedPolicy(model: LoadedModel, seed: number): Policy {
  const random = Random.fromSeed(seed);
  return { format: 'arq-policy/1', model: model.sha256, layers: layerNames(model.graph).map((name) => ({ name, wbits: 2 + random.integer(7), abits: 2 + random.integer(7) })) };
}

const classesOf = (graph: Graph) => graph.shapes.get(graph.output)![0];

describe('the fake-quantized forward pass is the integer engine', () => {
  const cases: [FixtureName, string, (m: LoadedModel) => Policy][] = [
    ['mnist_cnn', 'w4a4', (m) => uniformPolicy(m.graph, m.sha256, 4, 4)],
    ['mnist_cnn', 'w2a2', (m) => uniformPolicy(m.graph, m.sha256, 2, 2)],
    ['resnet20', 'w8a8', (m) => uniformPolicy(m.graph, m.sha256, 8, 8)],
    ['resnet20', 'mixed', (m) => mixedPolicy(m, 5)],
    ['mobilenetv2', 'w4a8', (m) => uniformPolicy(m.graph, m.sha256, 4, 8)],
    ['tiny_mlp', 'w2a4', (m) => uniformPolicy(m.graph, m.sha256, 2, 4)],
    ['grey_repeat', 'w3a5', (m) => uniformPolicy(m.graph, m.sha256, 3, 5)],
  ];
  test.each(cases)('%s under %s: identical logits and codes after SGD steps', async (name, _, makePolicy) => {
    const model = loadFixture(name);
    const shape = model.graph.input.shape;
    const classes = classesOf(model.graph);
    const data = syntheticData(shape, classes, 48, 1);
    const calibration = await calibrate(model.graph, data, { sigma: 0.25, count: 32, seed: 3, threads: 2 });
    const policy = makePolicy(model);
    const net = QatNet.build(model.graph, policy, calibration);
    const batch = 8;
    const size = shape[0] * shape[1] * shape[2];
    for (let step = 0; step < 3; step++) {
      const input = data.images.subarray(step * batch * size, (step + 1) * batch * size).slice();
      const labels = data.labels.slice(step * batch, (step + 1) * batch);
      await net.step({ input, labels, batch, threads: 2 }, { lr: 0.05, momentum: 0.9, weightDecay: 0 });
    }
    const graph = net.trained();
    expect(graph.nodes.some((node, i) => node.op === 'conv' && node.weight.some((w, k) => w !== (model.graph.nodes[i] as typeof node).weight[k]))).toBe(name === 'tiny_mlp' ? false : true);
    const images = syntheticData(shape, classes, 13, 9).images;
    const plan = IntPlan.build(graph, policy, calibration);
    const fake = await net.predict(images, 13, 2);
    expect(fake).toEqual(await plan.run(images, 13, 2));
    expect(fake).toEqual(await plan.runReference(images, 13));
    // The native clip search is grid.ts's, bit for bit.
    const codes = net.codes();
    const layers = graph.nodes.filter((n) => n.op === 'conv' || n.op === 'gemm');
    layers.forEach((node, i) => {
      const bits = policy.layers.find((l) => l.name === node.name)!.wbits;
      const expected = quantizeWeights(node.weight, node.op === 'conv' ? node.outChannels : node.outFeatures, bits);
      expect(codes[i].codes).toEqual(expected.codes);
      expect(codes[i].scales).toEqual(expected.scales);
    });
  });
});

describe('straight-through gradients', () => {
  // One Gemm layer on a 6-value input: logits = s_a * s_w,c * sum_k q_w[c][k] * (q_a[k] - z_a) + bias_c.
  const features = 6;
  const weight = Float32Array.from([1, 1, 1, 1, 1, 1.6, 0.5, -0.2, 0.1, 0.3, -0.4, 0.2, -1, 0.9, 0.8, -0.7, 0.05, 0]);
  const bias = Float32Array.from([0.1, -0.2, 0.3]);
  const graph: Graph = {
    input: { name: 'x', shape: [features, 1, 1], rank: 2 },
    output: 'y',
    nodes: [{ op: 'gemm', name: 'fc', inputs: ['x'], output: 'y', weight, bias, outFeatures: 3 }],
    shapes: new Map([['x', [features, 1, 1]], ['y', [3, 1, 1]]]),
  };
  const policy: Policy = { format: 'arq-policy/1', model: 'x', layers: [{ name: 'fc', wbits: 2, abits: 3 }] };

  test('weight gradients are dL/dlogits x dequantized inputs where |w| <= clip and 0 outside; bias gets dL/dlogits', async () => {
    const data = syntheticData([features, 1, 1], 3, 16, 4);
    const calibration = await calibrate(graph, data, { sigma: 0, count: 16, seed: 0, threads: 1 });
    const net = QatNet.build(graph, policy, calibration);
    const batch = 4;
    const input = data.images.slice(0, batch * features);
    // Push some inputs outside the calibrated range: clipped on the layer grid, they pass no gradient to anything.
    input[0] = 10;
    input[7] = -10;
    const labels = data.labels.slice(0, batch);
    const logits = await net.predict(input, batch, 1);
    await net.gradients({ input, labels, batch, threads: 1 });
    const [gw, gb] = net.grads();
    const [{ codes, scales }] = net.codes();
    // The layer's input grid as intPlanSpec picks it (3 bits).
    const op = intPlanSpec(graph, policy, calibration).ops[0] as { inputGrid: { scale: number; zero: number; bits: number } };
    const { scale: sa, zero: za, bits } = op.inputGrid;
    const levels = 2 ** bits - 1;
    const dlogits = new Float64Array(batch * 3);
    for (let b = 0; b < batch; b++) {
      const row = Array.from(logits.subarray(b * 3, b * 3 + 3));
      const max = Math.max(...row);
      const total = row.reduce((sum, z) => sum + Math.exp(z - max), 0);
      for (let c = 0; c < 3; c++) dlogits[b * 3 + c] = (Math.exp(row[c] - max) / total - (c === labels[b] ? 1 : 0)) / batch;
    }
    let clipped = 0;
    for (let c = 0; c < 3; c++) {
      let expectedBias = 0;
      for (let b = 0; b < batch; b++) expectedBias += dlogits[b * 3 + c];
      expect(gb[c]).toBeCloseTo(expectedBias, 5);
      for (let k = 0; k < features; k++) {
        const w = weight[c * features + k];
        const inside = Math.abs(w) <= scales[c] * 1;
        let expected = 0;
        for (let b = 0; b < batch; b++) {
          const x = input[b * features + k];
          const q = Math.min(Math.max(roundHalfEven(Math.fround(x / sa)) + za, 0), levels);
          expected += dlogits[b * 3 + c] * sa * (q - za);
        }
        if (!inside) clipped++;
        expect(gw[c * features + k]).toBeCloseTo(inside ? expected : 0, 5);
      }
    }
    expect(clipped).toBeGreaterThan(0); // 1.6 in channel 0 lies beyond the 2-bit clip
    expect(codes[5]).toBe(1);
  });
});

describe('fineTune()', () => {
  test('QAT recovers a harsh policy: W2A4 accuracy of the integer network rises well above post-training quantization', async () => {
    const model = await loadModel(bundledModelPath());
    const all = await loadDataset('mnist:train', 'train');
    const train = subset(all, Array.from({ length: 4000 }, (_, i) => i));
    const held = subset(all, Array.from({ length: 1000 }, (_, i) => 50000 + i));
    const calibration = await calibrate(model.graph, train, { sigma: 0.25, count: 256, seed: 0, threads: 2 });
    const policy = uniformPolicy(model.graph, model.sha256, 2, 4);
    const ptq = IntPlan.build(model.graph, policy, calibration);
    const accuracy = (plan: IntPlan) => accuracyOf((images, batch) => plan.run(images, batch, 2), plan.classes, held, 0.25, 1);
    const before = await accuracy(ptq);
    const result = await fineTune({ graph: model.graph, policy, calibration, train, sigma: 0.25, steps: 60, batch: 64, lr: 0.01, seed: 0, threads: 2 });
    const after = await accuracy(IntPlan.build(result.graph, policy, calibration));
    expect(result.lastLoss).toBeLessThan(result.firstLoss);
    expect(after).toBeGreaterThan(before + 0.02);
    // Deterministic: the same options give the same weights.
    const again = await fineTune({ graph: model.graph, policy, calibration, train, sigma: 0.25, steps: 3, batch: 16, seed: 1, threads: 1 });
    const twice = await fineTune({ graph: model.graph, policy, calibration, train, sigma: 0.25, steps: 3, batch: 16, seed: 1, threads: 2 });
    expect(twice.graph.nodes).toEqual(again.graph.nodes);
  });

  test('bad options are rejected before any work', async () => {
    const model = loadFixture('mnist_cnn');
    const data = syntheticData(model.graph.input.shape, 10, 16, 1);
    const calibration = await calibrate(model.graph, data, { sigma: 0.25, count: 16, seed: 0, threads: 1 });
    const policy = uniformPolicy(model.graph, model.sha256, 4, 4);
    const base = { graph: model.graph, policy, calibration, train: data, sigma: 0.25, steps: 1, threads: 1 };
    await expect(fineTune({ ...base, steps: 0 })).rejects.toThrow(/steps: expected an integer/);
    await expect(fineTune({ ...base, lr: -1 })).rejects.toThrow(/lr: expected a number/);
    await expect(fineTune({ ...base, batch: 1.5 })).rejects.toThrow(/batch: expected an integer/);
    await expect(fineTune({ ...base, sigma: Number.NaN })).rejects.toThrow(/sigma/);
    await expect(fineTune({ ...base, policy: { ...policy, layers: policy.layers.slice(1) } })).rejects.toThrow(/has no bit widths/);
    await expect(fineTune({ ...base, policy: { ...policy, layers: [{ ...policy.layers[0], wbits: 9 }, ...policy.layers.slice(1)] } })).rejects.toThrow(/wbits must be an integer in 2\.\.8/);
    await expect(fineTune({ ...base, train: syntheticData([1, 8, 8], 10, 4, 1) })).rejects.toThrow(/images of 64 values, the model expects 784/);
  });
});
