import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { FIXTURES, loadFixture, type FixtureName } from '../support/fixtures.js';
import { makeDataset, type Dataset } from '../../src/data/index.js';
import { calibrate, type Calibration } from '../../src/quant/calibrate.js';
import { IntPlan, intPlanSpec } from '../../src/engine/int-plan.js';
import { uniformPolicy, layerNames, type Policy } from '../../src/quant/policy.js';
import { setIsaCap, setLutDispatch, supportedIsas, ISA_LEVELS } from '../../src/native.js';
import type { LoadedModel } from '../../src/onnx/model.js';

function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

function syntheticData(model: LoadedModel, count: number, seed: number): Dataset {
  const shape = model.graph.input.shape;
  const next = random(seed);
  const images = Float32Array.from({ length: count * shape[0] * shape[1] * shape[2] }, () => next());
  return makeDataset({ name: 'synthetic', shape: [...shape] as [number, number, number], images, labels: new Int32Array(count) });
}

function mixedPolicy(model: LoadedModel, seed: number): Policy {
  const next = random(seed);
  const bits = () => 2 + Math.floor(next() * 7);
  return { format: 'arq-policy/1', model: model.sha256, layers: layerNames(model.graph).map((name) => ({ name, wbits: bits(), abits: bits() })) };
}

const cases = new Map<FixtureName, { model: LoadedModel; calibration: Calibration; images: Float32Array }>();
const MODELS: FixtureName[] = FIXTURES.filter((name) => name !== 'mnist_cnn_bn');

beforeAll(async () => {
  for (const name of MODELS) {
    const model = loadFixture(name);
    const data = syntheticData(model, 64, 1);
    const calibration = await calibrate(model.graph, data, { sigma: 0.25, count: 64, seed: 3 });
    cases.set(name, { model, calibration, images: syntheticData(model, 13, 2).images });
  }
});

afterAll(() => {
  setIsaCap('avx512vnni');
  setLutDispatch('measured');
});

describe('the integer engine equals the plain reference bit for bit', () => {
  const policies: [string, (m: LoadedModel) => Policy][] = [
    ['w8a8', (m) => uniformPolicy(m.graph, m.sha256, 8, 8)],
    ['w4a4', (m) => uniformPolicy(m.graph, m.sha256, 4, 4)],
    ['w2a8', (m) => uniformPolicy(m.graph, m.sha256, 2, 8)],
    ['mixed', (m) => mixedPolicy(m, 11)],
  ];
  for (const name of MODELS) {
    test.each(policies)(`${name} under %s`, async (_, makePolicy) => {
      const { model, calibration, images } = cases.get(name)!;
      const plan = IntPlan.build(model.graph, makePolicy(model), calibration);
      const reference = await plan.runReference(images, 13);
      expect(await plan.run(images, 13, 2)).toEqual(reference);
    });
  }
});

describe('results do not depend on the ISA, the thread count or the batch split', () => {
  test.for(ISA_LEVELS)('%s path', async (isa, { skip }) => {
    if (!supportedIsas().includes(isa)) skip(`${isa} is not supported by this CPU`);
    for (const name of ['resnet20', 'mobilenetv2', 'mnist_cnn'] as const) {
      const { model, calibration, images } = cases.get(name)!;
      const policy = mixedPolicy(model, 5);
      setIsaCap('scalar');
      const expected = await IntPlan.build(model.graph, policy, calibration).run(images, 13, 1);
      setIsaCap(isa);
      const plan = IntPlan.build(model.graph, policy, calibration);
      for (const threads of [1, 2, 3]) expect(await plan.run(images, 13, threads)).toEqual(expected);
      const size = images.length / 13;
      const single = await plan.run(images.subarray(4 * size, 5 * size), 1, 1);
      expect(single).toEqual(expected.subarray(40, 50));
    }
    setIsaCap('avx512vnni');
  });
});

/** Random widths of at most 4 bits (the lookup kernel's), about half the layers at 2 (W2A2, W4A2, W2A4 ...). */
function lowBitPolicy(model: LoadedModel, seed: number): Policy {
  const next = random(seed);
  const bits = () => (next() < 0.5 ? 2 : 2 + Math.floor(next() * 3));
  return { format: 'arq-policy/1', model: model.sha256, layers: layerNames(model.graph).map((name) => ({ name, wbits: bits(), abits: bits() })) };
}

