// Calibration (quantization.md, Calibration) against an independent computation on a network small enough to follow
// by hand: the noisy images are rebuilt from the counter-based generator at sigma, every tensor of the network is
// computed in plain TypeScript, and ranges and histograms are counted here; the clip searches (grid.ts) are checked
// against brute force (clip-search.ts), on hand-made histograms and on the calibration's own.
import { beforeAll, describe, expect, test } from 'vitest';
import { makeDataset, type Dataset } from '../../src/data/index.js';
import { shapeSize, type Graph } from '../../src/graph/ir.js';
import { loadFixture } from '../support/fixtures.js';
import { cpuInfo, noise } from '../../src/native.js';
import { HISTOGRAM_BINS } from '../../src/engine/int-plan.js';
import { calibrate, type Calibration } from '../../src/quant/calibrate.js';
import { activationGrid, quantizeWeights } from '../../src/engine/grid.js';
import { rng } from '../support/native.js';
import { referenceActivationGrid, referenceWeightCodes } from './clip-search.js';

const f = Math.fround;

/** x [1,2,2] -> relu(conv 1x1 of weight -1) -> flatten -> gemm to 2 logits. Plan values: x, relu(-x), its flattening, logits. */
const FC = { weight: [1, 0.5, 0.25, 2, -1, 1, 0, 0.5], bias: [0.125, -0.5] };
const graph: Graph = {
  input: { name: 'x', shape: [1, 2, 2], rank: 4 },
  output: 'logits',
  nodes: [
    { op: 'conv', name: 'neg', inputs: ['x'], output: 'n', weight: Float32Array.from([-1]), bias: undefined, outChannels: 1, kernel: [1, 1], strides: [1, 1], pads: [0, 0, 0, 0], group: 1 },
    { op: 'clamp', name: 'relu', inputs: ['n'], output: 'r', range: { min: 0, max: Infinity } },
    { op: 'flatten', name: 'flat', inputs: ['r'], output: 'f' },
    { op: 'gemm', name: 'fc', inputs: ['f'], output: 'logits', weight: Float32Array.from(FC.weight), bias: Float32Array.from(FC.bias), outFeatures: 2 },
  ],
  shapes: new Map([['x', [1, 2, 2]], ['n', [1, 2, 2]], ['r', [1, 2, 2]], ['f', [4, 1, 1]], ['logits', [2, 1, 1]]]),
};

const IMAGES = 150;
const COUNT = 50;
const SIGMA = 0.5;
const SEED = 2 ** 33 + 12345;
const data: Dataset = makeDataset({
  name: 'hand', shape: [1, 2, 2], labels: new Int32Array(IMAGES),
  images: Float32Array.from({ length: IMAGES * 4 }, (_, i) => ((i * 37) % 101) / 100),
});

/** The calibration images: COUNT images spread evenly (every third), each plus sigma * N(0,1) noise keyed by its index. */
function noisyImages(): Float32Array[] {
  const stride = Math.floor(IMAGES / COUNT);
  return Array.from({ length: COUNT }, (_, k) => {
    const index = k * stride;
    const gaussian = noise().gaussian(cpuInfo().active, Math.floor(SEED / 2 ** 32), SEED % 2 ** 32, index, 0, 1, 4, SIGMA);
    return Float32Array.from(data.images.subarray(index * 4, index * 4 + 4), (x, j) => f(x + gaussian[j]));
  });
}

/** Every plan value's elements over the calibration images, computed here. */
function tensors(): number[][] {
  const x = noisyImages().flatMap((image) => Array.from(image));
  const relu = x.map((v) => Math.max(0, -v));
  const logits: number[] = [];
  for (let i = 0; i < relu.length; i += 4)
    for (let o = 0; o < 2; o++) logits.push(FC.bias[o] + [0, 1, 2, 3].reduce((s, j) => s + FC.weight[o * 4 + j] * relu[i + j], 0));
  return [x, relu, relu, logits];
}

/** Equal bins over [lo, hi] in float32: bin floor((x - lo) * (bins / width)), the top edge in the last bin. */
function histogram(values: number[], lo: number, hi: number): number[] {
  const counts = new Array<number>(HISTOGRAM_BINS).fill(0);
  const perUnit = f(HISTOGRAM_BINS / f(hi - lo));
  for (const v of values) counts[Math.min(Math.max(Math.floor(f(f(v - lo) * perUnit)), 0), HISTOGRAM_BINS - 1)]++;
  return counts;
}

let calibration: Calibration;
beforeAll(async () => {
  calibration = await calibrate(graph, data, { sigma: SIGMA, count: COUNT, seed: SEED, threads: 2 });
});

describe('calibration of a hand-checkable network', () => {
  test('the plan values are the input, relu(-x) (the clamp fused into its conv), its flattening and the logits', () => {
    expect(['x', 'n', 'r', 'f', 'logits'].map((v) => calibration.valueOf.get(v))).toEqual([0, 1, 1, 2, 3]);
    expect(calibration.settings).toEqual({ sigma: SIGMA, count: COUNT, seed: SEED, data: 'hand' });
  });

  test('ranges are the extremes of every tensor over the noisy images at sigma', () => {
    const expected = tensors();
    for (let v = 0; v < 3; v++) {
      expect(calibration.ranges[2 * v], `value ${v} min`).toBe(Math.min(...expected[v]));
      expect(calibration.ranges[2 * v + 1], `value ${v} max`).toBe(Math.max(...expected[v]));
    }
    // The logits are sums of four products: equal up to float32 summation order.
    expect(calibration.ranges[6]).toBeCloseTo(Math.min(...expected[3]), 5);
    expect(calibration.ranges[7]).toBeCloseTo(Math.max(...expected[3]), 5);
    // The noise is really there: clean images lie in [0, 1], sigma = 0.5 noise takes 200 values well outside.
    expect(calibration.ranges[0]).toBeLessThan(-0.5);
    expect(calibration.ranges[1]).toBeGreaterThan(1.5);
  });

  test('histograms count every element of every image, from all threads, in the right bins', () => {
    const expected = tensors();
    for (let v = 0; v < 4; v++) {
      const counts = Array.from(calibration.histograms.subarray(v * HISTOGRAM_BINS, (v + 1) * HISTOGRAM_BINS));
      expect(counts.reduce((a, b) => a + b, 0), `value ${v} total`).toBe(expected[v].length);
      if (v < 3) expect(counts, `value ${v} bins`).toEqual(histogram(expected[v], calibration.ranges[2 * v], calibration.ranges[2 * v + 1]));
    }
  });

  test('the result does not depend on the thread count', async () => {
    const single = await calibrate(graph, data, { sigma: SIGMA, count: COUNT, seed: SEED, threads: 1 });
    expect(single.ranges).toEqual(calibration.ranges);
    expect(single.histograms).toEqual(calibration.histograms);
  });
});

