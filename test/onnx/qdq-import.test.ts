/**
 * QDQ import (src/onnx/qdq-import.ts, src/quant/given-grids.ts): arq's own exports come back as the very plan that
 * was exported, bit for bit; files made by ONNX Runtime's quantize_static and PyTorch's exporter
 * (scripts/make-qdq-fixtures.py) run in arq's integer engine on their own grids and give ONNX Runtime's logits;
 * what arq cannot compute as the file says is rejected with a message naming the node.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, test } from 'vitest';
import { loadDataset, makeDataset, npyAsFloat32, readNpySync, type Dataset } from '../../src/data/index.js';
import { FIXTURES, loadFixture } from '../support/fixtures.js';
import { createClassifier } from '../../src/engine/classifier.js';
import { modelFromBytes, type LoadedModel } from '../../src/onnx/model.js';
import { quantizationFromArgs } from '../../src/cli/options.js';
import { calibrate, type Calibration } from '../../src/quant/calibrate.js';
import { givenGridsSpec } from '../../src/engine/given-grids.js';
import { IntPlan, intPlanSpec } from '../../src/engine/int-plan.js';
import { layerNames, uniformPolicy, type Policy } from '../../src/quant/policy.js';
import type { IntPlanSpec } from '../../src/native.js';
import { exportQdq } from '../../src/onnx/qdq.js';
import { decodeModel } from '../../src/onnx/import.js';
import { onnx, type ModelProto, type NodeProto, type TensorProto } from '../../src/onnx/proto.js';
import { fromTensorProto } from '../../src/onnx/tensor.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const QDQ_FIXTURES = path.join(ROOT, 'test/fixtures/qdq');
const MNIST_MODEL = path.join(ROOT, 'models/mnist-cnn-s025.onnx');
const THREADS = 2;

const fixture = (name: string): LoadedModel => modelFromBytes(readFileSync(path.join(QDQ_FIXTURES, `${name}.onnx`)), `${name}.onnx`);
const npy = (name: string): Float32Array => npyAsFloat32(readNpySync(path.join(QDQ_FIXTURES, `${name}.npy`)));
const planOf = (model: LoadedModel): IntPlan => IntPlan.fromSpec(givenGridsSpec(model.graph, model.qdq!));
const sameBits = (a: Float32Array, b: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

/** A file edited as a protobuf, re-encoded, imported, and its integer plan spec built. */
function edited(bytes: Uint8Array, edit: (model: ModelProto) => void): IntPlanSpec {
  const model = decodeModel(bytes, 'edit');
  edit(model);
  const file = modelFromBytes(onnx.ModelProto.encode(model).finish(), 'edited.onnx');
  return givenGridsSpec(file.graph, file.qdq!);
}

/** Replaces a tensor's values (typed field, no raw bytes). */
function setValues(tensor: TensorProto, values: number[]): void {
  tensor.rawData = new Uint8Array();
  tensor.dims = tensor.dims!.length === 0 && values.length === 1 ? [] : [values.length];
  if (tensor.dataType === onnx.TensorProto.DataType.FLOAT) tensor.floatData = values;
  else tensor.int32Data = values;
}

