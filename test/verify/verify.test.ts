import { beforeAll, describe, expect, test } from 'vitest';
import { makeDataset, type Dataset } from '../../src/data/index.js';
import { argmax } from '../../src/engine/classifier.js';
import type { LoadedModel } from '../../src/onnx/model.js';
import { calibrate, type Calibration } from '../../src/quant/calibrate.js';
import { IntPlan } from '../../src/engine/int-plan.js';
import { layerNames, uniformPolicy, type Policy } from '../../src/quant/policy.js';
import { QatNet } from '../../src/train/qat.js';
import { Random } from '../../src/util/random.js';
import { attack, targetOrder } from '../../src/verify/attack.js';
import { boxOf, insideBox } from '../../src/verify/box.js';
import { parseEpsilons } from '../../src/verify/eps.js';
import { verify, type ImageVerification, type VerifyRunResult } from '../../src/verify/verify.js';
import { loadFixture } from '../support/fixtures.js';

const EPS = ['0', '1/255', '0.02', '0.25'];
const COUNT = 10;
let model: LoadedModel;
let calibration: Calibration;
let policy: Policy;
let plan: IntPlan;
let data: Dataset;
let run: VerifyRunResult;
const progress: [number, number][] = [];

/** The tiny MLP (8x8 input) under a mixed 2..8-bit policy; labels are the plan's own classes but for images 3 and 7. */
beforeAll(async () => {
  model = loadFixture('tiny_mlp');
  const random = Random.fromSeed(5);
  const images = Float32Array.from({ length: 64 * 64 }, () => random.uniform());
  calibration = await calibrate(model.graph, makeDataset({ name: 'calibration', shape: [1, 8, 8], images, labels: new Int32Array(64), classes: 10 }), { sigma: 0, count: 64, seed: 0, threads: 2 });
  const names = layerNames(model.graph);
  policy = { ...uniformPolicy(model.graph, model.sha256, 8, 8), layers: names.map((name, i) => ({ name, wbits: [4, 6][i % 2], abits: [5, 3][i % 2] })) };
  plan = IntPlan.build(model.graph, policy, calibration);
  const test = images.slice(0, COUNT * 64);
  const classes = argmax(await plan.run(test, COUNT, 2), plan.classes);
  const labels = Int32Array.from(classes, (c, k) => (k === 3 || k === 7 ? (c + 1) % plan.classes : c));
  data = makeDataset({ name: 'synthetic', shape: [1, 8, 8], images: test, labels, classes: plan.classes });
  run = await verify({ model, quantization: { policy, calibration }, dataset: data, eps: EPS, timeout: 1, threads: 2, seed: 3, onImage: (done, total) => progress.push([done, total]) });
});

const cases = () => run.images.flatMap((image) => image.results.map((result, j) => ({ image, result, j })));

