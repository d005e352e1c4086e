// Interval bounds on the integer plan (native/verify/bounds.cc) against the independent reference of quantization.md
// (test/reference/int-semantics.ts) and the engine itself: a box of width 0 gives every value of the plan bit for bit,
// every point of a random box (its corners included) lies inside the bounds at every value, the margin bounds hold
// for the engine's float32 logits, and accumulators past int32 and rounding ties are bounded as the engine computes.
import { describe, expect, test } from 'vitest';
import { addon, type IntPlanSpec, type NativeIntPlan } from '../../src/native.js';
import { runValues } from '../reference/int-semantics.js';
import { rng } from '../support/native.js';
import { convNet, denseNet, inputSize, randomBoxes } from '../support/verify-nets.js';

const f = Math.fround;
const build = (spec: IntPlanSpec): NativeIntPlan => new (addon().IntPlan)(spec);

const nets: [string, IntPlanSpec][] = [
  ['dense w8a8 w8a8', denseNet([[8, 8], [8, 8]], 1)],
  ['dense w3a4 w8a2', denseNet([[3, 4], [8, 2]], 2)],
  ['dense w2a8 w5a6', denseNet([[2, 8], [5, 6]], 3)],
  ['conv w8a8 w8a8 w8a8', convNet([[8, 8], [8, 8], [8, 8]], 4)],
  ['conv w4a3 w2a8 w5a6', convNet([[4, 3], [2, 8], [5, 6]], 5)],
  ['conv w6a2 w7a5 w3a4', convNet([[6, 2], [7, 5], [3, 4]], 6)],
];


describe.each(nets)('%s', (_, spec) => {
  const plan = build(spec);
  const n = inputSize(spec);
  const classes = plan.classes;

  test('a box of width 0 gives every value as the reference and the logits of the engine, bit for bit', async () => {
    const batch = 6;
    const { lo: images } = randomBoxes(spec, batch, 0, rng(11));
    const bounds = await plan.intervalBounds(images, images, batch, 2);
    const logits = await plan.run(images, batch, 1);
    expect(await plan._runReference(images, batch)).toEqual(logits);
    for (let b = 0; b < batch; b++) {
      const values = runValues(spec, images.subarray(b * n, (b + 1) * n));
      values.forEach((value, v) => {
        const size = value.data.length;
        const lo = bounds.values[v].lo.subarray(b * size, (b + 1) * size);
        const hi = bounds.values[v].hi.subarray(b * size, (b + 1) * size);
        expect(bounds.values[v].codes, `value ${v}`).toBe(spec.grids[v] !== null);
        expect(Array.from(lo), `image ${b}, value ${v}`).toEqual(value.data);
        expect(Array.from(hi), `image ${b}, value ${v}`).toEqual(value.data);
      });
      expect(bounds.values[spec.output].lo.subarray(b * classes, (b + 1) * classes)).toEqual(logits.subarray(b * classes, (b + 1) * classes));
    }
  });

  test('random points and the corners of random boxes lie inside the bounds at every value', async () => {
    const boxes = 8;
    const { lo, hi } = randomBoxes(spec, boxes, 0.2, rng(12));
    const bounds = await plan.intervalBounds(lo, hi, boxes, 2);
    const random = rng(13);
    for (let b = 0; b < boxes; b++) {
      const points: Float32Array[] = [lo.slice(b * n, (b + 1) * n), hi.slice(b * n, (b + 1) * n)];
      for (let k = 0; k < 24; k++) {
        points.push(Float32Array.from({ length: n }, (_, i) => {
          const a = lo[b * n + i], c = hi[b * n + i];
          const pick = random();
          return k < 8 ? (pick < 0.5 ? a : c) : f(a + (c - a) * pick);  // corners, then interior points
        }));
      }
      for (const point of points) {
        runValues(spec, point).forEach((value, v) => {
          const size = value.data.length;
          value.data.forEach((x, i) => {
            const l = bounds.values[v].lo[b * size + i], h = bounds.values[v].hi[b * size + i];
            if (!(l <= x && x <= h)) expect.fail(`box ${b}, value ${v}[${i}]: ${x} outside [${l}, ${h}]`);
          });
        });
      }
    }
  });

  test('the margin bounds hold for the engine logits of every sampled point, and a verified box has no other class', async () => {
    const boxes = 12;
    const { lo, hi } = randomBoxes(spec, boxes, 0.05, rng(14));
    const centres = Float32Array.from(lo, (a, i) => f(a + (hi[i] - a) / 2));
    const centreLogits = await plan.run(centres, boxes, 1);
    const labels = Int32Array.from({ length: boxes }, (_, b) => {
      const row = Array.from(centreLogits.subarray(b * classes, (b + 1) * classes));
      return row.indexOf(Math.max(...row));
    });
    const bounds = await plan.intervalBounds(lo, hi, boxes, 1, labels);
    const random = rng(15);
    const samples = 40;
    const points = new Float32Array(boxes * samples * n);
    for (let b = 0; b < boxes; b++)
      for (let s = 0; s < samples; s++)
        for (let i = 0; i < n; i++) points[(b * samples + s) * n + i] = f(lo[b * n + i] + (hi[b * n + i] - lo[b * n + i]) * (s < 2 ? s : random()));
    const logits = await plan.run(points, boxes * samples, 2);
    for (let b = 0; b < boxes; b++) {
      const y = labels[b];
      expect(bounds.marginLower[b * classes + y]).toBe(Infinity);
      for (let s = 0; s < samples; s++) {
        const row = logits.subarray((b * samples + s) * classes, (b * samples + s + 1) * classes);
        for (let j = 0; j < classes; j++) {
          if (j === y) continue;
          if (!(bounds.marginLower[b * classes + j] <= row[y] - row[j])) expect.fail(`box ${b}, class ${j}: margin ${row[y] - row[j]} below its bound ${bounds.marginLower[b * classes + j]}`);
          if (bounds.verified[b]) expect(j < y ? row[y] > row[j] : row[y] >= row[j], `verified box ${b}, class ${j}`).toBe(true);
        }
      }
    }
  });
});