describe('round trip: arq quantize, then import, is the same plan bit for bit', () => {
  let model: LoadedModel;
  let calibration: Calibration;
  let test10k: Dataset;
  beforeAll(async () => {
    model = modelFromBytes(readFileSync(MNIST_MODEL), MNIST_MODEL);
    calibration = await calibrate(model.graph, await loadDataset('mnist:train', 'train', { limit: 256 }), { sigma: 0.25, count: 256, seed: 0 });
    test10k = await loadDataset('mnist:test', 'test', { limit: 300 });
  });

  function expectSameSpec(imported: IntPlanSpec, original: IntPlanSpec): void {
    expect(imported.values).toBe(original.values);
    expect(imported.output).toBe(original.output);
    expect(imported.grids).toEqual(original.grids);
    expect(imported.ops.length).toBe(original.ops.length);
    original.ops.forEach((op, i) => expect(imported.ops[i]).toEqual(op));
  }

  const mixed = (): Policy => {
    const names = layerNames(model.graph);
    const bits: [number, number][] = [[8, 8], [3, 5], [2, 7], [6, 4], [5, 2]];
    return { ...uniformPolicy(model.graph, model.sha256, 8, 8), layers: names.map((name, i) => ({ name, wbits: bits[i % bits.length][0], abits: bits[i % bits.length][1] })) };
  };

  test.each([
    ['W8A8', 8, 8, 21], ['W4A4', 4, 4, 21], ['W4A4 at opset 13 (int8 storage)', 4, 4, 13], ['W2A8', 2, 8, 21], ['mixed', 0, 0, 21], ['mixed at opset 13', 0, 0, 13],
  ])('%s', async (_label, wbits, abits, opset) => {
    const policy = wbits ? uniformPolicy(model.graph, model.sha256, wbits, abits) : mixed();
    const spec = intPlanSpec(model.graph, policy, calibration);
    const file = modelFromBytes(exportQdq(model.graph, spec, { opset }), 'q.onnx');
    expect(file.qdq).toBeDefined();
    expect(file.qdq!.notes).toEqual([]);
    const imported = givenGridsSpec(file.graph, file.qdq!);
    expectSameSpec(imported, spec);
    const [before, after] = await Promise.all([IntPlan.fromSpec(spec), IntPlan.fromSpec(imported)].map((p) => p.run(test10k.images, test10k.count, THREADS)));
    expect(sameBits(after, before)).toBe(true);
  });

  test('--engine int on the file uses its grids; --policy/--bits are refused; --engine float runs the dequantized network', async () => {
    const policy = uniformPolicy(model.graph, model.sha256, 4, 8);
    const file = modelFromBytes(exportQdq(model.graph, intPlanSpec(model.graph, policy, calibration)), 'q.onnx');
    const images = test10k.images.subarray(0, 20 * 784);
    const int = await createClassifier(file, 'int', { threads: THREADS });
    const expected = await IntPlan.build(model.graph, policy, calibration).run(images, 20, THREADS);
    expect(sameBits(await int.logits(images, 20), expected)).toBe(true);
    const args = { engine: 'int', data: 'mnist', sigma: 0.25, calibration: 256, seed: 0 };
    expect(await quantizationFromArgs(args, file)).toBeUndefined();
    await expect(quantizationFromArgs({ ...args, bits: 'w8a8' }, file)).rejects.toThrow(/do not apply to q\.onnx: it is a QDQ file/);
    const float = await createClassifier(file, 'float', { threads: THREADS });
    const logits = await float.logits(images, 20);
    const agree = [...Array(20).keys()].filter((i) => argmaxRow(logits, i) === argmaxRow(expected, i)).length;
    expect(agree).toBeGreaterThanOrEqual(18);
    await Promise.all([int.close(), float.close()]);
  });
});

describe('round trip on every fixture network (Add, GlobalAveragePool, AveragePool, Pad, ReLU6, depthwise, grey-to-RGB Tile) at W4A4', () => {
  test.each([...FIXTURES])('%s', async (name) => {
    const model = loadFixture(name);
    const shape = model.graph.input.shape;
    const count = 16;
    const images = Float32Array.from({ length: count * shape[0] * shape[1] * shape[2] }, (_, i) => ((i * 2654435761) % 1000) / 1000);
    const data = makeDataset({ name: 'synthetic', shape: [shape[0], shape[1], shape[2]], images, labels: new Int32Array(count) });
    const calibration = await calibrate(model.graph, data, { sigma: 0.25, count, seed: 0 });
    const spec = intPlanSpec(model.graph, uniformPolicy(model.graph, model.sha256, 4, 4), calibration);
    const file = modelFromBytes(exportQdq(model.graph, spec), `${name}.qdq.onnx`);
    const imported = givenGridsSpec(file.graph, file.qdq!);
    expect(imported.grids).toEqual(spec.grids);
    spec.ops.forEach((op, i) => expect(imported.ops[i]).toEqual(op));
  });
});

function argmaxRow(logits: Float32Array, row: number, classes = 10): number {
  let best = 0;
  for (let c = 1; c < classes; c++) if (logits[row * classes + c] > logits[row * classes + best]) best = c;
  return best;
}