describe('verify() on the integer plan', () => {
  test('reports every image in order, with progress', () => {
    expect(run.images.map((i) => i.idx)).toEqual([...Array(COUNT).keys()]);
    expect(progress).toEqual(Array.from({ length: COUNT }, (_, k) => [k + 1, COUNT]));
    expect(run.settings).toMatchObject({ eps: EPS, timeout: 1, seed: 3, network: 'integer plan' });
  });

  test('a misclassified clean image is falsified at every radius by the image itself', () => {
    for (const k of [3, 7]) {
      const image = run.images[k];
      expect(image.prediction).not.toBe(image.label);
      for (const result of image.results) {
        expect(result).toMatchObject({ outcome: 'falsified', stage: 'clean' });
        expect(result.counterexample!.image).toEqual(data.images.subarray(k * 64, (k + 1) * 64));
      }
    }
  });

  // Radii grow along EPS, and so do the boxes: a falsified radius falsifies every larger one (timeouts may fall
  // anywhere, as they depend on the machine's speed).
  test('radius 0 verifies every correctly classified image; no radius is verified above a falsified one', () => {
    for (const image of run.images) {
      if (image.prediction !== image.label) continue;
      expect(image.results[0]).toMatchObject({ outcome: 'verified', stage: 'ibp' });
      const outcomes = image.results.map((r) => r.outcome);
      const firstFalsified = outcomes.indexOf('falsified');
      if (firstFalsified >= 0) expect(outcomes.slice(firstFalsified).every((o) => o === 'falsified'), `image ${image.idx}: ${outcomes.join(' ')}`).toBe(true);
    }
    // Both verdicts beyond radius 0, and each of IBP, the attack and a smaller radius's counterexample decides some.
    const stages = new Set(cases().filter(({ j }) => j > 0).map(({ result }) => `${result.outcome}/${result.stage}`));
    for (const decided of ['verified/ibp', 'falsified/attack', 'falsified/nested']) expect(stages.has(decided), decided).toBe(true);
  });

  test('every counterexample lies in its box and reproduces on the plan', async () => {
    for (const { image, result, j } of cases()) {
      if (result.outcome !== 'falsified') continue;
      const clean = data.images.subarray(image.idx * 64, (image.idx + 1) * 64);
      const x = result.counterexample!.image;
      expect(insideBox(boxOf(clean, parseEpsilons(EPS)[j].value), x)).toBe(true);
      const again = argmax(await plan.run(x, 1, 1), plan.classes)[0];
      expect(again).not.toBe(image.label);
      expect(again).toBe(result.counterexample!.prediction);
    }
  });

  // Soundness at the API level: on every verified box a stronger attack (more restarts and steps, every target
  // class) and random points and corners of the box all keep the label on the plan.
  test('no attack and no sampled point succeeds on a verified box', async () => {
    const surrogate = QatNet.build(model.graph, policy, calibration);
    const eps = parseEpsilons(EPS);
    let boxes = 0;
    for (const { image, result, j } of cases()) {
      if (result.outcome !== 'verified' || eps[j].value === 0) continue;
      boxes++;
      const clean = data.images.subarray(image.idx * 64, (image.idx + 1) * 64);
      const box = boxOf(clean, eps[j].value);
      const logits = await plan.run(clean, 1, 1);
      const strong = await attack(surrogate, plan, clean, image.label, targetOrder(logits, image.label), box, {
        restarts: 9, steps: 60, eps: eps[j].value, seed: 77 + image.idx, threads: 2,
      });
      expect(strong.counterexample, `image ${image.idx} at ${eps[j].text}`).toBeNull();
      await expectLabelEverywhere(box, image, 400, image.idx);
    }
    expect(boxes).toBeGreaterThanOrEqual(3);
  });

  test('bad options are refused with the option named', async () => {
    const base = { model, quantization: { policy, calibration }, dataset: data };
    await expect(verify({ ...base, eps: '1/255,2' })).rejects.toThrow(/eps: expected a radius in \[0, 1\]/);
    await expect(verify({ ...base, eps: '1/255,1/255' })).rejects.toThrow(/1\/255 is given twice/);
    await expect(verify({ ...base, eps: [0.1], timeout: 0 })).rejects.toThrow(/timeout: expected a number in \(0/);
    await expect(verify({ ...base, eps: [0.1], max: 0 })).rejects.toThrow(/max: expected an integer/);
    const outside = data.images.slice(0, 64);
    outside[5] = 1.25;
    const bad = makeDataset({ name: 'outside', shape: [1, 8, 8], images: outside, labels: data.labels.slice(0, 1), classes: data.classes });
    await expect(verify({ ...base, dataset: bad, eps: [0.1] })).rejects.toThrow(/^image 0: pixel 5 is 1.25: verification needs images in \[0, 1\]$/);
  });

  test('an aborted run rejects with the signal\'s reason', async () => {
    const controller = new AbortController();
    const stopped = verify({
      model, quantization: { policy, calibration }, dataset: data, eps: ['0.02'], threads: 1, timeout: 2, signal: controller.signal,
      onImage: () => controller.abort(new Error('stop here')),
    });
    await expect(stopped).rejects.toThrow('stop here');
  });
});

describe('verify() on a convolutional plan (channel repeat, normalisation, conv, pad, max pool)', () => {
  test('boxes it verifies withstand a strong attack and random points and corners', async () => {
    const grey = loadFixture('grey_repeat');
    const random = Random.fromSeed(5);
    const images = Float32Array.from({ length: 16 * 784 }, () => random.uniform());
    const greyCalibration = await calibrate(grey.graph, makeDataset({ name: 'calibration', shape: [1, 28, 28], images, labels: new Int32Array(16), classes: 10 }), { sigma: 0, count: 16, seed: 0, threads: 2 });
    const greyPolicy = uniformPolicy(grey.graph, grey.sha256, 4, 4);
    const greyPlan = IntPlan.build(grey.graph, greyPolicy, greyCalibration);
    const test = images.slice(0, 4 * 784);
    const labels = argmax(await greyPlan.run(test, 4, 2), greyPlan.classes);
    const dataset = makeDataset({ name: 'synthetic', shape: [1, 28, 28], images: test, labels, classes: greyPlan.classes });
    const result = await verify({ model: grey, quantization: { policy: greyPolicy, calibration: greyCalibration }, dataset, eps: ['1/1000'], timeout: 1, threads: 2 });
    const surrogate = QatNet.build(grey.graph, greyPolicy, greyCalibration);
    let boxes = 0;
    for (const image of result.images) {
      if (image.results[0].outcome !== 'verified') continue;
      boxes++;
      const clean = test.subarray(image.idx * 784, (image.idx + 1) * 784);
      const box = boxOf(clean, 1 / 1000);
      const logits = await greyPlan.run(clean, 1, 1);
      const strong = await attack(surrogate, greyPlan, clean, image.label, targetOrder(logits, image.label), box, { restarts: 6, steps: 30, eps: 1 / 1000, seed: 5, threads: 2 });
      expect(strong.counterexample, `image ${image.idx}`).toBeNull();
      await expectLabelEverywhere(box, image, 200, image.idx, greyPlan);
    }
    expect(boxes).toBeGreaterThanOrEqual(2);
  });
});

/** `count` random points and corners of the box, all run through the plan: every one must be classified as the label. */
async function expectLabelEverywhere(box: ReturnType<typeof boxOf>, image: ImageVerification, count: number, seed: number, on = plan): Promise<void> {
  const random = Random.fromSeed(seed, 1);
  const size = box.lo.length;
  const points = new Float32Array(count * size);
  for (let p = 0; p < count; p++) {
    for (let i = 0; i < size; i++) {
      const u = random.uniform();
      points[p * size + i] = p % 2 === 0 ? (u < 0.5 ? box.lo[i] : box.hi[i]) : Math.min(box.hi[i], Math.max(box.lo[i], Math.fround(box.lo[i] + u * (box.hi[i] - box.lo[i]))));
    }
  }
  const classes = argmax(await on.run(points, count, 2), on.classes);
  expect(classes.every((c) => c === image.label), `image ${image.idx}`).toBe(true);
}
