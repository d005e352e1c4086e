import { afterAll, describe, expect, test } from 'vitest';
import { FIXTURES, fixtureArrays, loadFixture, relativeMaxDiff } from '../support/fixtures.js';
import { createClassifier } from '../../src/engine/classifier.js';
import { FloatPlan } from '../../src/engine/float-plan.js';
import { floatPlanSpec } from '../../src/graph/lower.js';
import { addon, setIsaCap, supportedIsas, ISA_LEVELS } from '../../src/native.js';

function randomImages(count: number, size: number, seed: number): Float32Array {
  let state = seed >>> 0;
  const next = () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  return Float32Array.from({ length: count * size }, () => next() + 0.25 * (next() - 0.5));
}

afterAll(() => setIsaCap('avx512vnni'));

describe('native fp32 plan against ONNX Runtime and PyTorch', () => {
  test.each(FIXTURES)('%s: ONNX Runtime reproduces the PyTorch logits', async (name) => {
    const model = loadFixture(name);
    const { input, batch, logits } = fixtureArrays(name);
    const ort = await createClassifier(model, 'ort', { threads: 1 });
    expect(relativeMaxDiff(await ort.logits(input, batch), logits)).toBeLessThan(1e-4);
    await ort.close();
  });

  test.each(FIXTURES)('%s: native fp32 matches ONNX Runtime on 37 noisy images', async (name) => {
    const model = loadFixture(name);
    const size = model.graph.input.shape.reduce((a, b) => a * b, 1);
    const images = randomImages(37, size, 7);
    const ort = await createClassifier(model, 'ort', { threads: 2 });
    const native = await createClassifier(model, 'float', { threads: 2 });
    const expected = await ort.logits(images, 37);
    expect(relativeMaxDiff(await native.logits(images, 37), expected)).toBeLessThan(1e-4);
    const { input, batch, logits } = fixtureArrays(name);
    expect(relativeMaxDiff(await native.logits(input, batch), logits)).toBeLessThan(1e-4);
    await ort.close();
  });

  test.for(ISA_LEVELS)('every compiled ISA path (%s) agrees with ONNX Runtime', async (isa, { skip }) => {
    if (!supportedIsas().includes(isa)) skip(`${isa} is not supported by this CPU`);
    setIsaCap(isa);
    for (const name of ['resnet20', 'mobilenetv2'] as const) {
      const model = loadFixture(name);
      const { input, batch } = fixtureArrays(name);
      const plan = FloatPlan.build(model.graph);
      expect(plan.kernels).toContain(isa === 'avx512vnni' ? 'avx512' : isa);
      const ort = await createClassifier(model, 'ort', { threads: 1 });
      expect(relativeMaxDiff(await plan.run(input, batch, 1), await ort.logits(input, batch))).toBeLessThan(1e-4);
      await ort.close();
    }
    setIsaCap('avx512vnni');
  });
});

describe('determinism', () => {
  test('results are bit-identical whatever the thread count and batch split', async () => {
    const model = loadFixture('mobilenetv2');
    const plan = FloatPlan.build(model.graph);
    const images = randomImages(19, 3 * 32 * 32, 3);
    const reference = await plan.run(images, 19, 1);
    for (const threads of [2, 3, 5]) expect(await plan.run(images, 19, threads)).toEqual(reference);
    const one = await plan.run(images.subarray(5 * 3072, 6 * 3072), 1, 1);
    expect(one).toEqual(reference.subarray(50, 60));
  });

  test('runs never block the event loop: timers fire while a batch computes', async () => {
    const plan = FloatPlan.build(loadFixture('resnet20').graph);
    const images = randomImages(256, 3 * 32 * 32, 5);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    await plan.run(images, 256, 1);
    clearInterval(timer);
    expect(ticks).toBeGreaterThan(2);
  });
});

describe('native validation: bad plans and arguments throw instead of crashing', () => {
  const { FloatPlan: Native } = addon();
  const good = () => floatPlanSpec(loadFixture('tiny_mlp').graph);

  test('the graph spec of a real model builds', () => {
    expect(new Native(good()).classes).toBe(10);
  });

  test.each([
    ['a weight of the wrong length', (s: ReturnType<typeof good>) => { (s.ops[1] as { weight: Float32Array }).weight = new Float32Array(3); }, /weight size mismatch/],
    ['an input used before it is computed', (s: ReturnType<typeof good>) => { s.ops[0].inputs = [s.ops[1].output]; }, /not defined yet/],
    ['an unknown op', (s: ReturnType<typeof good>) => { (s.ops[0] as { op: string }).op = 'softmax'; }, /unknown op 'softmax'/],
    ['a negative pad', (s: ReturnType<typeof good>) => { s.ops.unshift({ op: 'pad', inputs: [0], output: 9, pads: [-1, 0, 0, 0], value: 0 }); s.values = 10; }, /pads/],
    ['a non-array inputs field', (s: ReturnType<typeof good>) => { (s.ops[0] as unknown as { inputs: string }).inputs = 'x'; }, /inputs must be an array/],
    ['a fractional output index', (s: ReturnType<typeof good>) => { s.ops[0].output = 1.5; }, /must be an integer/],
  ])('%s', (_, mutate, message) => {
    const spec = good();
    mutate(spec);
    expect(() => new Native(spec)).toThrow(message);
  });

  test('run() rejects wrong input lengths, batch sizes and thread counts', () => {
    const plan = new Native(good());
    expect(() => plan.run(new Float32Array(10), 1, 1)).toThrow(/input must have 64 elements/);
    expect(() => plan.run(new Float32Array(64), 0, 1)).toThrow(/batch must be in/);
    expect(() => plan.run(new Float32Array(64), 1, 0)).toThrow(/threads must be in/);
    expect(() => plan.run([1, 2, 3] as unknown as Float32Array, 1, 1)).toThrow(/Float32Array/);
    expect(() => new Native(undefined as never)).toThrow(TypeError);
  });
});