describe('files made by other tools run on their own grids', () => {
  const inputs = npy('inputs');
  const batch = inputs.length / 784;

  // ONNX Runtime computes these files' integer layers (QLinearConv, QGemm) with the arithmetic arq's engine
  // reproduces on these inputs; docs/qdq.md states where the two can still differ.
  test.each(['ort-u8-perchannel', 'ort-s8-pertensor', 'ort-u8-int4'])('%s: ONNX Runtime quantize_static, the logits of ONNX Runtime', async (name) => {
    const model = fixture(name);
    const logits = await planOf(model).run(inputs, batch, THREADS);
    expect(sameBits(logits, npy(`${name}.logits`))).toBe(true);
  });

  test('ort-s8-pertensor: int8 activations become uint8 grids with the zero point moved by 128; per-tensor weights, one scale per channel', () => {
    const spec = givenGridsSpec(fixture('ort-s8-pertensor').graph, fixture('ort-s8-pertensor').qdq!);
    const u8 = givenGridsSpec(fixture('ort-u8-perchannel').graph, fixture('ort-u8-perchannel').qdq!);
    const proto = decodeModel(readFileSync(path.join(QDQ_FIXTURES, 'ort-s8-pertensor.onnx')), 's8');
    const zeros = (proto.graph!.initializer ?? []).filter((t) => t.name?.endsWith('_output_0_zero_point') && t.dataType === onnx.TensorProto.DataType.INT8);
    expect(zeros.length).toBeGreaterThan(0);
    expect(spec.grids).toEqual(u8.grids);
    for (const op of spec.ops) if (op.op === 'conv' || op.op === 'gemm') expect(new Set(op.weightScales).size).toBe(1);
  });

  test('ort-u8-int4: ONNX Runtime\'s int4 code -8 imports as wbits 5, and the import says so', () => {
    const model = fixture('ort-u8-int4');
    const spec = givenGridsSpec(model.graph, model.qdq!);
    const layers = spec.ops.filter((op) => op.op === 'conv' || op.op === 'gemm');
    expect(layers.every((op) => op.wbits === 5 && op.weight.every((q) => q >= -8 && q <= 7))).toBe(true);
    expect(model.qdq!.notes.length).toBe(layers.length);
    expect(model.qdq!.notes[0]).toMatch(/node '\/conv1\/Conv' \(Conv\): int4 weight codes include -8.*imported as wbits 5/);
  });

  test('torch-qat: PyTorch fake quantization exported to QDQ (weights quantized from float initializers); float logits agree to float rounding', async () => {
    const model = fixture('torch-qat');
    const logits = await planOf(model).run(inputs, batch, THREADS);
    const reference = npy('torch-qat.logits');
    for (let i = 0; i < logits.length; i++) expect(Math.abs(logits[i] - reference[i])).toBeLessThan(1e-3);
    for (let row = 0; row < batch; row++) expect(argmaxRow(logits, row)).toBe(argmaxRow(reference, row));
  });

  test('a Gemm with transB = 0 (weight [in][out], scales along axis 1) is the same layer as with transB = 1', async () => {
    const bytes = readFileSync(path.join(QDQ_FIXTURES, 'ort-u8-perchannel.onnx'));
    const model = decodeModel(bytes, 'edit');
    const nodes = model.graph!.node!;
    const gemm = nodes.find((n) => n.name === '/fc2/Gemm')!;
    gemm.attribute = (gemm.attribute ?? []).filter((a) => a.name !== 'transB');
    const dq = nodes.find((n) => n.output![0] === gemm.input![1])!;
    dq.attribute = [onnx.AttributeProto.create({ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 1 })];
    const codes = model.graph!.initializer!.find((t) => t.name === dq.input![0])!;
    const [rows, cols] = codes.dims!.map(Number);
    const values = fromTensorProto(codes, 'codes').data;
    codes.dims = [cols, rows];
    codes.rawData = Uint8Array.from({ length: rows * cols }, (_, k) => values[(k % rows) * cols + Math.floor(k / rows)] & 255);
    const transposed = modelFromBytes(onnx.ModelProto.encode(model).finish(), 'transposed.onnx');
    const [a, b] = await Promise.all([planOf(transposed), planOf(fixture('ort-u8-perchannel'))].map((p) => p.run(inputs, batch, THREADS)));
    expect(sameBits(a, b)).toBe(true);
  });

  test('torch-qat-s128: weight code -128 (PyTorch\'s default symmetric qint8 scale) is refused by the integer engine, naming the node; ONNX Runtime and the float plan still run the file', async () => {
    const model = fixture('torch-qat-s128');
    await expect(createClassifier(model, 'int', { threads: THREADS })).rejects.toThrow(/torch-qat-s128\.onnx: node '\/Conv' \(Conv\): weight code -128 is outside arq's symmetric 8-bit range \+-127/);
    const [ort, float] = await Promise.all([createClassifier(model, 'ort', { threads: THREADS }), createClassifier(model, 'float', { threads: THREADS })]);
    const reference = npy('torch-qat-s128.logits');
    expect(await ort.logits(inputs, batch)).toEqual(reference);
    const floats = await float.logits(inputs, batch);
    for (let row = 0; row < batch; row++) expect(argmaxRow(floats, row)).toBe(argmaxRow(reference, row));
    await Promise.all([ort.close(), float.close()]);
  });
});

describe('what arq cannot compute as the file says is rejected with the node named', () => {
  const bytes = readFileSync(path.join(QDQ_FIXTURES, 'ort-u8-perchannel.onnx'));
  const nodeOf = (model: ModelProto, test: (n: NodeProto) => boolean) => model.graph!.node!.find(test)!;
  const initializer = (model: ModelProto, name: string) => model.graph!.initializer!.find((t) => t.name === name)!;

  test('a weight with a nonzero zero point', () => {
    expect(() => edited(bytes, (m) => {
      const dq = nodeOf(m, (n) => n.opType === 'DequantizeLinear' && (n.output![0] ?? '').includes('conv2') && (n.input![0] ?? '').includes('weight'));
      const zero = initializer(m, dq.input![2]);
      setValues(zero, fromTensorProto(zero, 'zero').data.map((_, i) => (i === 0 ? 1 : 0)) as unknown as number[]);
    })).toThrow(/node '\/conv2\/Conv' \(Conv\): the weight has a nonzero zero point/);
  });

  test('a layer whose input is not dequantized', () => {
    expect(() => edited(bytes, (m) => {
      // The first layer reads the float input instead of its quantized copy.
      const conv = nodeOf(m, (n) => n.name === '/conv1/Conv');
      const dq = nodeOf(m, (n) => n.output![0] === conv.input![0]);
      const q = nodeOf(m, (n) => n.output![0] === dq.input![0]);
      conv.input![0] = q.input![0];
    })).toThrow(/node '\/conv1\/Conv' \(Conv\): its input '\/Div_output_0' is not dequantized/);
  });

  test('a DequantizeLinear with another scale than its QuantizeLinear', () => {
    expect(() => edited(bytes, (m) => {
      const dq = nodeOf(m, (n) => n.opType === 'DequantizeLinear' && n.output![0] === nodeOf(m, (c) => c.name === '/conv2/Conv').input![0]);
      const other = nodeOf(m, (n) => n.opType === 'QuantizeLinear' && n.input![1] !== dq.input![1]);
      dq.input![1] = other.input![1];
    })).toThrow(/\(DequantizeLinear\): dequantizes with a scale or zero point other than its QuantizeLinear/);
  });

  test('two grids on one value', () => {
    expect(() => edited(bytes, (m) => {
      // The first conv's output gets a second QuantizeLinear -> DequantizeLinear pair at twice the scale.
      const pool = nodeOf(m, (n) => n.name === '/pool1/MaxPool');
      const dq = nodeOf(m, (n) => n.output![0] === pool.input![0]);
      const q = nodeOf(m, (n) => n.output![0] === dq.input![0]);
      const scale = fromTensorProto(initializer(m, q.input![1]), 'scale').data[0];
      m.graph!.initializer!.push(onnx.TensorProto.create({ name: 'other_scale', dims: [], dataType: onnx.TensorProto.DataType.FLOAT, floatData: [scale * 2] }));
      const nodes = m.graph!.node!;
      nodes.splice(nodes.indexOf(dq) + 1, 0,
        onnx.NodeProto.create({ opType: 'QuantizeLinear', name: 'extra_q', input: [q.input![0], 'other_scale', q.input![2]], output: ['extra_codes'] }),
        onnx.NodeProto.create({ opType: 'DequantizeLinear', name: 'extra_dq', input: ['extra_codes', 'other_scale', q.input![2]], output: ['extra_real'] }));
    })).toThrow(/node '(\/pool1\/MaxPool_input_0_DequantizeLinear|extra_dq)' \(DequantizeLinear\): quantizes the output of node '\/conv1\/Conv' \(conv\) onto a grid other than/);
  });

  test('a QuantizeLinear without its scale, an opset before 13, a graph out of order: one message each', () => {
    expect(() => edited(bytes, (m) => {
      nodeOf(m, (n) => n.opType === 'QuantizeLinear').input!.length = 1;
    })).toThrow(/node '\/Div_output_0_QuantizeLinear' \(QuantizeLinear\): expected inputs \(x, scale\[, zero point\]\) and one output/);
    expect(() => edited(bytes, (m) => {
      m.opsetImport.find((o) => !o.domain)!.version = 11;
    })).toThrow(/edited\.onnx: QDQ models of opset 11 are not supported/);
    expect(() => edited(bytes, (m) => {
      m.graph!.node!.reverse();
    })).toThrow(/the graph is not topologically sorted/);
  });

  test('per-axis quantization of an activation', () => {
    expect(() => edited(bytes, (m) => {
      const conv = nodeOf(m, (n) => n.name === '/conv2/Conv');
      const dq = nodeOf(m, (n) => n.output![0] === conv.input![0]);
      const q = nodeOf(m, (n) => n.output![0] === dq.input![0]);
      for (const tensor of [initializer(m, q.input![1]), initializer(m, q.input![2])]) {
        const value = fromTensorProto(tensor, 'grid').data[0];
        setValues(tensor, [value, value]);
      }
    })).toThrow(/per-axis quantization of an activation is not supported/);
  });
});
