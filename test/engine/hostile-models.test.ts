/**
 * Small hostile models against the native plans: memory bounded before allocation (a conv with pads of 500 on a
 * 4x4 image, 200,000 chained Relus) and NaN/infinity reported instead of indexing memory (a division by zero or by
 * a denormal, huge weights, NaN data). Every model is built in memory through the graph IR.
 */
import { describe, expect, test } from 'vitest';
import type { Graph, Node, Shape } from '../../src/graph/ir.js';
import { inferShapes } from '../../src/graph/shapes.js';
import { makeDataset, type Dataset } from '../../src/data/index.js';
import { FloatPlan } from '../../src/engine/float-plan.js';
import { floatPlanSpec } from '../../src/graph/lower.js';
import { calibrate } from '../../src/quant/calibrate.js';
import { IntPlan } from '../../src/engine/int-plan.js';
import { uniformPolicy } from '../../src/quant/policy.js';
import { addon, defaultMaxMemory, setMaxMemory } from '../../src/native.js';

const GiB = 2 ** 30;
const MiB = 2 ** 20;

function graphOf(shape: Shape, nodes: Node[]): Graph {
  const input = { name: 'x', shape, rank: 4 as const };
  return { input, output: nodes[nodes.length - 1].output, nodes, shapes: inferShapes(input, nodes) };
}

function dataset(shape: Shape, count: number, value: (i: number) => number = (i) => (i % 7) / 7): Dataset {
  const images = Float32Array.from({ length: count * shape[0] * shape[1] * shape[2] }, (_, i) => value(i));
  return makeDataset({ name: 'synthetic', shape, images, labels: new Int32Array(count) });
}

/** Peak resident memory growth (bytes) of this test process while `work` runs (peaks before it hide growth: a floor). */
async function peakGrowth(work: () => Promise<unknown>): Promise<number> {
  const before = process.resourceUsage().maxRSS;
  await work();
  return (process.resourceUsage().maxRSS - before) * 1024;
}

/** x [1,4,4] -> conv 'wide' (16 channels, 1x1, pads 500: a 1004x1004 output, just within the importer's per-image cap) -> pool -> fc: a model of 2 KB. */
function widePadModel(): Graph {
  return graphOf([1, 4, 4], [
    { op: 'conv', name: 'wide', inputs: ['x'], output: 'c', weight: new Float32Array(16).fill(0.5), bias: undefined, outChannels: 16, kernel: [1, 1], strides: [1, 1], pads: [500, 500, 500, 500], group: 1 },
    { op: 'globalavgpool', name: 'pool', inputs: ['c'], output: 'p' },
    { op: 'flatten', name: 'flat', inputs: ['p'], output: 'f' },
    { op: 'gemm', name: 'fc', inputs: ['f'], output: 'y', weight: new Float32Array(32).fill(0.1), bias: undefined, outFeatures: 2 },
  ]);
}

