/** Shape inference over the IR: one rule per operator, errors name the node. */
import { ArqError } from '../util/errors.js';
import { shapeSize, type Node, type Shape } from './ir.js';

/**
 * The most elements one value may hold per image (64 MiB as float32; a 224x224 image with 64 channels holds 3.2M):
 * the engine allocates every value for a whole batch, so a hostile pad or repeat factor is refused here.
 */
export const MAX_VALUE_ELEMENTS = 2 ** 24;

function windowOut(size: number, padBegin: number, padEnd: number, kernel: number, stride: number): number {
  return Math.floor((size + padBegin + padEnd - kernel) / stride) + 1;
}

/**
 * The output shape of `node` given the shapes of its inputs (in order). `label` names the node in errors (the
 * importer passes the file and the ONNX operator; by default the IR name and op).
 */
export function inferShape(node: Node, inputs: readonly Shape[], label = `node '${node.name}' (${node.op})`): Shape {
  const fail = (what: string): never => {
    throw new ArqError(`${label}: ${what}; input shapes ${inputs.map((s) => `[${s.join(', ')}]`).join(' and ')}`);
  };
  const shape = outputShape(node, inputs, fail);
  if (shape.some((dim) => !Number.isInteger(dim) || dim < 1)) fail(`the output shape [${shape.join(', ')}] is empty or invalid`);
  if (shapeSize(shape) > MAX_VALUE_ELEMENTS) fail(`the output shape [${shape.join(', ')}] holds more than arq's limit of ${MAX_VALUE_ELEMENTS} elements per image`);
  return shape;
}

function outputShape(node: Node, inputs: readonly Shape[], fail: (what: string) => never): Shape {
  const [c, h, w] = inputs[0];
  if ('strides' in node) {
    if (node.strides.some((s) => !Number.isInteger(s) || s < 1)) fail(`strides must be positive integers, got [${node.strides.join(', ')}]`);
    if (node.kernel.some((k) => !Number.isInteger(k) || k < 1)) fail(`the kernel must be positive integers, got [${node.kernel.join(', ')}]`);
  }
  if ('pads' in node && node.pads.some((p) => !Number.isInteger(p) || p < 0)) fail(`pads must be non-negative integers, got [${node.pads.join(', ')}]`);
  switch (node.op) {
    case 'conv': {
      if (!Number.isInteger(node.group) || node.group < 1) fail(`group must be a positive integer, got ${node.group}`);
      if (c % node.group !== 0) fail(`${c} input channels do not divide into ${node.group} groups`);
      const expected = node.outChannels * (c / node.group) * node.kernel[0] * node.kernel[1];
      if (node.weight.length !== expected) fail(`weight has ${node.weight.length} values, expected ${expected}`);
      if (node.bias && node.bias.length !== node.outChannels) fail(`bias has ${node.bias.length} values, expected ${node.outChannels}`);
      const oh = windowOut(h, node.pads[0], node.pads[2], node.kernel[0], node.strides[0]);
      const ow = windowOut(w, node.pads[1], node.pads[3], node.kernel[1], node.strides[1]);
      if (oh < 1 || ow < 1) fail('the kernel is larger than the padded input');
      return [node.outChannels, oh, ow];
    }
    case 'gemm': {
      if (h !== 1 || w !== 1) fail('a fully connected layer needs a flat input');
      if (node.weight.length !== node.outFeatures * c) fail(`weight has ${node.weight.length} values, expected ${node.outFeatures * c}`);
      if (node.bias && node.bias.length !== node.outFeatures) fail(`bias has ${node.bias.length} values, expected ${node.outFeatures}`);
      return [node.outFeatures, 1, 1];
    }
    case 'add': {
      const [c2, h2, w2] = inputs[1];
      if (c !== c2 || h !== h2 || w !== w2) fail('operands must have the same shape');
      return [c, h, w];
    }
    case 'clamp':
    case 'elementwise':
      if (node.op === 'elementwise' && node.constant.length !== 1 && node.constant.length !== c) {
        fail(`the constant must have 1 or ${c} values, it has ${node.constant.length}`);
      }
      return [c, h, w];
    case 'maxpool':
    case 'avgpool': {
      const oh = windowOut(h, node.pads[0], node.pads[2], node.kernel[0], node.strides[0]);
      const ow = windowOut(w, node.pads[1], node.pads[3], node.kernel[1], node.strides[1]);
      if (oh < 1 || ow < 1) fail('the window is larger than the padded input');
      return [c, oh, ow];
    }
    case 'globalavgpool':
      return [c, 1, 1];
    case 'pad':
      return [c, h + node.pads[0] + node.pads[2], w + node.pads[1] + node.pads[3]];
    case 'repeat':
      return [c * node.factor, h, w];
    case 'flatten':
      return [c * h * w, 1, 1];
  }
}

/** Shapes of every value of a node list, starting from the input's. */
export function inferShapes(input: { readonly name: string; readonly shape: Shape }, nodes: readonly Node[]): Map<string, Shape> {
  const shapes = new Map<string, Shape>([[input.name, input.shape]]);
  for (const node of nodes) {
    const inputShapes = node.inputs.map((name) => {
      const shape = shapes.get(name);
      if (!shape) throw new ArqError(`node '${node.name}' (${node.op}): input '${name}' is not computed before it`);
      return shape;
    });
    shapes.set(node.output, inferShape(node, inputShapes));
  }
  return shapes;
}
