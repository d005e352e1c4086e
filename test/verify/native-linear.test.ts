// The back-substituted margin bounds (native/verify/linear_bounds.cc) against the engine: on chains of layers (the
// form they take), at random points and corners of random boxes the engine's float32 margins never fall below them,
// a box they prove holds no other class, and they are never below the interval bounds' margins (each margin keeps the
// larger) while being above them on some boxes; a network that is not a chain keeps the interval bounds bit for bit.
// The branch and bound with them (the default) gets the same verdicts as without them, and proves wide boxes with
// fewer splits. Brute-force enumeration of the verifier's verdicts on chains is in native-verifier.test.ts.
import { describe, expect, test } from 'vitest';
import { addon, VERIFY_OUTCOME, VERIFY_STAGE, type IntPlanSpec, type NativeIntPlan } from '../../src/native.js';
import { rng } from '../support/native.js';
import { chainNet, convNet, denseNet, inputSize, randomBoxes } from '../support/verify-nets.js';

const f = Math.fround;
const build = (spec: IntPlanSpec): NativeIntPlan => new (addon().IntPlan)(spec);

const chains: [string, IntPlanSpec][] = [
  ['chain w8a8 w8a8 w8a8 w8a8', chainNet([[8, 8], [8, 8], [8, 8], [8, 8]], 31)],
  ['chain w4a6 w3a8 w5a8 w2a8', chainNet([[4, 6], [3, 8], [5, 8], [2, 8]], 32)],
  ['chain w6a3 w8a8 w2a8 w8a8', chainNet([[6, 3], [8, 8], [2, 8], [8, 8]], 33)],
  ['dense w8a8 w8a8', denseNet([[8, 8], [8, 8]], 34)],
];

/** Boxes around random images (eps random below maxEps), each labelled with its centre's class or a random one. */
async function boxes(spec: IntPlanSpec, plan: NativeIntPlan, count: number, maxEps: number, seed: number) {
  const random = rng(seed);
  const { lo, hi } = randomBoxes(spec, count, maxEps, random);
  const centres = await plan.run(Float32Array.from(lo, (a, i) => f(a + (hi[i] - a) / 2)), count, 1);
  const labels = Int32Array.from({ length: count }, (_, b) => {
    const row = Array.from(centres.subarray(b * plan.classes, (b + 1) * plan.classes));
    return b % 3 === 2 ? Math.floor(random() * plan.classes) : row.indexOf(Math.max(...row));
  });
  return { lo, hi, labels, n: inputSize(spec) };
}

let gained = 0;  // boxes decided with the linear bounds and left open without them, over every chain

describe.each(chains)('%s', (_, spec) => {
  const plan = build(spec);
  const classes = plan.classes;

  test('the margins hold at random points and corners, prove only boxes of one class, and raise the interval bounds', async () => {
    const count = 60;
    const { lo, hi, labels, n } = await boxes(spec, plan, count, 0.12, 41);
    const interval = await plan.intervalBounds(lo, hi, count, 2, labels, { values: false });
    const linear = await plan.intervalBounds(lo, hi, count, 2, labels, { values: false, linear: true });
    const random = rng(42);
    let raised = 0, proved = 0;
    for (let b = 0; b < count; b++) {
      const points: Float32Array[] = [lo.slice(b * n, (b + 1) * n), hi.slice(b * n, (b + 1) * n)];
      for (let k = 0; k < 30; k++) {
        const corner = k % 2 === 0;
        points.push(Float32Array.from({ length: n }, (_, i) => {
          const a = lo[b * n + i], c = hi[b * n + i];
          return corner ? (random() < 0.5 ? a : c) : Math.min(c, Math.max(a, f(a + random() * (c - a))));
        }));
      }
      const logits = await plan.run(Float32Array.from(points.flatMap((p) => Array.from(p))), points.length, 1);
      const y = labels[b];
      for (let j = 0; j < classes; j++) {
        if (j === y) continue;
        const lower = linear.marginLower[b * classes + j], before = interval.marginLower[b * classes + j];
        expect(lower, `box ${b}, class ${j}: not below the interval bound`).toBeGreaterThanOrEqual(before);
        if (lower > before) raised++;
        for (let p = 0; p < points.length; p++) {
          const margin = logits[p * classes + y] - logits[p * classes + j];
          expect(lower, `box ${b}, class ${j}, point ${p}`).toBeLessThanOrEqual(margin);
        }
      }
      if (linear.verified[b] === 1) {
        proved++;
        for (let p = 0; p < points.length; p++) {
          const row = Array.from(logits.subarray(p * classes, (p + 1) * classes));
          expect(row.indexOf(Math.max(...row)), `box ${b}, point ${p}`).toBe(y);
        }
      }
      if (interval.verified[b] === 1) expect(linear.verified[b]).toBe(1);
    }
    expect(raised, 'margins the back-substitution raised').toBeGreaterThan(0);
    expect(proved, 'boxes proved').toBeGreaterThan(0);
  });

  test('the branch and bound gets the same verdicts with and without them, and decides boxes it could not without', async () => {
    const count = 12;
    const { lo, hi, labels } = await boxes(spec, plan, count, 0.04, 43);
    const request = { lo, hi, labels, timeoutMs: 600_000, maxSplits: 3000, threads: 2 };
    const withLinear = await plan.verifyBoxes(request);
    const without = await plan.verifyBoxes({ ...request, linearBounds: false });
    const decided = (outcome: number) => outcome === VERIFY_OUTCOME.verified || outcome === VERIFY_OUTCOME.falsified;
    for (let b = 0; b < count; b++) {
      if (decided(withLinear.outcome[b]) && decided(without.outcome[b])) expect(withLinear.outcome[b], `box ${b}`).toBe(without.outcome[b]);
      else if (decided(without.outcome[b])) throw new Error(`box ${b}: decided in ${without.splits[b]} splits without the linear bounds, not with them`);
      else if (decided(withLinear.outcome[b])) gained++;
    }
    // A box proved by the linear bounds of the whole box is the branch and bound's, not the interval bounds'.
    const byBounds = (r: typeof without) => r.stage.filter((s) => s === VERIFY_STAGE.bounds).length;
    expect(byBounds(withLinear)).toBe(byBounds(without));
  });
});

test('the linear bounds decided boxes that the split cap left open without them', () => {
  expect(gained).toBeGreaterThan(0);
});

test('a network that is not a chain of layers keeps the interval bounds bit for bit', async () => {
  const spec = convNet([[8, 8], [8, 8], [8, 8]], 35);
  const plan = build(spec);
  const { lo, hi, labels } = await boxes(spec, plan, 20, 0.1, 44);
  const interval = await plan.intervalBounds(lo, hi, 20, 2, labels, { values: false });
  const linear = await plan.intervalBounds(lo, hi, 20, 2, labels, { values: false, linear: true });
  expect(Array.from(linear.marginLower)).toEqual(Array.from(interval.marginLower));
  expect(Array.from(linear.verified)).toEqual(Array.from(interval.verified));
});
