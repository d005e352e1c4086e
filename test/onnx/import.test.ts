import { describe, expect, test } from 'vitest';
import { readFileSync } from 'node:fs';
import { FIXTURES, fixturePath, loadFixture } from '../support/fixtures.js';
import { modelFromBytes } from '../../src/onnx/model.js';
import { OnnxBuilder } from '../../src/onnx/write.js';
import type { ConvNode, GemmNode } from '../../src/graph/ir.js';

function ops(name: (typeof FIXTURES)[number]): string[] {
  return loadFixture(name).graph.nodes.map((n) => n.op);
}

describe('import of PyTorch-exported fixtures', () => {
  test.each(FIXTURES)('%s imports with a 10-class output', (name) => {
    const { graph } = loadFixture(name);
    expect(graph.shapes.get(graph.output)).toEqual([10, 1, 1]);
  });

  test('mnist_cnn: Sub/Div normalisation, F.pad subgraph and view(x.size(0), -1) fold away', () => {
    expect(ops('mnist_cnn')).toEqual(['elementwise', 'elementwise', 'conv', 'clamp', 'maxpool', 'pad', 'conv', 'clamp', 'avgpool', 'flatten', 'gemm', 'clamp', 'gemm']);
    const pad = loadFixture('mnist_cnn').graph.nodes.find((n) => n.op === 'pad');
    expect(pad && pad.op === 'pad' && pad.pads).toEqual([1, 1, 1, 1]);
  });

  test('mnist_cnn_bn: BatchNormalization folds into the convolutions', () => {
    expect(ops('mnist_cnn_bn')).toEqual(ops('mnist_cnn'));
  });

  test('grey_repeat: x.repeat(1,3,1,1) becomes a channel repeat; asymmetric F.pad', () => {
    const { graph } = loadFixture('grey_repeat');
    const repeat = graph.nodes.find((n) => n.op === 'repeat');
    expect(repeat && repeat.op === 'repeat' && repeat.factor).toBe(3);
    const pad = graph.nodes.find((n) => n.op === 'pad');
    expect(pad && pad.op === 'pad' && pad.pads).toEqual([0, 0, 1, 1]);
    expect(graph.nodes.filter((n) => n.op === 'conv').map((n) => (n as ConvNode).group)).toEqual([1, 2]);
  });

  test('resnet20: 21 convolutions, 9 residual adds, one fully connected layer', () => {
    const list = ops('resnet20');
    expect(list.filter((op) => op === 'conv')).toHaveLength(21);
    expect(list.filter((op) => op === 'add')).toHaveLength(9);
    expect(list.filter((op) => op === 'gemm')).toHaveLength(1);
  });

  test('mobilenetv2: depthwise convolutions keep groups equal to channels', () => {
    const { graph } = loadFixture('mobilenetv2');
    const depthwise = graph.nodes.filter((n): n is ConvNode => n.op === 'conv' && n.group > 1);
    expect(depthwise.length).toBeGreaterThan(10);
    for (const node of depthwise) expect(node.group).toBe(graph.shapes.get(node.inputs[0])![0]);
  });

  test('tiny_mlp: MatMul + Add becomes one fully connected layer with bias', () => {
    const gemms = loadFixture('tiny_mlp').graph.nodes.filter((n): n is GemmNode => n.op === 'gemm');
    expect(gemms).toHaveLength(2);
    expect(gemms[0].bias).toBeDefined();
  });
});