describe('memory is bounded before anything is allocated', () => {
  test('conv pads of 500 on a 4x4 image: a 256-image run on 8 threads is refused (the engine runs 8 images per thread at a time, so 2 threads stay within 2 GiB), naming the conv and the flag', async () => {
    const plan = FloatPlan.build(widePadModel());
    const oneImage = 1004 * 1004 * 16 * 4;
    expect(plan.checkMemory(1, 1)).toBeGreaterThan(oneImage); // the estimate covers the conv's output
    expect(plan.checkMemory(1, 1)).toBeLessThan(2 * oneImage);
    let error: unknown;
    const growth = await peakGrowth(() => plan.run(new Float32Array(256 * 16), 256, 8).catch((e: unknown) => (error = e)));
    expect(error).toBeInstanceOf(RangeError);
    expect((error as Error).message).toMatch(/^FloatPlan\.run: needs about [\d.]+ GiB, more than the memory limit of 2\.0 GiB \(largest: .*op #0 \(conv 'wide'\).*--max-memory\)$/);
    expect(growth).toBeLessThan(256 * MiB);
  });

  test('the certification sampling loop checks the batch it will run', async () => {
    const plan = FloatPlan.build(widePadModel());
    const request = { image: new Float32Array(16), sigma: 0.25, seedHi: 0, seedLo: 1, imageIndex: 0, firstSample: 0, count: 100, batch: 256, threads: 8, record: false };
    await expect(plan.sample(request)).rejects.toThrow(/^FloatPlan\.sample: needs about [\d.]+ GiB, .*op #0 \(conv 'wide'\)/);
  });

  test('the build itself is refused when one image does not fit the limit, and a higher limit admits it', () => {
    expect(() => FloatPlan.build(widePadModel(), { maxMemory: 32 * MiB })).toThrow(RangeError);
    expect(() => FloatPlan.build(widePadModel(), { maxMemory: 32 * MiB })).toThrow(/^FloatPlan: needs about .* op #0 \(conv 'wide'\)/);
    const plan = FloatPlan.build(widePadModel(), { maxMemory: 8 * GiB });
    expect(plan.checkMemory(64, 8)).toBeGreaterThan(2 * GiB); // accepted under the raised limit
    expect(() => plan.checkMemory(256, 64)).toThrow(/more than the memory limit of 8\.0 GiB/);
  });

  test('setMaxMemory sets the limit of plans built afterwards (the CLI flag) and checks its value', () => {
    expect(defaultMaxMemory()).toBe(2 * GiB);
    setMaxMemory(300 * MiB);
    try {
      expect(() => FloatPlan.build(widePadModel())).not.toThrow();
      expect(() => FloatPlan.build(widePadModel()).checkMemory(8, 1)).toThrow(/memory limit of 300\.0 MiB/);
    } finally {
      setMaxMemory(undefined);
    }
    expect(defaultMaxMemory()).toBe(2 * GiB);
    expect(() => setMaxMemory(1000)).toThrow(/maxMemory: expected an integer in \[1048576/);
    expect(() => FloatPlan.build(widePadModel(), { maxMemory: -1 })).toThrow(/maxMemory/);
  });

  test('calibration and the integer plan of the same model are refused the same way', async () => {
    const graph = widePadModel();
    await expect(calibrate(graph, dataset([1, 4, 4], 256), { sigma: 0.25, threads: 8 })).rejects.toThrow(/^calibration on synthetic: FloatPlan\.checkMemory: needs about .*conv 'wide'/);
    const calibration = await calibrate(graph, dataset([1, 4, 4], 1), { sigma: 0.25, count: 1, threads: 1 });
    const plan = IntPlan.build(graph, uniformPolicy(graph, 'sha', 8, 8), calibration);
    let error: unknown;
    const growth = await peakGrowth(() => plan.run(new Float32Array(256 * 16), 256, 8).catch((e: unknown) => (error = e)));
    expect(error).toBeInstanceOf(RangeError);
    expect((error as Error).message).toMatch(/^IntPlan\.run: needs about .*op #0 \(conv 'wide'\)/);
    expect(growth).toBeLessThan(256 * MiB);
  });

  const relus = (count: number): Graph => graphOf([1, 1, 1], Array.from({ length: count }, (_, i): Node => ({ op: 'clamp', name: `relu${i}`, inputs: [i === 0 ? 'x' : `v${i - 1}`], output: `v${i}`, range: { min: 0, max: Infinity } })));

  test('200,000 chained Relus (a 7 MB model): the plan is refused by its operator count before any op is read', async () => {
    const graph = relus(200_000);
    let error: unknown;
    const growth = await peakGrowth(() => calibrate(graph, dataset([1, 1, 1], 8), { sigma: 0.25, count: 8, threads: 2 }).catch((e: unknown) => (error = e)));
    expect(error).toBeInstanceOf(RangeError);
    expect((error as Error).message).toBe('FloatPlan: the plan has 200000 operators, more than the 4096 arq supports');
    expect(growth).toBeLessThan(256 * MiB);
  });

  test('calibration checks the histograms against the limit before the ranges pass runs the network', async () => {
    let error: unknown;
    const growth = await peakGrowth(() => calibrate(relus(4000), dataset([1, 1, 1], 8), { sigma: 0.25, count: 8, threads: 2, maxMemory: 100 * MiB }).catch((e: unknown) => (error = e)));
    expect((error as Error).message).toMatch(/^calibration on synthetic: FloatPlan\.checkMemory: needs about 250\.\d MiB, more than the memory limit of 100\.0 MiB \(largest: histograms of 4001 values x 2048 bins x 4 copies/);
    expect(growth).toBeLessThan(64 * MiB);
    await expect(calibrate(relus(4000), dataset([1, 1, 1], 8), { sigma: 0.25, count: 8, threads: 2 })).resolves.toBeDefined();
  });

  test('a plan spec with more ops than values is refused before any op is read', () => {
    const ops = Array.from({ length: 10 }, (_, i) => ({ op: 'clamp' as const, inputs: [0], output: i + 1 }));
    expect(() => new (addon().FloatPlan)({ input: [1, 1, 1], values: 5, output: 1, ops })).toThrow(/ops has 10 entries, more than the 4 values to compute/);
  });
});

/** x [1,2,2] -> elementwise 'norm' (x / divisor) -> conv 'c' (2 channels, 1x1) -> pool -> fc. */
function divideModel(divisor: number, convWeight = 0.5): Graph {
  return graphOf([1, 2, 2], [
    { op: 'elementwise', name: 'norm', inputs: ['x'], output: 'n', operation: 'div', constant: new Float32Array([divisor]), constantFirst: false },
    { op: 'conv', name: 'c', inputs: ['n'], output: 'c', weight: new Float32Array(2).fill(convWeight), bias: undefined, outChannels: 2, kernel: [1, 1], strides: [1, 1], pads: [0, 0, 0, 0], group: 1 },
    { op: 'globalavgpool', name: 'pool', inputs: ['c'], output: 'p' },
    { op: 'flatten', name: 'flat', inputs: ['p'], output: 'f' },
    { op: 'gemm', name: 'fc', inputs: ['f'], output: 'y', weight: new Float32Array(4).fill(1), bias: undefined, outFeatures: 2 },
  ]);
}

describe('NaN and infinity are reported, never turned into an index', () => {
  test.each([
    ['a divisor of 0', 0],
    ['a denormal divisor', 1e-45],
  ])('calibration of a model dividing by %s names the division', async (_, divisor) => {
    await expect(calibrate(divideModel(divisor), dataset([1, 2, 2], 16), { sigma: 0.25, count: 16 }))
      .rejects.toThrow(/^calibration on synthetic: FloatPlan\.observeRanges: plan value 1, the output of op #0 \(elementwise 'norm'\) \(1x2x2\), has \d+ NaN or infinite elements over 16 images/);
  });

  test('huge weights overflow at the conv, which the message names', async () => {
    await expect(calibrate(divideModel(1, 3e38), dataset([1, 2, 2], 8, () => 2), { sigma: 0, count: 8 }))
      .rejects.toThrow(/plan value 2, the output of op #1 \(conv 'c'\) \(2x2x2\), has 64 NaN or infinite elements over 8 images/);
  });

  test('NaN calibration data is named, with its image and index, before the network runs', async () => {
    await expect(calibrate(divideModel(1), dataset([1, 2, 2], 8, (i) => (i === 5 ? NaN : 0.5)), { sigma: 0.25, count: 8 }))
      .rejects.toThrow('synthetic: expected image values in [-1, 2] (images are scaled to [0, 1]), got NaN at image 1 index 1');
  });

  test('observeHistograms on NaN data rejects (it used to write below its buffer) and on huge data counts every element', async () => {
    const graph = divideModel(1);
    const plan = FloatPlan.build(graph);
    const elements = [32, 32, 64, 16, 16, 16]; // per value over 8 images: x, norm, c, pool, flat, fc
    expect(floatPlanSpec(graph).values).toBe(elements.length);
    const ranges = new Float32Array(elements.length * 2).map((_, i) => (i % 2 === 0 ? -1 : 1));
    const nan = new Float32Array(4 * 8).fill(NaN);
    await expect(plan.observeHistograms(nan, 8, 2, ranges, 2048)).rejects.toThrow(/^FloatPlan\.observeHistograms: plan value 0, the network input/);
    const huge = Float32Array.from({ length: 4 * 8 }, (_, i) => (i % 2 === 0 ? 1e37 : -1e37));
    const counts = await plan.observeHistograms(huge, 8, 2, ranges, 16);
    expect(counts[0]).toBe(16); // the input's -1e37 in the first bin
    expect(counts[15]).toBe(16); // and 1e37 in the last
    elements.forEach((count, v) => expect(counts.subarray(v * 16, (v + 1) * 16).reduce((a, b) => a + b, 0)).toBe(count));
    await expect(plan.observeHistograms(huge, 8, 1, ranges.map((r) => r * Infinity), 16)).rejects.toThrow(/ranges of value 0 must be finite/);
  });

  test('non-finite parameters are refused at build time, naming the op and the element', () => {
    const weight = new Float32Array([0.5, NaN]);
    const graph = divideModel(1);
    const conv = graph.nodes[1] as Extract<Node, { op: 'conv' }>;
    const bad = { ...graph, nodes: graph.nodes.map((n) => (n === conv ? { ...conv, weight } : n)) };
    expect(() => FloatPlan.build(bad)).toThrow(/^FloatPlan: op #1 \(conv 'c'\): weight\[1\] is NaN$/);
    expect(() => FloatPlan.build(divideModel(Infinity))).toThrow(/op #0 \(elementwise 'norm'\): constant\[0\] is infinite/);
  });

  test('the clip searches refuse non-finite weights and out-of-float ranges', () => {
    expect(() => addon().quantizeWeights(new Float32Array([1, Infinity]), 1, 4)).toThrow(/^quantizeWeights: weight \[0\]\[1\] is infinite$/);
    expect(() => addon().activationGrid(0, 1e39, new Float64Array(4).fill(1), 8)).toThrow(RangeError);
    const denormal = addon().quantizeWeights(new Float32Array([1e-45, -1e-45]), 1, 4);
    expect(denormal.scales[0]).toBeGreaterThan(0);
    expect(Array.from(denormal.codes).every((c) => Math.abs(c) <= 7)).toBe(true);
  });
});
