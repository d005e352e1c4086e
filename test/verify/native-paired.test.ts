// The paired plan (native/verify/paired_plan.h): the engine itself bounding whole boxes on a network of twice the
// channels (both ends of every value, sign-split weights). On every ISA level and thread count its output bounds and
// margins equal the propagator's (bounds.cc, checked against the reference by native-bounds and native-bounds-layers)
// bit for bit, on boxes from width 0 (then the engine's own logits) to the whole [0, 1]; the propagator's own bounds
// are the same on every level; the verifier's verdicts do not depend on the level or the thread count; and a network
// the paired plan cannot express (a grouped conv, sums that may leave int32) is bounded by the propagator alone.
import { afterAll, describe, expect, test } from 'vitest';
import { addon, setIsaCap, supportedIsas, type IntPlanSpec, type NativeIntPlan } from '../../src/native.js';
import { rng } from '../support/native.js';
import { convNet, denseNet, residualNet } from '../support/verify-nets.js';

const f = Math.fround;
const isas = supportedIsas();
afterAll(() => setIsaCap(isas[isas.length - 1]));

/** A plan built at ISA level `isa` (the propagator and its paired plan choose their kernels at that level too). */
function planAt(spec: IntPlanSpec, isa: (typeof isas)[number]): NativeIntPlan {
  setIsaCap(isa);
  return new (addon().IntPlan)(spec);
}

const sizeOf = (spec: IntPlanSpec) => spec.input[0] * spec.input[1] * spec.input[2];

/** Boxes of every width: two points, boxes of radius up to 0.05 and 0.3 around random images, and [0, 1] itself. */
function boxes(spec: IntPlanSpec, seed: number): { lo: Float32Array; hi: Float32Array; count: number } {
  const random = rng(seed);
  const n = sizeOf(spec);
  const radii = [0, 0, 0.01, 0.05, 0.05, 0.3, 0.3, 1];
  const lo = new Float32Array(radii.length * n), hi = new Float32Array(radii.length * n);
  radii.forEach((radius, b) => {
    const eps = radius === 1 ? 1 : random() * radius;
    for (let i = 0; i < n; i++) {
      const x = radius === 1 ? 0.5 : random();
      lo[b * n + i] = f(Math.max(0, x - eps));
      hi[b * n + i] = f(Math.min(1, x + eps));
    }
  });
  return { lo, hi, count: radii.length };
}

const nets: [string, IntPlanSpec][] = [
  ['dense w8a8 w8a8', denseNet([[8, 8], [8, 8]], 31)],
  ['dense w3a4 w8a2', denseNet([[3, 4], [8, 2]], 32)],
  ['conv w8a8 w8a8 w8a8', convNet([[8, 8], [8, 8], [8, 8]], 33)],
  ['conv w4a3 w2a8 w5a6', convNet([[4, 3], [2, 8], [5, 6]], 34)],
  ['conv w6a2 w7a5 w3a4', convNet([[6, 2], [7, 5], [3, 4]], 35)],
  ['residual w8a8 x5', residualNet([[8, 8], [8, 8], [8, 8], [8, 8], [8, 8]], 36)],
  ['residual w4a4 w2a8 w8a3 w4a4 w6a5', residualNet([[4, 4], [2, 8], [8, 3], [4, 4], [6, 5]], 37)],
];

