/**
 * A training graph as standard ONNX (opset 13, as PyTorch exports), written back operator for operator from arq's
 * IR, so that any graph arq imports can be exported: Conv (grouped and depthwise included), BatchNormalization (kept,
 * not folded), Relu/Clip, Add, MaxPool/AveragePool/GlobalAveragePool, Flatten, Gemm, Pad, Tile for a channel repeat
 * and Sub/Div/Add/Mul by constants (input normalisation). Values keep their IR names, so the file re-imports to the
 * same graph (the architectures call their output `logits`). The input keeps its rank ([batch, C, H, W] or [batch, F]).
 */
import type { Graph } from '../graph/ir.js';
import { modelFromBytes } from '../onnx/model.js';
import { OnnxBuilder, type TensorValue } from '../onnx/write.js';
import { ArqError } from '../util/errors.js';
import type { TrainGraph, TrainNode } from './graph.js';

export const EXPORT_OPSET = 13;

function floats(dims: readonly number[], values: Float32Array): TensorValue {
  return { dims, dataType: 'float', values };
}

function window(node: { kernel: readonly number[]; strides: readonly number[]; pads: readonly number[] }) {
  return { kernel_shape: [...node.kernel], strides: [...node.strides], pads: [...node.pads] };
}

type Rank = 2 | 4;

/** The ONNX rank of `node`'s output, or an error naming the node where ONNX has no operator for its input rank. */
function outputRank(node: TrainNode, rank: Rank): Rank {
  const needs = (wanted: Rank) => {
    if (rank !== wanted) throw new ArqError(`node '${node.name}' (${node.op}) cannot be exported: its input has ONNX rank ${rank}, the operator needs rank ${wanted}`);
  };
  switch (node.op) {
    case 'conv':
    case 'batchnorm':
    case 'maxpool':
    case 'avgpool':
    case 'globalavgpool':
    case 'pad':
    case 'repeat':
      needs(4);
      return 4;
    case 'gemm':
      needs(2);
      return 2;
    case 'flatten':
      return 2;
    case 'clamp':
    case 'add':
    case 'elementwise':
      return rank;
    default:
      throw new ArqError(`node '${(node as TrainNode).name}': operator '${(node as TrainNode).op}' cannot be exported to ONNX`);
  }
}

function writeNode(b: OnnxBuilder, graph: TrainGraph, node: TrainNode, inputs: readonly string[], output: string, rank: Rank): void {
  const input = inputs[0];
  const param = (suffix: string, tensor: TensorValue) => b.initializer(`${node.name}.${suffix}`, tensor);
  switch (node.op) {
    case 'conv': {
      const inChannels = graph.shapes.get(node.inputs[0])![0];
      const weight = param('weight', floats([node.outChannels, inChannels / node.group, ...node.kernel], node.weight));
      const args = node.bias ? [input, weight, param('bias', floats([node.outChannels], node.bias))] : [input, weight];
      b.node('Conv', args, output, { ...window(node), group: node.group, dilations: [1, 1] }, node.name);
      return;
    }
    case 'gemm': {
      const features = node.weight.length / node.outFeatures;
      const weight = param('weight', floats([node.outFeatures, features], node.weight));
      const args = node.bias ? [input, weight, param('bias', floats([node.outFeatures], node.bias))] : [input, weight];
      b.node('Gemm', args, output, { transB: 1 }, node.name);
      return;
    }
    case 'batchnorm': {
      const c = [node.scale.length];
      const args = [input, param('scale', floats(c, node.scale)), param('bias', floats(c, node.bias)), param('mean', floats(c, node.mean)), param('var', floats(c, node.var))];
      b.node('BatchNormalization', args, output, { epsilon: { float: node.epsilon }, momentum: { float: 1 - node.momentum } }, node.name);
      return;
    }
    case 'clamp': {
      const { min, max } = node.range;
      if (min === 0 && max === Infinity) {
        b.node('Relu', [input], output, {}, node.name);
      } else {
        const bound = (value: number, which: string) => param(which, { dims: [], dataType: 'float', values: [value] });
        b.node('Clip', [input, bound(min, 'min'), bound(max, 'max')], output, {}, node.name);
      }
      return;
    }
    case 'add':
      b.node('Add', inputs, output, {}, node.name);
      return;
    case 'maxpool':
      b.node('MaxPool', [input], output, window(node), node.name);
      return;
    case 'avgpool':
      b.node('AveragePool', [input], output, { ...window(node), count_include_pad: node.countIncludePad ? 1 : 0 }, node.name);
      return;
    case 'globalavgpool':
      b.node('GlobalAveragePool', [input], output, {}, node.name);
      return;
    case 'flatten':
      b.node('Flatten', [input], output, { axis: 1 }, node.name);
      return;
    case 'elementwise': {
      // One value per channel broadcasts over [N, C, H, W] as [C, 1, 1] and over [N, F] as [F].
      const dims = node.constant.length === 1 ? [] : rank === 4 ? [node.constant.length, 1, 1] : [node.constant.length];
      const constant = param('constant', floats(dims, node.constant));
      const opType = { add: 'Add', sub: 'Sub', mul: 'Mul', div: 'Div' }[node.operation];
      b.node(opType, node.constantFirst ? [constant, input] : [input, constant], output, {}, node.name);
      return;
    }
    case 'pad': {
      const [top, left, bottom, right] = node.pads;
      const pads = param('pads', { dims: [8], dataType: 'int64', values: [0, 0, top, left, 0, 0, bottom, right] });
      const value = param('value', { dims: [], dataType: 'float', values: [node.value] });
      b.node('Pad', [input, pads, value], output, { mode: 'constant' }, node.name);
      return;
    }
    case 'repeat': {
      const repeats = param('repeats', { dims: [4], dataType: 'int64', values: [1, node.factor, 1, 1] });
      b.node('Tile', [input, repeats], output, {}, node.name);
      return;
    }
  }
}

