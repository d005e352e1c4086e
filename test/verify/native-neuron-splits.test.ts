// The branch and bound over hidden neurons and the optimised relaxation slopes (native/verify/linear_bounds.cc,
// branch_bound.cc; docs/verify.md), on chains of layers: brute-force enumeration of every first-layer code
// combination of boxes with several free pixels agrees with the verdicts (no box proved that holds another class,
// every falsification a real one, found at a leaf); the optimised margins hold at random points and corners and are
// raised far more often than lowered; and the verifier with hidden-neuron splits and slopes agrees with the one without
// wherever both decide within a split cap.
import { describe, expect, test } from 'vitest';
import { addon, VERIFY_OUTCOME, type IntPlanSpec, type NativeIntPlan } from '../../src/native.js';
import { rng } from '../support/native.js';
import { chainNet, concatenated, enumeratedBoxes, inputSize, predictions, randomBoxes } from '../support/verify-nets.js';

const f = Math.fround;
const build = (spec: IntPlanSpec): NativeIntPlan => new (addon().IntPlan)(spec);

// First layers of few bits, so that boxes wide enough to leave hidden neurons open hold few codes per pixel.
const chains: [string, IntPlanSpec][] = [
  ['chain w8a4 w8a8 w8a8 w8a8', chainNet([[8, 4], [8, 8], [8, 8], [8, 8]], 51)],
  ['chain w4a3 w3a8 w5a8 w2a8', chainNet([[4, 3], [3, 8], [5, 8], [2, 8]], 52)],
  ['chain w6a4 w8a8 w2a8 w8a8', chainNet([[6, 4], [8, 8], [2, 8], [8, 8]], 53)],
];

let neuronSplits = 0;  // over every brute-force box
let raised = 0, lowered = 0;  // margins the optimised slopes raised and lowered, over every chain