test('without labels the margins are NaN and nothing is verified', async () => {
  const spec = denseNet([[8, 8], [8, 8]], 1);
  const x = new Float32Array(9).fill(0.5);
  const bounds = await build(spec).intervalBounds(x, x, 1, 1);
  expect(Array.from(bounds.marginLower).every(Number.isNaN)).toBe(true);
  expect(Array.from(bounds.verified)).toEqual([0]);
});

describe('crafted cases', () => {
  // One Gemm from K float inputs in [0, 1] (grid scale 1/255, zero 0, so the code is round(255 x)) to two logits:
  // class 0 sums every code with weight 127, class 1 is a constant bias. With K = 70,000 the accumulator of class 0
  // reaches 70,000 * 127 * 255 > 2^31 - 1: the engine's int32 sum wraps.
  const wide = (k: number): IntPlanSpec => ({
    input: [k, 1, 1], values: 2, output: 1, grids: [null, null],
    ops: [{
      op: 'gemm', inputs: [0], output: 1, weight: Int8Array.from({ length: 2 * k }, (_, i) => (i < k ? 127 : 0)), wbits: 8,
      weightScales: Float32Array.of(1, 1), bias: Float32Array.of(0, 5), outFeatures: 2, inputGrid: { scale: f(1 / 255), zero: 0, bits: 8 },
    }],
  });

  test('an accumulator that may pass int32 is bounded over every int32 the engine may hold; one within int32 is exact', async () => {
    const k = 70_000;
    const plan = build(wide(k));
    // Box 0: every input in [0.9, 1] (the sum passes 2^31 for some inputs); box 1: [0, 0.001] (codes 0: exact).
    const lo = new Float32Array(2 * k), hi = new Float32Array(2 * k);
    lo.fill(0.9, 0, k);
    hi.fill(1, 0, k);
    hi.fill(0.001, k);
    const bounds = await plan.intervalBounds(lo, hi, 2, 1, Int32Array.of(0, 1));
    const logits = bounds.values[1];
    for (const point of [hi.subarray(0, k), lo.subarray(0, k)]) {
      const [y0] = await plan.run(Float32Array.from(point), 1, 1);
      expect(logits.lo[0] <= y0 && y0 <= logits.hi[0], `engine logit ${y0} within [${logits.lo[0]}, ${logits.hi[0]}]`).toBe(true);
    }
    const m = f(1 / 255);
    expect([logits.lo[0], logits.hi[0]]).toEqual([f(-(2 ** 31) * m), f(2 ** 31 * m)]);
    expect(bounds.verified[0]).toBe(0);
    expect([logits.lo[2], logits.hi[2], logits.lo[3], logits.hi[3]]).toEqual([0, 0, 5, 5]);
    expect(bounds.verified[1]).toBe(1);
  });

  test('every accumulation path (GEMM kernels, int32 and int64 loops, grouped convs) agrees with the reference', async () => {
    // Layer 1: a depthwise 3x3 conv (grouped: the plain loops); layer 2: a Gemm whose weights are all +-127 over 640
    // inputs, sum |w| * 255 above 2^24 (the int32 loops, not the float-exact kernels); layer 3: logits (the kernels).
    // (The int64 loops: the K = 70,000 test above.)
    const random = rng(40);
    const channels = 40, k = channels * 16;
    const spec: IntPlanSpec = {
      input: [channels, 4, 4], values: 5, output: 4, grids: [null, { scale: f(4 / 255), zero: 128 }, { scale: f(4 / 255), zero: 128 }, { scale: f(64 / 255), zero: 128 }, null],
      ops: [
        {
          op: 'conv', inputs: [0], output: 1, weight: Int8Array.from({ length: channels * 9 }, () => Math.floor(random() * 15) - 7), wbits: 4,
          weightScales: new Float32Array(channels).fill(f(0.1)), bias: null, outChannels: channels, kernel: [3, 3], strides: [1, 1], pads: [1, 1, 1, 1],
          group: channels, inputGrid: { scale: f(1 / 255), zero: 0, bits: 8 },
        },
        { op: 'flatten', inputs: [1], output: 2 },
        {
          op: 'gemm', inputs: [2], output: 3, weight: Int8Array.from({ length: 3 * k }, () => (random() < 0.5 ? -127 : 127)), wbits: 8,
          weightScales: new Float32Array(3).fill(f(0.001)), bias: null, outFeatures: 3, inputGrid: { scale: f(4 / 255), zero: 128, bits: 8 },
        },
        {
          op: 'gemm', inputs: [3], output: 4, weight: Int8Array.from({ length: 6 }, () => Math.floor(random() * 255) - 127), wbits: 8,
          weightScales: new Float32Array(2).fill(f(0.01)), bias: null, outFeatures: 2, inputGrid: { scale: f(64 / 255), zero: 128, bits: 8 },
        },
      ],
    };
    expect(127 * k * 255).toBeGreaterThan(2 ** 24);
    const plan = build(spec);
    const n = k;
    const images = Float32Array.from({ length: 2 * n }, () => f(random()));
    const point = await plan.intervalBounds(images, images, 2, 1);
    for (let b = 0; b < 2; b++) {
      runValues(spec, images.subarray(b * n, (b + 1) * n)).forEach((value, v) => {
        const size = value.data.length;
        expect(Array.from(point.values[v].lo.subarray(b * size, (b + 1) * size)), `value ${v}`).toEqual(value.data);
        expect(Array.from(point.values[v].hi.subarray(b * size, (b + 1) * size)), `value ${v}`).toEqual(value.data);
      });
    }
    const lo = Float32Array.from(images, (x) => f(Math.max(0, x - 0.02))), hi = Float32Array.from(images, (x) => f(Math.min(1, x + 0.02)));
    const box = await plan.intervalBounds(lo, hi, 2, 1);
    for (let b = 0; b < 2; b++) {
      for (let t = 0; t < 20; t++) {
        const x = Float32Array.from({ length: n }, (_, i) => f(lo[b * n + i] + (hi[b * n + i] - lo[b * n + i]) * random()));
        runValues(spec, x).forEach((value, v) => {
          const size = value.data.length;
          value.data.forEach((y, i) => {
            if (!(box.values[v].lo[b * size + i] <= y && y <= box.values[v].hi[b * size + i])) expect.fail(`box ${b}, value ${v}[${i}]: ${y} outside`);
          });
        });
      }
    }
  });

  test('rounding ties at the interval ends: inputs and requantization round half to even', async () => {
    // Input grid scale 0.25: x = 0.125 and 0.375 are the ties 0.5 and 1.5 (codes 0 and 2); weight 1, multiplier
    // 0.25 * 2 / 1 = 0.5 and bias 0.5: the accumulators 0 and 2 give the ties 0.5 and 1.5 again (codes 0 and 2).
    // Rounding half up would give [1, 2] at either step.
    const spec: IntPlanSpec = {
      input: [1, 1, 1], values: 3, output: 2, grids: [null, { scale: 1, zero: 0 }, null],
      ops: [
        { op: 'gemm', inputs: [0], output: 1, weight: Int8Array.of(1), wbits: 2, weightScales: Float32Array.of(2), bias: Float32Array.of(0.5), outFeatures: 1, inputGrid: { scale: 0.25, zero: 0, bits: 2 } },
        { op: 'gemm', inputs: [1], output: 2, weight: Int8Array.of(1), wbits: 2, weightScales: Float32Array.of(1), bias: null, outFeatures: 1, inputGrid: { scale: 1, zero: 0, bits: 8 } },
      ],
    };
    const plan = build(spec);
    const bounds = await plan.intervalBounds(Float32Array.of(0.125), Float32Array.of(0.375), 1, 1);
    expect([bounds.values[1].lo[0], bounds.values[1].hi[0]]).toEqual([0, 2]);
    const inside = [0.125, 0.2, 0.25, 0.3, 0.375].map((x) => runValues(spec, [x])[1].data[0]);
    expect(inside).toEqual([0, 1, 1, 1, 2]);
  });
});