describe('table-lookup layers (native/engine/lut_dispatch.h) equal the plain reference bit for bit', () => {
  // 'always' sends every layer the lookup kernel can run there (pointwise convs and gemms read directly, 3x3 convs
  // through row pointers, at every thread count and ISA level, the scalar lookup kernel included).
  const policies: [string, (m: LoadedModel) => Policy][] = [
    ['w2a2', (m) => uniformPolicy(m.graph, m.sha256, 2, 2)],
    ['w4a2', (m) => uniformPolicy(m.graph, m.sha256, 4, 2)],
    ['low-bit mixed', (m) => lowBitPolicy(m, 13)],
  ];
  // One test per ISA level and model: each stays well inside the timeout on a loaded machine (a timed-out test's
  // body runs on beside the next test, with its dispatch mode still set).
  const combos = ISA_LEVELS.flatMap((isa) => (['resnet20', 'mobilenetv2', 'mnist_cnn'] as const).map((name) => [isa, name] as const));
  test.for(combos)('%s path, %s', async ([isa, name], { skip }) => {
    if (!supportedIsas().includes(isa)) skip(`${isa} is not supported by this CPU`);
    const { model, calibration, images } = cases.get(name)!;
    try {
      setIsaCap(isa);
      for (const [label, makePolicy] of policies) {
        setLutDispatch('always');
        const plan = IntPlan.build(model.graph, makePolicy(model), calibration);
        expect(plan.kernels, `${name} ${label}`).toMatch(/lutgemm/);
        const reference = await plan.runReference(images, 13);
        for (const threads of [1, 2, 3]) expect(await plan.run(images, 13, threads), `${name} ${label} ${threads}`).toEqual(reference);
        const size = images.length / 13;
        expect(await plan.run(images.subarray(4 * size, 5 * size), 1, 1)).toEqual(reference.subarray(40, 50));
        setLutDispatch('never');
        const int8 = IntPlan.build(model.graph, makePolicy(model), calibration);
        expect(int8.kernels).not.toMatch(/lutgemm/);
        expect(await int8.run(images, 13, 2)).toEqual(reference);
      }
    } finally {
      setIsaCap('avx512vnni');
      setLutDispatch('measured');
    }
  });
});

describe('the measured lookup rule (native/engine/lut_dispatch.cc)', () => {
  test('W2A2 ResNet-20 takes lookup at avx2 only (its 32- and 64-channel convolutions), W8A8 never', ({ skip }) => {
    if (!supportedIsas().includes('avx2')) skip('avx2 is not supported by this CPU');
    const { model, calibration } = cases.get('resnet20')!;
    setLutDispatch('measured');
    const kernelsAt = (isa: (typeof ISA_LEVELS)[number], wbits: number, abits: number) => {
      setIsaCap(isa);
      return IntPlan.build(model.graph, uniformPolicy(model.graph, model.sha256, wbits, abits), calibration).kernels;
    };
    try {
      expect(kernelsAt('avx2', 2, 2)).toMatch(/lutgemm/);
      expect(kernelsAt('avx2', 8, 8)).not.toMatch(/lutgemm/);
      expect(kernelsAt('scalar', 2, 2)).not.toMatch(/lutgemm/);
      if (supportedIsas().includes('avx512vnni')) expect(kernelsAt('avx512vnni', 2, 2)).not.toMatch(/lutgemm/);
    } finally {
      setIsaCap('avx512vnni');
    }
  });

  test('setLutDispatch refuses other modes', () => {
    expect(() => setLutDispatch('sometimes' as 'always')).toThrow(RangeError);
  });
});

describe('policies and plans reject bad input', () => {
  test('a policy missing a layer is rejected naming it', async () => {
    const { model, calibration } = cases.get('tiny_mlp')!;
    const policy = uniformPolicy(model.graph, model.sha256, 8, 8);
    const partial = { ...policy, layers: policy.layers.slice(1) };
    expect(() => IntPlan.build(model.graph, partial, calibration)).toThrow(/no bit widths for layer/);
  });
});

describe('one plan, many runs', () => {
  test('concurrent runs of different batch sizes equal separate runs (workspaces are reused, never shared)', async () => {
    const { model, calibration, images } = cases.get('resnet20')!;
    const plan = IntPlan.build(model.graph, mixedPolicy(model, 7), calibration);
    const size = images.length / 13;
    const expected = await plan.run(images, 13, 2);
    const batches = [13, 1, 9, 13, 4, 2];
    const results = await Promise.all(batches.map((b) => plan.run(images.subarray(0, b * size), b, 2)));
    results.forEach((logits, i) => expect(logits).toEqual(expected.subarray(0, batches[i] * 10)));
  });

  test('profile() times every step: the input layout, each op, the logits', async () => {
    const { model, calibration, images } = cases.get('resnet20')!;
    const policy = uniformPolicy(model.graph, model.sha256, 8, 8);
    const ops = intPlanSpec(model.graph, policy, calibration).ops;
    const seconds = await IntPlan.build(model.graph, policy, calibration).profile(images, 13, 2);
    expect(seconds.length).toBe(ops.length + 2);
    expect(seconds.every((s) => s >= 0)).toBe(true);
    const convs = ops.flatMap((op, i) => (op.op === 'conv' ? [seconds[1 + i]] : []));
    expect(convs.every((s) => s > 0)).toBe(true);
  });
});