describe.each(chains)('%s', (_, spec) => {
  const plan = build(spec);
  const classes = plan.classes;
  const n = inputSize(spec);

  test('verdicts with hidden-neuron splits and optimised slopes agree with every code combination of the box', async () => {
    const boxes = await enumeratedBoxes(spec, plan, 8, spec.ops.length * 11 + n, { freePixels: 6, extraSteps: 2.5, codesPerPixel: 6, combinations: 3000 });
    // Without concrete points every falsification comes from a leaf and its engine run.
    const result = await plan.verifyBoxes({
      lo: concatenated(boxes.map((b) => b.lo)), hi: concatenated(boxes.map((b) => b.hi)), labels: Int32Array.from(boxes, (b) => b.centreClass),
      timeoutMs: 60_000, threads: 2, concretePoints: false, neuronSplitDepth: 6, slopeSteps: 2,
    });
    for (let i = 0; i < boxes.length; i++) {
      const box = boxes[i];
      const logits = await plan.run(box.points, box.count, 2);
      const wrong = predictions(logits, classes).some((p) => p !== box.centreClass);
      expect(result.outcome[i], `box ${i}: decided`).toBeOneOf([VERIFY_OUTCOME.verified, VERIFY_OUTCOME.falsified]);
      expect(result.outcome[i] === VERIFY_OUTCOME.falsified, `box ${i}: falsified exactly when one of ${box.count} inputs is misclassified`).toBe(wrong);
      expect(result.neuronSplits[i]).toBeLessThanOrEqual(result.splits[i]);
      neuronSplits += result.neuronSplits[i];
      if (result.outcome[i] === VERIFY_OUTCOME.falsified) {
        const x = result.counterexample.slice(i * n, (i + 1) * n);
        x.forEach((v, k) => expect(box.lo[k] <= v && v <= box.hi[k], `box ${i}: counterexample[${k}] inside`).toBe(true));
        expect(predictions(await plan.run(x, 1, 1), classes)[0], `box ${i}: the counterexample is misclassified`).not.toBe(box.centreClass);
      }
    }
  });

  test('optimised slopes: margins below the engine at random points and corners, raised far more often than lowered', async () => {
    const count = 60;
    const random = rng(61);
    const { lo, hi } = randomBoxes(spec, count, 0.12, random);
    const centres = await plan.run(Float32Array.from(lo, (a, i) => f(a + (hi[i] - a) / 2)), count, 1);
    const labels = Int32Array.from(predictions(centres, classes));
    const plain = await plan.intervalBounds(lo, hi, count, 2, labels, { values: false, linear: true });
    const optimised = await plan.intervalBounds(lo, hi, count, 2, labels, { values: false, linear: true, slopeSteps: 4 });
    for (let b = 0; b < count; b++) {
      const points: Float32Array[] = [lo.slice(b * n, (b + 1) * n), hi.slice(b * n, (b + 1) * n)];
      for (let k = 0; k < 30; k++) {
        const corner = k % 2 === 0;
        points.push(Float32Array.from({ length: n }, (_, i) => {
          const a = lo[b * n + i], c = hi[b * n + i];
          return corner ? (random() < 0.5 ? a : c) : Math.min(c, Math.max(a, f(a + random() * (c - a))));
        }));
      }
      const logits = await plan.run(concatenated(points), points.length, 1);
      const y = labels[b];
      for (let j = 0; j < classes; j++) {
        if (j === y) continue;
        // Not monotone: the tightened hidden accumulators (with optimised slopes too) change the default lines.
        const bound = optimised.marginLower[b * classes + j], before = plain.marginLower[b * classes + j];
        if (bound > before) raised++;
        if (bound < before) lowered++;
        for (let p = 0; p < points.length; p++) {
          expect(bound, `box ${b}, class ${j}, point ${p}`).toBeLessThanOrEqual(logits[p * classes + y] - logits[p * classes + j]);
        }
      }
      if (optimised.verified[b] === 1) {
        predictions(logits, classes).forEach((p, k) => expect(p, `box ${b}, point ${k}`).toBe(y));
      }
    }
  });

  test('the branch and bound with neuron splits and slopes agrees with the one without them under a split cap', async () => {
    const count = 12;
    const random = rng(71);
    const { lo, hi } = randomBoxes(spec, count, 0.05, random);
    const centres = await plan.run(Float32Array.from(lo, (a, i) => f(a + (hi[i] - a) / 2)), count, 1);
    const labels = Int32Array.from(predictions(centres, classes), (c, b) => (b % 3 === 2 ? (c + 1) % classes : c));
    const request = { lo, hi, labels, timeoutMs: 600_000, maxSplits: 3000, threads: 2 };
    const on = await plan.verifyBoxes({ ...request, neuronSplitDepth: 6, slopeSteps: 2 });
    const off = await plan.verifyBoxes({ ...request, neuronSplitDepth: 0, slopeSteps: 0 });
    const decided = (outcome: number) => outcome === VERIFY_OUTCOME.verified || outcome === VERIFY_OUTCOME.falsified;
    let both = 0;
    for (let b = 0; b < count; b++) {
      if (decided(on.outcome[b]) && decided(off.outcome[b])) {
        both++;
        expect(on.outcome[b], `box ${b}`).toBe(off.outcome[b]);
      }
      if (off.outcome[b] === VERIFY_OUTCOME.falsified) expect(on.outcome[b], `box ${b}: a real counterexample exists`).not.toBe(VERIFY_OUTCOME.verified);
      if (on.outcome[b] === VERIFY_OUTCOME.falsified) expect(off.outcome[b], `box ${b}: a real counterexample exists`).not.toBe(VERIFY_OUTCOME.verified);
    }
    expect(both).toBeGreaterThan(0);
    expect(Array.from(off.neuronSplits).every((s) => s === 0)).toBe(true);
  });
});

test('the brute-force boxes made hidden-neuron splits, and the optimised slopes raised margins', () => {
  expect(neuronSplits).toBeGreaterThan(0);
  expect(raised).toBeGreaterThan(4 * lowered);
});
