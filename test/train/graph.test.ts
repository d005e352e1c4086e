// withTensors (src/train/graph.ts) takes the tensors in graphTensors order and refuses a list of another length: a
// checkpoint with a tensor too many or too few must not load into a network silently.
import { describe, expect, test } from 'vitest';
import { graphTensors, withTensors } from '../../src/train/graph.js';
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
