import { describe, expect, test } from 'vitest';
import { graphTensors, withTensors, type TrainGraph } from '../../src/train/graph.js';
import { TrainNet } from '../../src/train/native-net.js';
import { addon } from '../../src/native.js';
import { trainNetSpec } from '../../src/train/native-net.js';
import { copyGraph, poolingGraph, residualGraph, uniformValues } from './graphs.js';

const BATCH = 4;

function batchFor(graph: TrainGraph, classes: number, threads = 2) {
  const size = graph.input.shape.reduce((a, b) => a * b, 1);
  return { input: uniformValues(BATCH * size, 3), labels: Int32Array.from({ length: BATCH }, (_, i) => i % classes), batch: BATCH, threads };
}

/** Indices (into graphTensors) of the trainable tensors, in the order grads() returns them. */
function trainableTensors(graph: TrainGraph): number[] {
  const out: number[] = [];
  let next = 0;
  for (const node of graph.nodes) {
    const count = node.op === 'batchnorm' ? 4 : node.op === 'conv' || node.op === 'gemm' ? (node.bias ? 2 : 1) : 0;
    for (let k = 0; k < count; k++) if (node.op !== 'batchnorm' || k < 2) out.push(next + k);
    next += count;
  }
  return out;
}

async function lossWith(graph: TrainGraph, tensor: number, index: number, delta: number): Promise<number> {
  const tensors = graphTensors(graph).map((t) => Float32Array.from(t));
  tensors[tensor][index] += delta;
  const net = TrainNet.build(withTensors(graph, tensors));
  return (await net.gradients(batchFor(graph, net.classes))).loss;
}