describe('malformed and unsupported models', () => {
  test('random bytes are not an ONNX file', () => {
    expect(() => modelFromBytes(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]), 'x.onnx')).toThrow(/x\.onnx: not a valid ONNX file|no graph nodes/);
  });

  test('a truncated file fails with a clear error', () => {
    const bytes = readFileSync(fixturePath('resnet20'));
    expect(() => modelFromBytes(bytes.subarray(0, bytes.length / 2), 'cut.onnx')).toThrow(/cut\.onnx/);
  });

  function simple(op: string, attributes: Record<string, number | number[]> = {}, opset = 13): Uint8Array {
    const b = new OnnxBuilder(opset).input('x', ['N', 2, 4, 4]).output('y', ['N', 2, 4, 4]);
    b.node(op, ['x'], 'y', attributes, 'the_node');
    return b.encode();
  }

  test('an unsupported operator names the node and the operator', () => {
    expect(() => modelFromBytes(simple('Sigmoid'), 'm.onnx')).toThrow("node 'the_node' (Sigmoid): unsupported operator Sigmoid");
  });

  test('opsets outside 7..22 are rejected', () => {
    expect(() => modelFromBytes(simple('Relu', {}, 30), 'm.onnx')).toThrow(/opset 30 is not supported/);
  });

  test('a reshape that is not a flatten is rejected, naming the node', () => {
    const b = new OnnxBuilder(13).input('x', ['N', 2, 4, 4]).output('y', ['N', 4, 2, 4]);
    b.initializer('shape', { dims: [4], dataType: 'int64', values: [-1, 4, 2, 4] });
    b.node('Reshape', ['x', 'shape'], 'y', {}, 'odd_reshape');
    expect(() => modelFromBytes(b.encode(), 'm.onnx')).toThrow(/node 'odd_reshape' \(Reshape\): reshaping \[N, 2, 4, 4\]/);
  });

  test('a dilated convolution is rejected', () => {
    const b = new OnnxBuilder(13).input('x', ['N', 1, 8, 8]).output('y', ['N', 1, 4, 4]);
    b.initializer('w', { dims: [1, 1, 3, 3], dataType: 'float', values: new Array(9).fill(1) });
    b.node('Conv', ['x', 'w'], 'y', { dilations: [2, 2] }, 'dilated');
    expect(() => modelFromBytes(b.encode(), 'm.onnx')).toThrow(/dilated.*dilations other than 1/);
  });

  test('a weight of the wrong size is a shape error naming the node', () => {
    const b = new OnnxBuilder(13).input('x', ['N', 4]).output('y', ['N', 3]);
    b.initializer('w', { dims: [5, 3], dataType: 'float', values: new Array(15).fill(1) });
    b.node('MatMul', ['x', 'w'], 'y', {}, 'fc');
    expect(() => modelFromBytes(b.encode(), 'm.onnx')).toThrow(/node 'fc' \(MatMul\)/);
  });

  test('a graph whose input has symbolic spatial dims is rejected', () => {
    const b = new OnnxBuilder(13).input('x', ['N', 1, 'H', 'W']).output('y', ['N', 1, 'H', 'W']);
    b.node('Relu', ['x'], 'y');
    expect(() => modelFromBytes(b.encode(), 'm.onnx')).toThrow(/fixed C, H, W/);
  });
});