/**
 * Encodes the graph; `metadata` becomes the model's metadata_props (training settings, calibration). Throws an
 * ArqError naming the node when a node has no ONNX form (callers run it before training: see checkExportable).
 */
export function exportTrainGraph(graph: TrainGraph, metadata: Record<string, string> = {}): Uint8Array {
  const b = new OnnxBuilder(EXPORT_OPSET);
  const input = graph.input;
  const ranks = new Map<string, Rank>([[input.name, input.rank]]);
  b.input(input.name, input.rank === 4 ? ['batch', ...input.shape] : ['batch', input.shape[0]]);
  for (const node of graph.nodes) {
    const rank = ranks.get(node.inputs[0]);
    if (rank === undefined) throw new ArqError(`node '${node.name}': input '${node.inputs[0]}' is not produced by an earlier node`);
    const out = outputRank(node, rank);
    ranks.set(node.output, out);
    writeNode(b, graph, node, node.inputs, node.output, rank);
  }
  const shape = graph.shapes.get(graph.output)!;
  b.output(graph.output, ranks.get(graph.output) === 4 ? ['batch', ...shape] : ['batch', shape[0]]);
  for (const [key, value] of Object.entries(metadata)) b.metadata(key, value);
  return b.encode();
}


function sameField(a: unknown, b: unknown): boolean {
  if (a instanceof Float32Array && b instanceof Float32Array) return a.length === b.length && a.every((x, i) => Object.is(x, b[i]));
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Exports `graph` (an imported, batch-norm-free graph) and imports the file again; throws an ArqError naming the
 * first node that would not come back as it is (an operator without an ONNX form, or one that re-imports as
 * another), so that training refuses such a graph before its first step rather than failing at its end.
 */
export function checkExportable(graph: Graph, source: string): void {
  const reimported = modelFromBytes(exportTrainGraph(graph), `${source} (exported)`).graph;
  const differs = (index: number) => {
    const node = graph.nodes[index] as unknown as Record<string, unknown>;
    const back = reimported.nodes[index] as unknown as Record<string, unknown> | undefined;
    if (!back) return true;
    const keys = new Set([...Object.keys(node), ...Object.keys(back)]);
    return [...keys].some((key) => !sameField(node[key], back[key]));
  };
  const index = graph.nodes.findIndex((_, i) => differs(i));
  if (index >= 0) {
    const node = graph.nodes[index];
    throw new ArqError(`${source}: node '${node.name}' (${node.op}) does not survive ONNX export and re-import, so a trained copy could not be written`);
  }
  if (reimported.nodes.length !== graph.nodes.length) throw new ArqError(`${source}: the exported graph re-imports with ${reimported.nodes.length} nodes instead of ${graph.nodes.length}`);
}
