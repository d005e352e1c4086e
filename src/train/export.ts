/**
 * A training graph as standard ONNX (opset 13, as PyTorch exports): Conv, BatchNormalization (kept, not folded),
 * Relu/Clip, Add, pools, Flatten, Gemm, and Sub/Div/Add/Mul by constants for the input normalisation. Input `input`
 * [batch, C, H, W], output `logits` [batch, classes]; ONNX Runtime runs it and arq's import folds the batch norms.
 */
import { OnnxBuilder, type TensorValue } from '../onnx/write.js';
import type { TrainGraph, TrainNode } from './graph.js';

export const EXPORT_OPSET = 13;

function floats(dims: readonly number[], values: Float32Array): TensorValue {
  return { dims, dataType: 'float', values };
}

function window(node: { kernel: readonly number[]; strides: readonly number[]; pads: readonly number[] }) {
  return { kernel_shape: [...node.kernel], strides: [...node.strides], pads: [...node.pads] };
}

function writeNode(b: OnnxBuilder, graph: TrainGraph, node: TrainNode, output: string): void {
  const input = node.inputs[0];
  const param = (suffix: string, tensor: TensorValue) => b.initializer(`${node.name}.${suffix}`, tensor);
  switch (node.op) {
    case 'conv': {
      const inChannels = graph.shapes.get(input)![0];
      const weight = param('weight', floats([node.outChannels, inChannels / node.group, ...node.kernel], node.weight));
      const inputs = node.bias ? [input, weight, param('bias', floats([node.outChannels], node.bias))] : [input, weight];
      b.node('Conv', inputs, output, { ...window(node), group: node.group, dilations: [1, 1] }, node.name);
      return;
    }
    case 'gemm': {
      const features = node.weight.length / node.outFeatures;
      const weight = param('weight', floats([node.outFeatures, features], node.weight));
      const inputs = node.bias ? [input, weight, param('bias', floats([node.outFeatures], node.bias))] : [input, weight];
      b.node('Gemm', inputs, output, { transB: 1 }, node.name);
      return;
    }
    case 'batchnorm': {
      const c = [node.scale.length];
      const inputs = [input, param('scale', floats(c, node.scale)), param('bias', floats(c, node.bias)), param('mean', floats(c, node.mean)), param('var', floats(c, node.var))];
      b.node('BatchNormalization', inputs, output, { epsilon: { float: node.epsilon }, momentum: { float: 1 - node.momentum } }, node.name);
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
      b.node('Add', [...node.inputs], output, {}, node.name);
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
      const dims = node.constant.length === 1 ? [] : [node.constant.length, 1, 1];
      const constant = param('constant', floats(dims, node.constant));
      const opType = { add: 'Add', sub: 'Sub', mul: 'Mul', div: 'Div' }[node.operation];
      b.node(opType, node.constantFirst ? [constant, input] : [input, constant], output, {}, node.name);
      return;
    }
    case 'pad':
    case 'repeat':
      throw new Error(`exportTrainGraph: ${node.op} nodes are not produced by the architectures`);
  }
}

/** Encodes the graph; `metadata` becomes the model's metadata_props (training settings, accuracy). */
export function exportTrainGraph(graph: TrainGraph, metadata: Record<string, string> = {}): Uint8Array {
  const b = new OnnxBuilder(EXPORT_OPSET);
  const [c, h, w] = graph.input.shape;
  const classes = graph.shapes.get(graph.output)![0];
  b.input(graph.input.name, ['batch', c, h, w]);
  for (const node of graph.nodes) writeNode(b, graph, node, node.output === graph.output ? 'logits' : node.output);
  b.output('logits', ['batch', classes]);
  for (const [key, value] of Object.entries(metadata)) b.metadata(key, value);
  return b.encode();
}