describe('shape plumbing as torch.onnx.export writes it', () => {
  // x.view(x.size(0), -1): Shape -> Gather(0) -> Unsqueeze(axes input) -> Concat([N], [-1]) -> Reshape.
  function viewModel(opset: number): Uint8Array {
    const b = new OnnxBuilder(opset).input('x', ['N', 3, 2, 2]).output('y', ['N', 12]);
    const shape = b.node('Shape', ['x'], 'shape');
    const index = b.constant({ dims: [], dataType: 'int64', values: [0] });
    const batch = b.node('Gather', ['shape', index], 'batch', { axis: 0 });
    const axes = b.constant({ dims: [1], dataType: 'int64', values: [0] });
    const unsqueezed = opset >= 13 ? b.node('Unsqueeze', [batch, axes], 'batch1') : b.node('Unsqueeze', [batch], 'batch1', { axes: [0] });
    const minusOne = b.constant({ dims: [1], dataType: 'int64', values: [-1] });
    const target = b.node('Concat', [unsqueezed, minusOne], 'target', { axis: 0 });
    b.node('Reshape', ['x', target], 'y');
    void shape;
    return b.encode();
  }

  test.each([11, 13, 17])('view(x.size(0), -1) at opset %i becomes flatten', (opset) => {
    const { graph } = modelFromBytes(viewModel(opset), 'view.onnx');
    expect(graph.nodes.map((n) => n.op)).toEqual(['flatten']);
    expect(graph.shapes.get(graph.output)).toEqual([12, 1, 1]);
  });

  // F.pad(x, (1, 2, 0, 3)): pads built by ConstantOfShape/Concat/Reshape/Slice(-1 step)/Transpose/Reshape/Cast.
  test('the F.pad pads subgraph folds to spatial pads', () => {
    const b = new OnnxBuilder(13).input('x', ['N', 1, 4, 4]).output('y', ['N', 1, 7, 7]);
    const torchPads = b.constant({ dims: [4], dataType: 'int64', values: [1, 2, 0, 3] });
    const zerosShape = b.constant({ dims: [1], dataType: 'int64', values: [4] });
    const zeros = b.node('ConstantOfShape', [zerosShape], 'zeros', { value: { tensor: { dims: [1], dataType: 'int64', values: [0] } } });
    const all = b.node('Concat', [torchPads, zeros], 'all', { axis: 0 });
    const pairsShape = b.constant({ dims: [2], dataType: 'int64', values: [-1, 2] });
    const pairs = b.node('Reshape', [all, pairsShape], 'pairs');
    const starts = b.constant({ dims: [1], dataType: 'int64', values: [-1] });
    const ends = b.constant({ dims: [1], dataType: 'int64', values: [-9223372036854775807] });
    const axes = b.constant({ dims: [1], dataType: 'int64', values: [0] });
    const steps = b.constant({ dims: [1], dataType: 'int64', values: [-1] });
    const reversed = b.node('Slice', [pairs, starts, ends, axes, steps], 'reversed');
    const transposed = b.node('Transpose', [reversed], 'transposed', { perm: [1, 0] });
    const flatShape = b.constant({ dims: [1], dataType: 'int64', values: [-1] });
    const flat = b.node('Reshape', [transposed, flatShape], 'flat');
    const cast = b.node('Cast', [flat], 'pads', { to: 7 });
    b.node('Pad', ['x', cast, ''], 'y', { mode: 'constant' } as never, 'pad');
    const { graph } = modelFromBytes(b.encode(), 'pad.onnx');
    const pad = graph.nodes[0];
    // torch (left, right, top, bottom) = (1, 2, 0, 3) -> arq [top, left, bottom, right]
    expect(pad.op === 'pad' && pad.pads).toEqual([0, 1, 3, 2]);
    expect(graph.shapes.get(graph.output)).toEqual([1, 7, 7]);
  });

  test('x.repeat(1, 3, 1, 1): ConstantOfShape(1) -> Expand -> Tile', () => {
    const b = new OnnxBuilder(13).input('x', ['N', 1, 4, 4]).output('y', ['N', 3, 4, 4]);
    const shape = b.constant({ dims: [1], dataType: 'int64', values: [4] });
    const ones = b.node('ConstantOfShape', [shape], 'ones', { value: { tensor: { dims: [1], dataType: 'int64', values: [1] } } });
    const expanded = b.node('Expand', ['x', ones], 'expanded');
    const repeats = b.constant({ dims: [4], dataType: 'int64', values: [1, 3, 1, 1] });
    b.node('Tile', [expanded, repeats], 'y');
    const { graph } = modelFromBytes(b.encode(), 'repeat.onnx');
    expect(graph.nodes.map((n) => n.op)).toEqual(['repeat']);
    expect(graph.shapes.get(graph.output)).toEqual([3, 4, 4]);
  });

  test('a BatchNormalization that follows no convolution becomes a per-channel multiply-add', () => {
    const b = new OnnxBuilder(13).input('x', ['N', 2, 3, 3]).output('y', ['N', 2, 3, 3]);
    for (const [name, values] of [['g', [1, 2]], ['b', [0.5, -1]], ['m', [0.1, 0.2]], ['v', [1, 4]]] as const) {
      b.initializer(name, { dims: [2], dataType: 'float', values });
    }
    b.node('BatchNormalization', ['x', 'g', 'b', 'm', 'v'], 'y', { epsilon: { float: 0 } } as never, 'bn');
    const { graph } = modelFromBytes(b.encode(), 'bn.onnx');
    expect(graph.nodes.map((n) => n.op)).toEqual(['elementwise', 'elementwise']);
    const [mul, add] = graph.nodes;
    expect(mul.op === 'elementwise' && Array.from(mul.constant)).toEqual([1, 1]);
    expect(add.op === 'elementwise' && Array.from(add.constant)).toEqual([0.4, -1.2].map((v) => Math.fround(v)));
  });

  test('MaxPool with ceil_mode pads the bottom and right instead', () => {
    const b = new OnnxBuilder(13).input('x', ['N', 1, 5, 5]).output('y', ['N', 1, 3, 3]);
    b.node('MaxPool', ['x'], 'y', { kernel_shape: [2, 2], strides: [2, 2], ceil_mode: 1 });
    const { graph } = modelFromBytes(b.encode(), 'pool.onnx');
    expect(graph.shapes.get(graph.output)).toEqual([1, 3, 3]);
  });
});
