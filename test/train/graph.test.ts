// Putting trained tensors back into a graph: withTensors (src/train/graph.ts, the trainer's graph) and
// withLayerTensors (src/train/qat.ts, QAT's) take them in node order and refuse a list of another length or a tensor
// of another size: a checkpoint with a tensor too many, too few or of the wrong shape must not load silently.
import { describe, expect, test } from 'vitest';
import { graphTensors, withTensors } from '../../src/train/graph.js';
import { withLayerTensors } from '../../src/train/qat.js';
import { loadFixture } from '../support/fixtures.js';
import { residualGraph } from './graphs.js';

describe('withTensors', () => {
  test('puts each tensor back in graphTensors order, and refuses a list of another length', () => {
    const graph = residualGraph(1);
    const tensors = graphTensors(graph).map((t, k) => t.map(() => k));
    const copy = graphTensors(withTensors(graph, tensors));
    expect(copy.map((t) => [t.length, t[0]])).toEqual(tensors.map((t, k) => [t.length, k]));
    const n = tensors.length;
    expect(() => withTensors(graph, [...tensors, tensors[0]])).toThrow(`withTensors: ${n + 1} tensors for a graph with ${n}`);
    expect(() => withTensors(graph, tensors.slice(0, -1))).toThrow();
  });
});

describe('withLayerTensors', () => {
  test('each conv and gemm takes its weight then its bias, and a list of another length or size is refused by name', () => {
    const { graph } = loadFixture('tiny_mlp');
    const layers = graph.nodes.flatMap((node) => (node.op === 'conv' || node.op === 'gemm' ? [node] : []));
    const tensors = layers.flatMap((node) => [node.weight, ...(node.bias ? [node.bias] : [])]).map((t, k) => t.map(() => k));
    const copy = withLayerTensors(graph, tensors);
    const back = copy.nodes.flatMap((node) => (node.op === 'conv' || node.op === 'gemm' ? [node.weight, ...(node.bias ? [node.bias] : [])] : []));
    expect(back.map((t) => [t.length, t[0]])).toEqual(tensors.map((t, k) => [t.length, k]));
    const n = tensors.length;
    const first = layers[0];
    expect(() => withLayerTensors(graph, [...tensors, tensors[0]])).toThrow(`${n + 1} tensors for a graph with ${n}`);
    expect(() => withLayerTensors(graph, tensors.slice(0, -1))).toThrow(`${layers[layers.length - 1].name} bias: expected ${tensors[n - 1].length} values, got none`);
    expect(() => withLayerTensors(graph, [tensors[0].subarray(1), ...tensors.slice(1)])).toThrow(`${first.name} weight: expected ${tensors[0].length} values, got ${tensors[0].length - 1}`);
  });
});
