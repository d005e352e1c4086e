/**
 * Shape inference over the IR (src/graph/shapes.ts) holds its own invariants, whoever builds the nodes (the ONNX
 * importer, or train's architectures): positive strides and kernels, non-negative pads, a bias per output, and
 * values within MAX_VALUE_ELEMENTS per image.
 */
import { describe, expect, test } from 'vitest';
import type { ConvNode, Node, Shape } from '../../src/graph/ir.js';
import { inferShape, MAX_VALUE_ELEMENTS } from '../../src/graph/shapes.js';

function conv(overrides: Partial<ConvNode> = {}): ConvNode {
  return {
    name: 'c', op: 'conv', inputs: ['x'], output: 'y', weight: new Float32Array(2 * 9), bias: undefined,
    outChannels: 2, kernel: [3, 3], strides: [1, 1], pads: [1, 1, 1, 1], group: 1, ...overrides,
  };
}

const image: Shape = [1, 8, 8];

describe('inferShape', () => {
  test('a valid convolution keeps 8x8 with pad 1 and halves it with stride 2', () => {
    expect(inferShape(conv(), [image])).toEqual([2, 8, 8]);
    expect(inferShape(conv({ strides: [2, 2] }), [image])).toEqual([2, 4, 4]);
  });

  test('a stride of 0 is the convolution\'s error, not a later layer\'s', () => {
    expect(() => inferShape(conv({ strides: [0, 1] }), [image])).toThrow("node 'c' (conv): strides must be positive integers, got [0, 1]; input shapes [1, 8, 8]");
  });

  test('a kernel of 0, negative pads and group 0 are refused', () => {
    expect(() => inferShape(conv({ kernel: [0, 3] }), [image])).toThrow('the kernel must be positive integers, got [0, 3]');
    expect(() => inferShape(conv({ pads: [-1, 0, 0, 0] }), [image])).toThrow('pads must be non-negative integers, got [-1, 0, 0, 0]');
    expect(() => inferShape(conv({ group: 0 }), [image])).toThrow('group must be a positive integer, got 0');
  });

  test('a bias must hold one value per output channel', () => {
    expect(() => inferShape(conv({ bias: new Float32Array(1) }), [image])).toThrow('bias has 1 values, expected 2');
    const gemm: Node = { name: 'g', op: 'gemm', inputs: ['x'], output: 'y', weight: new Float32Array(12), bias: new Float32Array(4), outFeatures: 3 };
    expect(() => inferShape(gemm, [[4, 1, 1]])).toThrow('bias has 4 values, expected 3');
  });

  test(`a value over ${MAX_VALUE_ELEMENTS} elements per image is refused, naming the caller's label`, () => {
    const pad: Node = { name: 'p', op: 'pad', inputs: ['x'], output: 'y', pads: [3000, 3000, 3000, 3000], value: 0 };
    expect(() => inferShape(pad, [image], 'f.onnx: node \'p\' (Pad)')).toThrow(`f.onnx: node 'p' (Pad): the output shape [1, 6008, 6008] holds more than arq's limit of ${MAX_VALUE_ELEMENTS} elements per image`);
  });

  test('a repeat factor of 0 would make an empty value', () => {
    const repeat: Node = { name: 'r', op: 'repeat', inputs: ['x'], output: 'y', factor: 0 };
    expect(() => inferShape(repeat, [image])).toThrow('the output shape [0, 8, 8] is empty or invalid');
  });
});
