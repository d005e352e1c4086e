// The branch and bound's search order and falsifier on chains of layers (native/verify/branch_bound.cc;
// docs/verify.md): a part its linear bounds leave open runs the corner of the box where its worst margin's bound is
// attained through the engine, and a pixel split examines first the half holding that corner. Before any split
// (maxSplits: 0) that corner falsifies boxes whose centre and extreme corners are classified as the label, always with
// an input inside the box that the engine misclassifies; and the order of the halves changes no verdict (both are
// examined: the brute force of native-verifier.test.ts and native-neuron-splits.test.ts runs on the same verifier).
import { describe, expect, test } from 'vitest';
import { addon, VERIFY_OUTCOME, VERIFY_STAGE, type IntPlanSpec, type NativeIntPlan } from '../../src/native.js';
import { rng } from '../support/native.js';
import { chainNet, inputSize, predictions, randomBoxes } from '../support/verify-nets.js';

const f = Math.fround;
const build = (spec: IntPlanSpec): NativeIntPlan => new (addon().IntPlan)(spec);

const chains: [string, IntPlanSpec][] = [
  ['chain w8a8 w8a8 w8a8 w8a8', chainNet([[8, 8], [8, 8], [8, 8], [8, 8]], 81)],
  ['chain w4a6 w3a8 w5a8 w2a8', chainNet([[4, 6], [3, 8], [5, 8], [2, 8]], 82)],
  ['chain w6a3 w8a8 w2a8 w8a8', chainNet([[6, 3], [8, 8], [2, 8], [8, 8]], 83)],
];

let byCorner = 0;  // boxes falsified by the corner before any split, over every chain
let provedWithSplits = 0;  // boxes proved after splits in both orders, over every chain

describe.each(chains)('%s', (_, spec) => {
  const plan = build(spec);
  const classes = plan.classes;
  const n = inputSize(spec);

  test('the worst margin\'s corner falsifies boxes before any split, with an input of the box the engine misclassifies', async () => {
    const count = 40;
    const random = rng(91);
    const { lo, hi } = randomBoxes(spec, count, 0.15, random);
    const centres = await plan.run(Float32Array.from(lo, (a, i) => f(a + (hi[i] - a) / 2)), count, 1);
    const labels = Int32Array.from(predictions(centres, classes));
    const result = await plan.verifyBoxes({ lo, hi, labels, timeoutMs: 600_000, maxSplits: 0, threads: 2 });
    for (let b = 0; b < count; b++) {
      if (result.outcome[b] !== VERIFY_OUTCOME.falsified || result.stage[b] !== VERIFY_STAGE.branchAndBound) continue;
      // Not the centre or an extreme corner (the concrete points' stage), and no split made.
      expect(result.splits[b], `box ${b}`).toBe(0);
      byCorner++;
      const x = result.counterexample.slice(b * n, (b + 1) * n);
      x.forEach((v, k) => expect(lo[b * n + k] <= v && v <= hi[b * n + k], `box ${b}: counterexample[${k}] inside`).toBe(true));
      expect(predictions(await plan.run(x, 1, 1), classes)[0], `box ${b}: the counterexample is misclassified`).not.toBe(labels[b]);
    }
    // Without concrete points nothing is falsified before a split (every falsification comes from a leaf).
    const quiet = await plan.verifyBoxes({ lo, hi, labels, timeoutMs: 600_000, maxSplits: 0, threads: 2, concretePoints: false });
    for (let b = 0; b < count; b++) expect(quiet.outcome[b], `box ${b}`).not.toBe(VERIFY_OUTCOME.falsified);
  });

  test('the order of the halves changes no verdict, and a proof makes the same splits in either order', async () => {
    const count = 12;
    const random = rng(93);
    const { lo, hi } = randomBoxes(spec, count, 0.05, random);
    const centres = await plan.run(Float32Array.from(lo, (a, i) => f(a + (hi[i] - a) / 2)), count, 1);
    const labels = Int32Array.from(predictions(centres, classes));
    const request = { lo, hi, labels, timeoutMs: 600_000, maxSplits: 3000, threads: 2 };
    const cornerFirst = await plan.verifyBoxes(request);
    const lowerFirst = await plan.verifyBoxes({ ...request, cornerFirst: false });
    for (let b = 0; b < count; b++) {
      const decided = [cornerFirst, lowerFirst].map((r) => r.outcome[b] === VERIFY_OUTCOME.verified || r.outcome[b] === VERIFY_OUTCOME.falsified);
      if (decided[0] && decided[1]) expect(cornerFirst.outcome[b], `box ${b}`).toBe(lowerFirst.outcome[b]);
      if (cornerFirst.outcome[b] === VERIFY_OUTCOME.verified) {
        expect(lowerFirst.outcome[b], `box ${b}`).not.toBe(VERIFY_OUTCOME.falsified);
        if (lowerFirst.outcome[b] === VERIFY_OUTCOME.verified) {
          provedWithSplits += cornerFirst.splits[b] > 0 ? 1 : 0;
          expect(cornerFirst.splits[b], `box ${b}: the same proof`).toBe(lowerFirst.splits[b]);
        }
      }
    }
  });
});

test('boxes proved with splits in both orders', () => {
  expect(provedWithSplits).toBeGreaterThan(0);
});

test('the corner falsified boxes that the centre and the extreme corners did not', () => {
  expect(byCorner).toBeGreaterThan(0);
});
