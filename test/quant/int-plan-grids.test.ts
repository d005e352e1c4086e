// The grids of an integer plan come from the calibration of the very tensor they quantize (quantization.md): each
// layer's input grid is the activation clip search over that tensor's own range and histogram at the layer's abits,
// every carrier (a layer's output, a residual add's output) is its own tensor's grid at 8 bits, reshapes keep their
// input's grid, and the float input and logits have none. Checked against the brute-force clip search of
// test/reference on ResNet-20 (adds, pooling, flatten) under a mixed policy. Calibration samples its images evenly
// over the dataset: at sigma 0, a calibration of every other image equals one of the dataset of those images.
import { describe, expect, test } from 'vitest';
import { makeDataset, subset, type Dataset } from '../../src/data/index.js';
import { lowerGraph } from '../../src/graph/lower.js';
import { calibrate } from '../../src/quant/calibrate.js';
import { HISTOGRAM_BINS, intPlanSpec } from '../../src/engine/int-plan.js';
import { uniformPolicy } from '../../src/quant/policy.js';
import { referenceActivationGrid } from '../reference/clip-search.js';
import { loadFixture } from '../support/fixtures.js';
import { rng } from '../support/native.js';
import { modelFromBytes } from '../../src/onnx/model.js';
import { GraphBuilder } from '../../src/train/architectures.js';
import { exportTrainGraph } from '../../src/train/export.js';

function randomImages(shape: readonly [number, number, number], count: number, seed: number): Dataset {
  const next = rng(seed);
  const images = Float32Array.from({ length: count * shape[0] * shape[1] * shape[2] }, () => next());
  return makeDataset({ name: 'random', shape, images, labels: new Int32Array(count) });
}

describe('integer plan grids', () => {
  test('each grid is the clip search of its own tensor: layer inputs at abits, carriers at 8 bits', async () => {
    const model = loadFixture('resnet20');
    const shape = model.graph.input.shape as unknown as [number, number, number];
    const calibration = await calibrate(model.graph, randomImages(shape, 4, 1), { sigma: 0.25, count: 4, seed: 2, threads: 2 });
    const base = uniformPolicy(model.graph, model.sha256, 8, 8);
    // Widths that differ from layer to layer, so that a grid taken at the wrong width shows.
    const policy = { ...base, layers: base.layers.map((l, i) => ({ ...l, wbits: 2 + (i % 7), abits: 8 - (i % 5) })) };
    const spec = intPlanSpec(model.graph, policy, calibration);
    const { spec: lowered } = lowerGraph(model.graph);
    const grid = (value: number, bits: number) => {
      const g = referenceActivationGrid(calibration.ranges[2 * value], calibration.ranges[2 * value + 1], calibration.histograms.subarray(value * HISTOGRAM_BINS, (value + 1) * HISTOGRAM_BINS), bits);
      return { scale: g.scale, zero: g.zero };
    };
    expect(spec.grids).toHaveLength(lowered.values);
    const expected: ({ scale: number; zero: number } | null)[] = new Array(lowered.values).fill(null);
    let adds = 0;
    for (const [k, op] of spec.ops.entries()) {
      const [input] = op.inputs;
      if (op.op === 'conv' || op.op === 'gemm') {
        const layer = policy.layers.find((l) => l.name === lowered.ops[k].name)!;
        expect(op.inputGrid, op.name).toEqual({ ...grid(input, layer.abits), bits: layer.abits });
        expect(op.wbits).toBe(layer.wbits);
        expected[op.output] = op.output === spec.output ? null : grid(op.output, 8);
      } else if (op.op === 'add') {
        adds++;
        expected[op.output] = grid(op.output, 8);
      } else expected[op.output] = expected[input];
    }
    expect(adds).toBeGreaterThan(0);
    for (let v = 0; v < lowered.values; v++) expect(spec.grids[v], `value ${v}`).toEqual(expected[v]);
  });

  test('calibration takes count images evenly spaced over the dataset', async () => {
    const model = loadFixture('mnist_cnn');
    const data = randomImages([1, 28, 28], 6, 3);
    const spread = await calibrate(model.graph, data, { sigma: 0, count: 3, threads: 2 });
    const picked = await calibrate(model.graph, subset(data, [0, 2, 4]), { sigma: 0, count: 3, threads: 2 });
    expect(spread.ranges).toEqual(picked.ranges);
    expect(spread.histograms).toEqual(picked.histograms);
    const first = await calibrate(model.graph, subset(data, [0, 1, 2]), { sigma: 0, count: 3, threads: 2 });
    expect(first.ranges).not.toEqual(spread.ranges);
  });

  test('images of the wrong size and a memory limit below the histograms are refused, naming the data', async () => {
    const model = loadFixture('mnist_cnn');
    await expect(calibrate(model.graph, randomImages([1, 27, 28], 2, 4), { sigma: 0, count: 2, threads: 1 }))
      .rejects.toThrow('calibration data random has images of 756 values, the model expects 784');
    const resnet = loadFixture('resnet20');
    await expect(calibrate(resnet.graph, randomImages([3, 32, 32], 2, 4), { sigma: 0, count: 2, threads: 1, maxMemory: 1 << 20 }))
      .rejects.toThrow(/^calibration on random: .*memory/);
  });

  test('refuses a pool before the first layer and an elementwise operator after it, naming the node', async () => {
    const plan = async (build: (b: GraphBuilder) => string) => {
      const b = new GraphBuilder([1, 4, 4], 1);
      const graph = modelFromBytes(exportTrainGraph(b.finish(build(b))), 'g.onnx').graph;
      const calibration = await calibrate(graph, randomImages([1, 4, 4], 2, 5), { sigma: 0, count: 2, threads: 1 });
      return () => intPlanSpec(graph, uniformPolicy(graph, 'x', 8, 8), calibration);
    };
    const head = (b: GraphBuilder, x: string) => b.gemm(b.flatten(x, '/flatten'), '/fc', 2);
    expect(await plan((b) => head(b, b.conv(b.maxpool('input', '/pool', 2), '/conv', 2, 1, 1))))
      .toThrow("node '/pool/MaxPool' (maxpool) needs a quantized input: the integer plan quantizes at the first Conv or Gemm layer");
    expect(await plan((b) => head(b, b.normalize(b.conv('input', '/conv', 2, 1, 1), { mean: [0.5], std: [0.25] }))))
      .toThrow(/^node '\/Sub': elementwise operators are supported only before the first layer$/);
  });
});
