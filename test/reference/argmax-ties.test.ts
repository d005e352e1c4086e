// quantization.md: "Argmax ties go to the lowest class index", in the native sampling loop of both plans (the
// counts CERTIFY and PREDICT are built from) and in the recorded per-sample predictions.
import { expect, test } from 'vitest';
import { addon, type FloatPlanSpec, type IntPlanSpec } from '../../src/native.js';

// Zero weights: whatever the noise, the logits are the biases [1, 3, 3, 2]: classes 1 and 2 tie at the top.
const bias = Float32Array.from([1, 3, 3, 2]);
const floatSpec: FloatPlanSpec = { input: [2, 1, 1], values: 2, output: 1, ops: [{ op: 'gemm', inputs: [0], output: 1, weight: new Float32Array(8), bias, outFeatures: 4 }] };
const intSpec: IntPlanSpec = {
  input: [2, 1, 1], values: 2, output: 1, grids: [null, null],
  ops: [{ op: 'gemm', inputs: [0], output: 1, weight: new Int8Array(8), wbits: 4, weightScales: new Float32Array(4).fill(0.5), bias, outFeatures: 4, inputGrid: { scale: 0.1, zero: 3, bits: 4 } }],
};

test.each([
  ['float', () => new (addon().FloatPlan)(floatSpec)],
  ['int', () => new (addon().IntPlan)(intSpec)],
] as const)('%s plan: tied top logits count for the lowest class', async (_, build) => {
  const plan = build();
  const request = { image: Float32Array.from([0.2, 0.7]), sigma: 0.5, seedHi: 0, seedLo: 9, imageIndex: 3, firstSample: 0, count: 50, batch: 16, threads: 2, record: true };
  const { counts, predictions } = await plan.sample(request);
  expect(Array.from(counts)).toEqual([0, 50, 0, 0]);
  expect(new Set(predictions)).toEqual(new Set([1]));
});