describe.each(nets)('%s', (_, spec) => {
  const { lo, hi, count } = boxes(spec, 7);
  const classes = new (addon().IntPlan)(spec).classes;
  const labels = Int32Array.from({ length: count }, (_, b) => b % classes);

  test('on every ISA level and thread count the paired plan gives the propagator\'s output bounds and margins bit for bit', async () => {
    let scalarValues: { lo: Float32Array; hi: Float32Array }[] | undefined;
    for (const isa of isas) {
      const plan = planAt(spec, isa);
      const full = await plan.intervalBounds(lo, hi, count, 2, labels);
      expect(full.paired).toBe(false);
      // The propagator itself (its vectorised prefix and quantization at this level) equals the scalar level's.
      scalarValues ??= full.values;
      full.values.forEach((value, v) => {
        expect(value.lo, `${isa}: value ${v}`).toEqual(scalarValues?.[v].lo);
        expect(value.hi, `${isa}: value ${v}`).toEqual(scalarValues?.[v].hi);
      });
      for (const threads of [1, 3]) {
        const paired = await plan.intervalBounds(lo, hi, count, threads, labels, { values: false });
        expect(paired.paired, `${isa}: the network has a paired plan`).toBe(true);
        expect(paired.values[spec.output].lo, `${isa}, ${threads} threads`).toEqual(full.values[spec.output].lo);
        expect(paired.values[spec.output].hi, `${isa}, ${threads} threads`).toEqual(full.values[spec.output].hi);
        expect(paired.marginLower, `${isa}, ${threads} threads`).toEqual(full.marginLower);
        expect(paired.verified, `${isa}, ${threads} threads`).toEqual(full.verified);
        paired.values.forEach((value, v) => expect(value.lo.length === 0, `value ${v} left out`).toBe(v !== spec.output));
      }
    }
  });

  test('a box of width 0 gives the engine\'s logits at both ends, on every ISA level', async () => {
    const n = sizeOf(spec);
    const points = lo.subarray(0, 2 * n);
    for (const isa of isas) {
      const plan = planAt(spec, isa);
      const logits = await plan.run(points, 2, 1);
      const paired = await plan.intervalBounds(points, points, 2, 1, undefined, { values: false });
      expect(paired.paired).toBe(true);
      expect(paired.values[spec.output].lo, isa).toEqual(logits);
      expect(paired.values[spec.output].hi, isa).toEqual(logits);
    }
  });

  test('the engine\'s logits at random points and corners of each box lie within the paired bounds', async () => {
    const plan = new (addon().IntPlan)(spec);
    const n = sizeOf(spec);
    const bounds = (await plan.intervalBounds(lo, hi, count, 2, labels, { values: false })).values[spec.output];
    const random = rng(8);
    const points = 24;
    const x = new Float32Array(count * points * n);
    for (let b = 0; b < count; b++) {
      for (let p = 0; p < points; p++) {
        for (let i = 0; i < n; i++) {
          const [l, h] = [lo[b * n + i], hi[b * n + i]];
          x[(b * points + p) * n + i] = p === 0 ? l : p === 1 ? h : f(l + (h - l) * random());
        }
      }
    }
    const logits = await plan.run(x, count * points, 2);
    for (let b = 0; b < count; b++) {
      for (let p = 0; p < points; p++) {
        for (let c = 0; c < classes; c++) {
          const y = logits[(b * points + p) * classes + c];
          if (!(bounds.lo[b * classes + c] <= y && y <= bounds.hi[b * classes + c])) expect.fail(`box ${b}, point ${p}, logit ${c}: ${y} outside`);
        }
      }
    }
  });

  test('the verifier\'s verdicts are the same on every ISA level and thread count', async () => {
    let first: unknown;
    for (const isa of isas) {
      const plan = planAt(spec, isa);
      for (const threads of [1, 3]) {
        const result = await plan.verifyBoxes({ lo, hi, labels, timeoutMs: 60_000, maxSplits: 200, threads });
        const verdicts = { outcome: result.outcome, stage: result.stage, splits: result.splits, counterexample: result.counterexample };
        first ??= verdicts;
        expect(verdicts, `${isa}, ${threads} threads`).toEqual(first);
      }
    }
  });
});