describe('native training passes', () => {
  // Central differences of the float32 forward pass (loss in double). Tolerance: relative 2% at step 1e-3. A
  // coordinate with a ReLU or max-pool kink within the step has no finite difference that approximates its
  // derivative: there the one-sided quotients (L(x+h) - L(x)) / h and (L(x) - L(x-h)) / h disagree by the jump in
  // slope (a kink very near x even makes the central quotients of two step sizes agree, on the average of both
  // slopes). Such coordinates are skipped (at most half as many as are checked, tested below).
  test.each([
    ['conv, depthwise, grouped conv, batch norm, ReLU6, add, ReLU, max pool, flatten, gemm', residualGraph(1)],
    ['strided conv, ReLU, average pool, global average pool', poolingGraph(2)],
    ['channel repeats, asymmetric pad with a value', copyGraph(3)],
  ])('gradients match finite differences: %s', async (_, graph) => {
    const net = TrainNet.build(graph);
    const base = (await net.gradients(batchFor(graph, net.classes))).loss;
    const grads = net.grads();
    let checked = 0;
    let skipped = 0;
    const h = 1e-3;
    for (const [slot, tensor] of trainableTensors(graph).entries()) {
      const length = graphTensors(graph)[tensor].length;
      for (const index of new Set([0, Math.floor(length / 3), Math.floor((2 * length) / 3), length - 1])) {
        const plus = await lossWith(graph, tensor, index, h);
        const minus = await lossWith(graph, tensor, index, -h);
        const fd = (plus - minus) / (2 * h);
        if (Math.abs((plus - base) / h - (base - minus) / h) > 0.01 * Math.max(Math.abs(fd), 1e-2)) {
          skipped++;
          continue;
        }
        const analytic = grads[slot][index];
        expect(Math.abs(analytic - fd), `tensor ${tensor}[${index}]: analytic ${analytic}, finite difference ${fd}`).toBeLessThanOrEqual(0.02 * Math.max(Math.abs(fd), 1e-2));
        checked++;
      }
    }
    expect(skipped).toBeLessThanOrEqual(checked / 2);
  });

  test('a step gives the same loss, gradients and weights on 1 and 2 threads', async () => {
    const graph = residualGraph(5);
    const results = [];
    for (const threads of [1, 2]) {
      const net = TrainNet.build(graph);
      const size = graph.input.shape.reduce((a, b) => a * b, 1);
      const batch = 21; // three chunks, the last one partial
      const request = { input: uniformValues(batch * size, 9), labels: Int32Array.from({ length: batch }, (_, i) => i % 5), batch, threads };
      const stats = await net.step(request, { lr: 0.1, momentum: 0.9, weightDecay: 5e-4 });
      results.push({ stats, grads: net.grads(), tensors: graphTensors(net.trained()) });
    }
    expect(results[1].stats).toEqual(results[0].stats);
    expect(results[1].grads).toEqual(results[0].grads);
    expect(results[1].tensors).toEqual(results[0].tensors);
  });

  // The backward pass overwrites each value's gradient with its first contribution instead of zeroing every gradient
  // first: a pass on a net that already ran one must give what a fresh net gives (nothing left over from the last).
  test.each([
    ['residual', residualGraph(7)],
    ['pooling', poolingGraph(8)],
    ['copies', copyGraph(9)],
  ])('a second pass gives the gradients of the first: %s', async (_, graph) => {
    const net = TrainNet.build(graph);
    const size = graph.input.shape.reduce((a, b) => a * b, 1);
    const first = { input: uniformValues(BATCH * size, 11), labels: Int32Array.from({ length: BATCH }, (_, i) => i % net.classes), batch: BATCH, threads: 2 };
    const other = { ...first, input: uniformValues(BATCH * size, 12) };
    const targets = Int32Array.from(first.labels, (l) => (l + 1) % net.classes);
    await net.gradients(first);
    const grads = net.grads();
    const { gradient } = await net.inputGradients({ ...first, targets });
    await net.gradients(other);
    await net.inputGradients({ ...other, targets });
    await net.gradients(first);
    expect(net.grads()).toEqual(grads);
    expect((await net.inputGradients({ ...first, targets })).gradient).toEqual(gradient);
  });

  test('SGD follows g = grad + wd * w; v = momentum * v + g; w -= lr * v', async () => {
    const graph = poolingGraph(3);
    const net = TrainNet.build(graph);
    const request = batchFor(graph, net.classes);
    await net.gradients(request);
    const grads = net.grads();
    const before = graphTensors(graph);
    const slots = trainableTensors(graph);
    await net.step(request, { lr: 0.5, momentum: 0.9, weightDecay: 0.01 });
    const after = graphTensors(net.trained());
    const momenta = net.momenta();
    slots.forEach((tensor, slot) => {
      const expected = before[tensor].map((w, i) => w - 0.5 * (grads[slot][i] + 0.01 * w));
      for (let i = 0; i < expected.length; i++) expect(after[tensor][i]).toBeCloseTo(expected[i], 6);
      for (let i = 0; i < expected.length; i++) expect(momenta[slot][i]).toBeCloseTo(grads[slot][i] + 0.01 * before[tensor][i], 6);
    });
  });

  test('bad arguments throw TypeError or RangeError, never crash', async () => {
    const graph = poolingGraph(4);
    const spec = trainNetSpec(graph);
    const Native = addon().TrainNet;
    expect(() => new Native({ ...spec, values: 0 })).toThrow(RangeError);
    expect(() => new Native({ ...spec, ops: [{ ...spec.ops[0], weight: new Float32Array(3) } as (typeof spec.ops)[0], ...spec.ops.slice(1)] })).toThrow(/weight size/);
    expect(() => new Native({ ...spec, ops: [{ ...spec.ops[0], op: 'pad' } as unknown as (typeof spec.ops)[0]] })).toThrow();
    const net = new Native(spec);
    const size = graph.input.shape.reduce((a, b) => a * b, 1);
    const ok = { input: new Float32Array(2 * size), labels: new Int32Array(2), batch: 2, threads: 1 };
    expect(() => net.gradients({ ...ok, input: new Float32Array(5) })).toThrow(RangeError);
    expect(() => net.gradients({ ...ok, labels: new Int32Array([0, 7]) })).toThrow(RangeError);
    expect(() => net.gradients({ ...ok, labels: new Float32Array(2) as unknown as Int32Array })).toThrow(TypeError);
    expect(() => net.step({ ...ok, lr: -1, momentum: 0.9, weightDecay: 0 })).toThrow(RangeError);
    expect(() => net.predict(new Float32Array(size), 0, 1)).toThrow(RangeError);
    // A job owns the net until it ends (a large batch, so that it is still running at the next statement).
    const big = 4096;
    const running = net.gradients({ input: new Float32Array(big * size), labels: new Int32Array(big), batch: big, threads: 1 });
    expect(() => net.tensors()).toThrow(/still running/);
    expect(() => net.gradients(ok)).toThrow(/still running/);
    await running;
    expect(net.tensors().length).toBe(graphTensors(graph).length);
  });
});
