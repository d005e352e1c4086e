// The complete verifier (native/verify/branch_bound.cc) against brute force: in small boxes of tiny networks every
// combination of first-layer input codes is enumerated (one float per code signature of each free pixel, so the
// enumeration covers every input of the box) and run through the engine. A verified box must hold no misclassified
// input, a falsified one must come with a counterexample inside the box that the engine misclassifies, and on these
// small boxes the verifier must always decide. Then the limits (split cap, cancellation, timeout), progress and the
// argument checks.
import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, test } from 'vitest';
import { addon, cancelFlag, VERIFY_OUTCOME, VERIFY_STAGE, type IntPlanSpec, type NativeIntPlan } from '../../src/native.js';
import { rng } from '../support/native.js';
import { chainNet, concatenated, convNet, denseNet, enumeratedBoxes, inputSize, predictions } from '../support/verify-nets.js';

const f = Math.fround;
const build = (spec: IntPlanSpec): NativeIntPlan => new (addon().IntPlan)(spec);

const nets: [string, IntPlanSpec][] = [
  ['dense w8a8 w8a8', denseNet([[8, 8], [8, 8]], 21)],
  ['dense w3a4 w8a2', denseNet([[3, 4], [8, 2]], 22)],
  ['dense w2a8 w5a6', denseNet([[2, 8], [5, 6]], 23)],
  ['conv w8a8 w8a8 w8a8', convNet([[8, 8], [8, 8], [8, 8]], 24)],
  ['conv w4a3 w2a8 w5a6', convNet([[4, 3], [2, 8], [5, 6]], 25)],
  ['conv w6a2 w7a5 w3a4', convNet([[6, 2], [7, 5], [3, 4]], 26)],
  // Chains of layers: the branch and bound adds the back-substituted bounds (linear_bounds.h) and their split rule.
  ['chain w8a8 w8a8 w8a8 w8a8', chainNet([[8, 8], [8, 8], [8, 8], [8, 8]], 27)],
  ['chain w4a6 w3a8 w5a8 w2a8', chainNet([[4, 6], [3, 8], [5, 8], [2, 8]], 28)],
];

const stages = new Map<number, number>();

describe.each(nets)('%s', (_, spec) => {
  // Without concrete points every falsification comes from a fully split part (a leaf) and its engine run.
  test.each([true, false])('verdicts agree with the engine on every code combination of small boxes (concrete points: %s)', async (concretePoints) => {
    const plan = build(spec);
    const n = inputSize(spec);
    // Three free pixels of half a code step to two steps, at most 600 code combinations per box.
    const boxes = await enumeratedBoxes(spec, plan, 10, n * 7 + spec.ops.length, { freePixels: 3, extraSteps: 1.5, codesPerPixel: 12, combinations: 600 });
    // Half the boxes ask for the centre's class (verified or falsified inside), half for the next class.
    const labels = boxes.map((b, i) => (i % 2 === 0 ? b.centreClass : (b.centreClass + 1) % plan.classes));
    const result = await plan.verifyBoxes({
      lo: concatenated(boxes.map((b) => b.lo)), hi: concatenated(boxes.map((b) => b.hi)), labels: Int32Array.from(labels), timeoutMs: 60_000, threads: 2, concretePoints,
    });
    for (let i = 0; i < boxes.length; i++) {
      const box = boxes[i];
      const predicted = predictions(await plan.run(box.points, box.count, 2), plan.classes);
      const wrong = predicted.some((p) => p !== labels[i]);
      const outcome = result.outcome[i];
      stages.set(result.stage[i], (stages.get(result.stage[i]) ?? 0) + 1);
      expect(outcome, `box ${i}: decided`).toBeOneOf([VERIFY_OUTCOME.verified, VERIFY_OUTCOME.falsified]);
      expect(outcome === VERIFY_OUTCOME.falsified, `box ${i}: falsified exactly when an input is misclassified (${box.count} combinations)`).toBe(wrong);
      const counterexample = result.counterexample.subarray(i * n, (i + 1) * n);
      if (outcome === VERIFY_OUTCOME.falsified) {
        counterexample.forEach((x, k) => expect(box.lo[k] <= x && x <= box.hi[k], `box ${i}: counterexample[${k}] inside`).toBe(true));
        const [p] = predictions(await plan.run(Float32Array.from(counterexample), 1, 1), plan.classes);
        expect(p, `box ${i}: the counterexample is misclassified`).not.toBe(labels[i]);
      } else {
        expect(counterexample.every(Number.isNaN)).toBe(true);
      }
    }
  });
});

test('the brute-force boxes were decided by each stage: concrete points, bounds alone, branch and bound', () => {
  for (const stage of [VERIFY_STAGE.points, VERIFY_STAGE.bounds, VERIFY_STAGE.branchAndBound]) expect(stages.get(stage) ?? 0, `stage ${stage}`).toBeGreaterThan(0);
});