test('the residual nets take the engine\'s fused residual add (the paths of ResNet-20)', async () => {
  const spec = residualNet([[8, 8], [8, 8], [8, 8], [8, 8], [8, 8]], 36);
  const plan = new (addon().IntPlan)(spec);
  const seconds = await plan.profile(new Float32Array(4 * sizeOf(spec)).fill(0.5), 4, 1);
  const add = spec.ops.findIndex((op) => op.op === 'add');
  expect(seconds[1 + add]).toBe(0);
  expect(seconds[1 + add - 1]).toBeGreaterThan(0);
});

test('intervalBounds rejects options that are not an object or a values that is not a boolean', () => {
  const plan = new (addon().IntPlan)(denseNet([[8, 8], [8, 8]], 31));
  const x = new Float32Array(9).fill(0.5);
  expect(() => plan.intervalBounds(x, x, 1, 1, undefined, 3 as never)).toThrow(TypeError);
  expect(() => plan.intervalBounds(x, x, 1, 1, undefined, { values: 1 as never })).toThrow(/options\.values must be a boolean/);
});

describe('networks without a paired plan', () => {
  const grid = { scale: f(1 / 255), zero: 0, bits: 8 };
  // A depthwise conv (grouped: its two ends would need each group to read both ends of its channel).
  const grouped: IntPlanSpec = {
    input: [2, 3, 3], values: 4, output: 3, grids: [null, { scale: f(4 / 255), zero: 128 }, { scale: f(4 / 255), zero: 128 }, null],
    ops: [
      {
        op: 'conv', inputs: [0], output: 1, weight: Int8Array.of(1, -2, 3, -4, 5, -6, 7, -7, 6, -5, 4, -3, 2, -1, 0, 1, 2, 3), wbits: 4,
        weightScales: Float32Array.of(0.1, 0.1), bias: null, outChannels: 2, kernel: [3, 3], strides: [1, 1], pads: [1, 1, 1, 1], group: 2, inputGrid: grid,
      },
      { op: 'flatten', inputs: [1], output: 2 },
      {
        op: 'gemm', inputs: [2], output: 3, weight: Int8Array.from({ length: 36 }, (_, i) => ((i * 37) % 15) - 7), wbits: 4,
        weightScales: Float32Array.of(0.01, 0.01), bias: null, outFeatures: 2, inputGrid: { scale: f(4 / 255), zero: 128, bits: 8 },
      },
    ],
  };
  // A hidden Gemm whose sums may leave int32 (the engine's sums would wrap where the bound needs every int32).
  const k = 70_000;
  const wide: IntPlanSpec = {
    input: [k, 1, 1], values: 3, output: 2, grids: [null, { scale: f(1e6), zero: 0 }, null],
    ops: [
      {
        op: 'gemm', inputs: [0], output: 1, weight: new Int8Array(k).fill(127), wbits: 8,
        weightScales: Float32Array.of(1), bias: null, outFeatures: 1, inputGrid: grid,
      },
      {
        op: 'gemm', inputs: [1], output: 2, weight: Int8Array.of(1, -1), wbits: 8,
        weightScales: Float32Array.of(1, 1), bias: null, outFeatures: 2, inputGrid: { scale: f(1e6), zero: 0, bits: 8 },
      },
    ],
  };

  test.each([['a grouped conv', grouped], ['sums that may leave int32', wide]])('%s: the propagator bounds it, identically', async (_, spec) => {
    const plan = new (addon().IntPlan)(spec);
    const { lo, hi, count } = boxes(spec, 9);
    const labels = new Int32Array(count);
    const full = await plan.intervalBounds(lo, hi, count, 2, labels);
    const lean = await plan.intervalBounds(lo, hi, count, 2, labels, { values: false });
    expect(lean.paired).toBe(false);
    expect(lean.values[spec.output]).toEqual(full.values[spec.output]);
    expect(lean.marginLower).toEqual(full.marginLower);
    const verdicts = await plan.verifyBoxes({ lo, hi, labels, timeoutMs: 60_000, maxSplits: 0, threads: 2 });
    expect(verdicts.outcome.length).toBe(count);
  });
});