test('on a network busy enough to occupy every thread, each histogram holds all elements of its tensor', async () => {
  // The tiny network above runs so fast that one thread may take every task; ResNet-20's 8-image tasks do not.
  const model = loadFixture('resnet20');
  const images = makeDataset({ name: 'synthetic', shape: [3, 32, 32], labels: new Int32Array(64), images: Float32Array.from({ length: 64 * 3072 }, (_, i) => ((i * 7919) % 1000) / 1000) });
  const result = await calibrate(model.graph, images, { sigma: 0.25, count: 64, seed: 1, threads: 2 });
  const sizes = new Map<number, number>();
  for (const [name, value] of result.valueOf) sizes.set(value, shapeSize(model.graph.shapes.get(name)!));
  for (const [value, size] of sizes) {
    const total = result.histograms.subarray(value * HISTOGRAM_BINS, (value + 1) * HISTOGRAM_BINS).reduce((a, b) => a + b, 0);
    expect(total, `value ${value}`).toBe(64 * size);
  }
});

describe('the activation clip search equals brute force', () => {
  test.each([2, 3, 4, 8])('on the calibration histograms at %i bits', (bits) => {
    for (let v = 0; v < 4; v++) {
      const [lo, hi] = [calibration.ranges[2 * v], calibration.ranges[2 * v + 1]];
      const counts = calibration.histograms.subarray(v * HISTOGRAM_BINS, (v + 1) * HISTOGRAM_BINS);
      expect(activationGrid(lo, hi, counts, bits), `value ${v}`).toEqual({ ...referenceActivationGrid(lo, hi, counts, bits), bits });
    }
  });

  test('the counts weigh the error: a heavy centre and a few far outliers clip differently from flat counts', () => {
    // 64 bins over [-1, 15]: nearly all mass in [0, 2), one count in each far bin.
    const counts = Array.from({ length: 64 }, (_, i) => (i >= 4 && i < 12 ? 1000 : i % 9 === 0 ? 1 : 0));
    const weighted = referenceActivationGrid(-1, 15, counts, 4);
    const flat = referenceActivationGrid(-1, 15, counts.map((c) => (c > 0 ? 1 : 0)), 4);
    expect(weighted).not.toEqual(flat);
    expect(activationGrid(-1, 15, counts, 4)).toEqual({ ...weighted, bits: 4 });
  });

  test('non-negative and all-zero tensors', () => {
    const counts = Array.from({ length: 32 }, (_, i) => (i * 7) % 5);
    for (const bits of [2, 5, 8]) expect(activationGrid(0.25, 3, counts, bits)).toEqual({ ...referenceActivationGrid(0.25, 3, counts, bits), bits });
    expect(activationGrid(0.25, 3, counts, 4).zero).toBe(0);
    expect(activationGrid(0, 0, [5], 4)).toEqual({ scale: 1, zero: 0, bits: 4 });
  });
});

describe('the weight clip search equals brute force', () => {
  test.each([2, 3, 4, 5, 8])('random channels with outliers at %i bits', (bits) => {
    const next = rng(bits);
    const channels = 6;
    const weight = Float32Array.from({ length: channels * 27 }, (_, i) => (next() - 0.5) * (i % 27 === 5 ? 4 : 1) * (1 + (i % channels)));
    weight.fill(0, 27, 54); // an all-zero channel: scale 1, codes 0
    const ours = referenceWeightCodes(weight, channels, bits);
    expect(quantizeWeights(weight, channels, bits)).toEqual(ours);
    expect(Array.from(ours.scales.subarray(1, 2))).toEqual([1]);
  });

  test('of equal minima the first (the wider clip) wins', () => {
    // At 2 bits the channel [1, 0.75] has error (1 - s)^2 + (0.75 - s)^2, symmetric around s = 0.875: the float32
    // scales of the fractions 0.88 and 0.87 lie exactly symmetric, so both errors are the same double, the least.
    const weight = Float32Array.from([1, 0.75]);
    const { scales } = quantizeWeights(weight, 1, 2);
    expect(Array.from(scales)).toEqual([f(0.88)]);
    expect(referenceWeightCodes(weight, 1, 2).scales).toEqual(scales);
  });

  test('at 2 bits the codes are ternary', () => {
    const weight = Float32Array.from([0.1, -0.1, 0.02, 0.12, -0.12, 0.09, 0.11, -0.08]);
    const { codes, scales } = quantizeWeights(weight, 1, 2);
    expect(Array.from(codes)).toEqual([1, -1, 0, 1, -1, 1, 1, -1]);
    expect({ codes, scales }).toEqual(referenceWeightCodes(weight, 1, 2));
  });
});