describe('limits, progress and arguments', () => {
  const spec = convNet([[8, 8], [8, 8], [8, 8]], 24);
  const plan = build(spec);
  const n = inputSize(spec);

  /** A box that the verifier decides by branch and bound (so neither the concrete points nor the bounds alone decide it). */
  async function hardBox(): Promise<{ lo: Float32Array; hi: Float32Array; labels: Int32Array }> {
    const random = rng(31);
    for (let attempt = 0; attempt < 200; attempt++) {
      const image = Float32Array.from({ length: n }, () => f(random()));
      const lo = Float32Array.from(image), hi = Float32Array.from(image);
      for (let k = 0; k < 6; k++) {
        const p = Math.floor(random() * n);
        lo[p] = f(Math.max(0, image[p] - 0.02));
        hi[p] = f(Math.min(1, image[p] + 0.02));
      }
      const labels = Int32Array.from(predictions(await plan.run(image, 1, 1), plan.classes));
      const result = await plan.verifyBoxes({ lo, hi, labels, timeoutMs: 5000, threads: 1 });
      if (result.stage[0] === VERIFY_STAGE.branchAndBound) return { lo, hi, labels };
    }
    throw new Error('no box needing branch and bound found');
  }

  test('a split cap, a cancelled flag and a timeout leave an undecided box undecided, each with its outcome', async () => {
    const box = await hardBox();
    expect((await plan.verifyBoxes({ ...box, timeoutMs: 60_000, maxSplits: 0, threads: 1 })).outcome[0]).toBe(VERIFY_OUTCOME.splitLimit);
    const cancel = cancelFlag();
    cancel.cancel();
    expect((await plan.verifyBoxes({ ...box, timeoutMs: 60_000, cancel, threads: 1 })).outcome[0]).toBe(VERIFY_OUTCOME.cancelled);
    const late = await plan.verifyBoxes({ ...box, timeoutMs: 1e-9, threads: 1 });
    expect([late.outcome[0], late.stage[0]]).toEqual([VERIFY_OUTCOME.timeout, VERIFY_STAGE.none]);
  });

  test('a label the centre does not get is falsified by the centre itself', async () => {
    const image = Float32Array.from({ length: n }, (_, i) => f((i % 7) / 7));
    const [centre] = predictions(await plan.run(image, 1, 1), plan.classes);
    const result = await plan.verifyBoxes({ lo: image, hi: image, labels: Int32Array.of((centre + 1) % plan.classes), timeoutMs: 1000, threads: 1 });
    expect([result.outcome[0], result.stage[0], result.splits[0]]).toEqual([VERIFY_OUTCOME.falsified, VERIFY_STAGE.points, 0]);
    expect(result.counterexample).toEqual(image);
  });

  test('progress reports every finished box', async () => {
    const boxes = 5;
    const lo = new Float32Array(boxes * n).fill(0.25), hi = new Float32Array(boxes * n).fill(0.3);
    const seen: number[] = [];
    await plan.verifyBoxes({ lo, hi, labels: new Int32Array(boxes), timeoutMs: 1000, threads: 2, onProgress: (done) => seen.push(done) });
    for (let turn = 0; turn < 10 && seen.length < boxes; turn++) await nextTurn();
    expect(seen.sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5]);
  });

  test('bad arguments are rejected naming them', () => {
    const x = new Float32Array(n).fill(0.5);
    const base = { lo: x, hi: x, labels: Int32Array.of(0), timeoutMs: 100, threads: 1 };
    const upside = Float32Array.from(x);
    upside[3] = 0.4;
    expect(() => plan.verifyBoxes({ ...base, hi: upside })).toThrow(/box 0 element 3 needs 0 <= lo <= hi <= 1/);
    expect(() => plan.verifyBoxes({ ...base, lo: new Float32Array(n).fill(-0.1) })).toThrow(RangeError);
    expect(() => plan.verifyBoxes({ ...base, labels: Int32Array.of(9) })).toThrow(/labels\[0\] must be in \[0, 4\)/);
    expect(() => plan.verifyBoxes({ ...base, timeoutMs: 0 })).toThrow(/timeoutMs/);
    expect(() => plan.verifyBoxes({ ...base, lo: new Float32Array(3) })).toThrow(/lo must have 16 elements/);
    expect(() => plan.verifyBoxes({ ...base, cancel: {} as never })).toThrow(TypeError);
    expect(() => plan.verifyBoxes({ ...base, onProgress: 3 as never })).toThrow(/onProgress must be a function/);
    expect(() => plan.verifyBoxes({ ...base, concretePoints: 1 as never })).toThrow(/concretePoints must be a boolean/);
    expect(() => plan.intervalBounds(x, x, 2, 1)).toThrow(/lo must have 32 elements/);
    expect(() => plan.intervalBounds(x, x, 1, 1, Int32Array.of(-1))).toThrow(/labels\[0\]/);
  });
});
