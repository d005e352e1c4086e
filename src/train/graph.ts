/**
 * The training graph: arq's IR with batch norm kept as its own node (the IR folds it away at import), so that
 * training can use batch statistics and the ONNX export writes BatchNormalization nodes. Node tensors are the live
 * parameters: the trainer reads them into the native net and writes trained values back into fresh graphs.
 */
import type { Node, Shape } from '../graph/ir.js';

/** y = scale * (x - mean) / sqrt(var + epsilon) + bias per channel; `momentum` moves the running mean and var. */
export interface BatchNormNode {
  readonly op: 'batchnorm';
  readonly name: string;
  readonly inputs: readonly string[];
  readonly output: string;
  readonly scale: Float32Array;
  readonly bias: Float32Array;
  readonly mean: Float32Array;
  readonly var: Float32Array;
  readonly epsilon: number;
  readonly momentum: number;
}

export type TrainNode = Node | BatchNormNode;

export interface TrainGraph {
  readonly input: { readonly name: string; readonly shape: Shape; readonly rank: 2 | 4 };
  readonly output: string;
  readonly nodes: readonly TrainNode[];
  readonly shapes: ReadonlyMap<string, Shape>;
}

/** The tensors of a node in the order the native trainer keeps them (conv/gemm weight[, bias]; bn scale, bias, mean, var). */
export function nodeTensors(node: TrainNode): Float32Array[] {
  switch (node.op) {
    case 'conv':
    case 'gemm':
      return node.bias ? [node.weight, node.bias] : [node.weight];
    case 'batchnorm':
      return [node.scale, node.bias, node.mean, node.var];
    default:
      return [];
  }
}

/** Every tensor of the graph in node order. */
export function graphTensors(graph: TrainGraph): Float32Array[] {
  return graph.nodes.flatMap(nodeTensors);
}

/** A copy of `graph` whose tensors are `tensors` (in graphTensors order). */
export function withTensors(graph: TrainGraph, tensors: readonly Float32Array[]): TrainGraph {
  let next = 0;
  const take = (): Float32Array => Float32Array.from(tensors[next++]);
  const nodes = graph.nodes.map((node): TrainNode => {
    switch (node.op) {
      case 'conv':
      case 'gemm': {
        const weight = take();
        return { ...node, weight, bias: node.bias ? take() : undefined };
      }
      case 'batchnorm':
        return { ...node, scale: take(), bias: take(), mean: take(), var: take() };
      default:
        return node;
    }
  });
  if (next !== tensors.length) throw new Error(`withTensors: ${tensors.length} tensors for a graph with ${next}`);
  return { ...graph, nodes };
}
