/**
 * ONNX (as PyTorch's exporter writes it, opset 7..22) -> arq's graph IR. Nodes whose inputs are all constants are
 * folded (onnx/fold.ts); BatchNormalization folds into the convolution before it; every remaining operator maps to
 * one IR node or is rejected with a message naming the node and its operator.
 */
import { ArqError } from '../util/errors.js';
import { inferShape } from '../graph/shapes.js';
import type { ConvNode, GemmNode, Graph, Node, Shape } from '../graph/ir.js';
import { Attributes } from './attributes.js';
import { FOLDABLE_OPS, foldConstantNode, foldShape, intsOf, reshapeTarget } from './fold.js';
import { onnx, toNumber, type ModelProto, type NodeProto } from './proto.js';
import { BATCH, elementCount, fromTensorProto, toArray, type ConstTensor } from './tensor.js';

export const MAX_OPSET = 22;

/** A value computed at run time: its IR name and its ONNX rank (4 for [N,C,H,W], 2 for [N,F]). */
interface Dynamic {
  readonly value: string;
  readonly rank: 2 | 4;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export function decodeModel(bytes: Uint8Array, source: string): ModelProto {
  let model: ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (error) {
    throw new ArqError(`${source}: not a valid ONNX file (${(error as Error).message})`);
  }
  if (!model.graph || (model.graph.node ?? []).length === 0) throw new ArqError(`${source}: the ONNX file has no graph nodes`);
  return model;
}

export function modelOpset(model: ModelProto): number {
  const entry = (model.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx');
  return entry ? toNumber(entry.version) : 0;
}

class Importer {
  private readonly constants = new Map<string, ConstTensor>();
  private readonly dynamics = new Map<string, Dynamic>();
  private readonly shapes = new Map<string, Shape>();
  private readonly nodes: Mutable<Node>[] = [];
  private readonly producer = new Map<string, number>(); // IR value -> index in nodes
  private readonly uses = new Map<string, number>(); // ONNX value -> number of consumers
  private readonly names = new Set<string>();

  constructor(private readonly model: ModelProto, private readonly opset: number, private readonly source: string) {}

  run(): Graph {
    const graph = this.model.graph!;
    for (const initializer of graph.initializer ?? []) {
      this.constants.set(initializer.name ?? '', fromTensorProto(initializer, `initializer '${initializer.name}'`));
    }
    const input = this.readInput();
    for (const node of graph.node ?? []) for (const name of node.input ?? []) if (name) this.uses.set(name, (this.uses.get(name) ?? 0) + 1);
    for (const output of graph.output ?? []) this.uses.set(output.name ?? '', (this.uses.get(output.name ?? '') ?? 0) + 1);

    (graph.node ?? []).forEach((node, index) => this.importNode(node, index));

    if ((graph.output ?? []).length !== 1) throw new ArqError(`${this.source}: expected one graph output, found ${(graph.output ?? []).length}`);
    const outputName = graph.output![0].name ?? '';
    const output = this.dynamics.get(outputName);
    if (!output) throw new ArqError(`${this.source}: the graph output '${outputName}' does not depend on the input`);
    return { input, output: output.value, nodes: this.nodes as Node[], shapes: this.shapes };
  }

  private readInput(): Graph['input'] {
    const graph = this.model.graph!;
    const inputs = (graph.input ?? []).filter((value) => !this.constants.has(value.name ?? ''));
    if (inputs.length !== 1) throw new ArqError(`${this.source}: expected one graph input, found ${inputs.length}`);
    const value = inputs[0];
    const name = value.name ?? '';
    const tensorType = value.type?.tensorType;
    if (!tensorType || tensorType.elemType !== onnx.TensorProto.DataType.FLOAT) {
      throw new ArqError(`${this.source}: the input '${name}' must be a float32 tensor`);
    }
    const dims = (tensorType.shape?.dim ?? []).map((dim) => (dim.dimParam ? Number.NaN : toNumber(dim.dimValue)));
    const perImage = dims.slice(1);
    if ((dims.length !== 4 && dims.length !== 2) || perImage.some((d) => !Number.isInteger(d) || d < 1)) {
      throw new ArqError(`${this.source}: the input '${name}' must have shape [N, C, H, W] or [N, F] with fixed C, H, W; got [${dims.map((d) => (Number.isNaN(d) ? 'N' : d)).join(', ')}]`);
    }
    const shape: Shape = dims.length === 4 ? [perImage[0], perImage[1], perImage[2]] : [perImage[0], 1, 1];
    this.dynamics.set(name, { value: name, rank: dims.length as 2 | 4 });
    this.shapes.set(name, shape);
    return { name, shape, rank: dims.length as 2 | 4 };
  }

  private fullDims(dynamic: Dynamic): number[] {
    const shape = this.shapes.get(dynamic.value)!;
    return dynamic.rank === 4 ? [BATCH, ...shape] : [BATCH, shape[0]];
  }

  private uniqueName(node: NodeProto, index: number): string {
    let base = node.name || `${node.opType}_${index}`;
    while (this.names.has(base)) base = `${base}_${index}`;
    this.names.add(base);
    return base;
  }

  private emit(node: Mutable<Node>, rank: 2 | 4, onnxOutput: string): void {
    const shape = inferShape(node as Node, node.inputs.map((value) => this.shapes.get(value)!));
    this.shapes.set(node.output, shape);
    this.producer.set(node.output, this.nodes.length);
    this.nodes.push(node);
    this.dynamics.set(onnxOutput, { value: node.output, rank });
  }

  private importNode(node: NodeProto, index: number): void {
    const op = node.opType ?? '';
    const name = this.uniqueName(node, index);
    const label = `node '${name}' (${op})`;
    const inputNames = node.input ?? [];
    const outputs = node.output ?? [];
    if (outputs.length === 0) throw new ArqError(`${label}: has no outputs`);
    for (const extra of outputs.slice(1)) {
      if (extra && (this.uses.get(extra) ?? 0) > 0) throw new ArqError(`${label}: its output '${extra}' is used, but arq supports only the first output of ${op}`);
    }
    for (const inputName of inputNames) {
      if (inputName && !this.constants.has(inputName) && !this.dynamics.has(inputName)) {
        throw new ArqError(`${label}: input '${inputName}' is not produced by any earlier node (is the graph topologically sorted?)`);
      }
    }
    const constInputs = inputNames.map((n) => (n ? this.constants.get(n) : undefined));
    const dynamicInputs = inputNames.filter((n) => n && this.dynamics.has(n));
    const output = outputs[0];

    if (op === 'Shape' && dynamicInputs.length === 1) {
      const dims = this.fullDims(this.dynamics.get(inputNames[0])!);
      this.constants.set(output, foldShape(node, dims, label));
      return;
    }
    if (dynamicInputs.length === 0) {
      if (!FOLDABLE_OPS.has(op)) throw new ArqError(`${label}: operator ${op} on constants is not supported`);
      this.constants.set(output, foldConstantNode(node, constInputs, this.opset, label));
      return;
    }
    const x = this.dynamics.get(dynamicInputs[0])!;
    const attrs = new Attributes(node, label);
    const constAt = (i: number, what: string): ConstTensor => {
      const tensor = constInputs[i];
      if (!tensor) throw new ArqError(`${label}: ${what} (input ${i}) must be a constant`);
      return tensor;
    };
    const alias = (): void => void this.dynamics.set(output, x);
    const base = { name, inputs: [x.value], output };

    switch (op) {
      case 'Identity':
      case 'Dropout':
        return alias();
      case 'Cast':
        if (attrs.int('to') !== onnx.TensorProto.DataType.FLOAT) throw new ArqError(`${label}: only casts to float32 are supported on activations`);
        return alias();
      case 'Conv':
        return this.emit(this.conv(node, label, attrs, x, constAt, base), 4, output);
      case 'BatchNormalization':
        return this.batchNorm(label, attrs, x, constAt, base, output);
      case 'Gemm':
      case 'MatMul':
        return this.emit(this.gemm(op, label, attrs, x, constInputs, constAt, base), 2, output);
      case 'Relu':
        return this.emit({ ...base, op: 'clamp', range: { min: 0, max: Number.POSITIVE_INFINITY } }, x.rank, output);
      case 'Clip': {
        const bound = (i: number, attr: string, fallback: number) => {
          if (this.opset < 11) return attrs.float(attr, fallback);
          const tensor = inputNames[i] ? constAt(i, `the ${attr} bound`) : undefined;
          return tensor ? tensor.data[0] : fallback;
        };
        const range = { min: bound(1, 'min', Number.NEGATIVE_INFINITY), max: bound(2, 'max', Number.POSITIVE_INFINITY) };
        return this.emit({ ...base, op: 'clamp', range }, x.rank, output);
      }
      case 'Add':
      case 'Sub':
      case 'Mul':
      case 'Div':
        return this.arithmetic(op, label, inputNames, constInputs, x, base, output);
      case 'Pad':
        return this.emit(this.pad(label, attrs, x, inputNames, constAt, base), 4, output);
      case 'MaxPool':
      case 'AveragePool':
        return this.emit(this.pool(op, label, attrs, x, base), 4, output);
      case 'GlobalAveragePool':
        this.requireRank(x, 4, label);
        return this.emit({ ...base, op: 'globalavgpool' }, 4, output);
      case 'Flatten': {
        const axis = attrs.int('axis', 1);
        if (axis !== 1 && axis !== 1 - x.rank) throw new ArqError(`${label}: only Flatten with axis 1 is supported, got ${axis}`);
        return x.rank === 2 ? alias() : this.emit({ ...base, op: 'flatten' }, 2, output);
      }
      case 'Reshape':
        return this.reshape(label, attrs, x, constAt(1, 'the target shape'), base, output);
      case 'Tile':
      case 'Expand':
        return this.repeat(op, label, x, constAt(1, op === 'Tile' ? 'repeats' : 'the shape'), base, output);
      default:
        throw new ArqError(`${label}: unsupported operator ${op}`);
    }
  }

  private requireRank(x: Dynamic, rank: 2 | 4, label: string): void {
    if (x.rank !== rank) throw new ArqError(`${label}: expected a rank-${rank} input, got rank ${x.rank}`);
  }

  private spatialPads(attrs: Attributes, label: string): [number, number, number, number] {
    const autoPad = attrs.string('auto_pad', 'NOTSET');
    if (autoPad !== 'NOTSET' && autoPad !== 'VALID') throw new ArqError(`${label}: auto_pad ${autoPad} is not supported; export with explicit pads`);
    const pads = autoPad === 'VALID' ? [0, 0, 0, 0] : attrs.ints('pads', [0, 0, 0, 0]);
    if (pads.length !== 4 || pads.some((p) => p < 0)) throw new ArqError(`${label}: pads must be 4 non-negative values, got [${pads.join(', ')}]`);
    return [pads[0], pads[1], pads[2], pads[3]];
  }

  private checkDilations(attrs: Attributes, label: string): void {
    const dilations = attrs.ints('dilations', [1, 1]);
    if (dilations.some((d) => d !== 1)) throw new ArqError(`${label}: dilations other than 1 are not supported, got [${dilations.join(', ')}]`);
  }

  private conv(node: NodeProto, label: string, attrs: Attributes, x: Dynamic, constAt: (i: number, what: string) => ConstTensor, base: { name: string; inputs: string[]; output: string }): ConvNode {
    this.requireRank(x, 4, label);
    const weight = constAt(1, 'the weight');
    if (weight.dims.length !== 4) throw new ArqError(`${label}: only 2-D convolutions are supported (weight dims [${weight.dims.join(', ')}])`);
    this.checkDilations(attrs, label);
    const kernel = attrs.ints('kernel_shape', weight.dims.slice(2));
    if (kernel[0] !== weight.dims[2] || kernel[1] !== weight.dims[3]) throw new ArqError(`${label}: kernel_shape disagrees with the weight`);
    const strides = attrs.ints('strides', [1, 1]);
    const bias = (node.input ?? [])[2] ? constAt(2, 'the bias') : undefined;
    return {
      ...base, op: 'conv', weight: Float32Array.from(weight.data), bias: bias ? Float32Array.from(bias.data) : undefined,
      outChannels: weight.dims[0], kernel: [kernel[0], kernel[1]], strides: [strides[0], strides[1]],
      pads: this.spatialPads(attrs, label), group: attrs.int('group', 1),
    };
  }

  private batchNorm(label: string, attrs: Attributes, x: Dynamic, constAt: (i: number, what: string) => ConstTensor, base: { name: string; inputs: string[]; output: string }, output: string): void {
    if (attrs.int('training_mode', 0) !== 0) throw new ArqError(`${label}: training-mode batch norm cannot be imported; export the model in eval mode`);
    const [gamma, beta, mean, variance] = [1, 2, 3, 4].map((i) => constAt(i, ['scale', 'bias', 'mean', 'variance'][i - 1]).data);
    const epsilon = attrs.float('epsilon', 1e-5);
    const channels = this.shapes.get(x.value)![0];
    if ([gamma, beta, mean, variance].some((t) => t.length !== channels)) throw new ArqError(`${label}: parameters must have ${channels} values`);
    const scale = Array.from(gamma, (g, c) => g / Math.sqrt(variance[c] + epsilon));
    const shift = Array.from(beta, (b, c) => b - mean[c] * scale[c]);
    const producerIndex = this.producer.get(x.value);
    const producer = producerIndex === undefined ? undefined : this.nodes[producerIndex];
    const onlyConsumer = [...this.dynamics.entries()].filter(([, d]) => d.value === x.value).every(([onnxName]) => (this.uses.get(onnxName) ?? 0) <= 1);
    if (producer?.op === 'conv' && onlyConsumer) {
      // Fold: w' = w * scale_c, b' = (b - mean) * scale + beta, computed in float64.
      const perChannel = producer.weight.length / producer.outChannels;
      const weight = Float32Array.from(producer.weight, (w, i) => w * scale[Math.floor(i / perChannel)]);
      const bias = Float32Array.from(shift, (s, c) => s + (producer.bias ? producer.bias[c] : 0) * scale[c]);
      this.nodes[producerIndex!] = { ...producer, weight, bias };
      this.dynamics.set(output, x);
      return;
    }
    // Not after a convolution: y = x * scale + shift as two per-channel elementwise nodes.
    const scaled = `${base.output}::scaled`;
    this.emit({ ...base, output: scaled, op: 'elementwise', operation: 'mul', constant: Float32Array.from(scale), constantFirst: false }, x.rank, scaled);
    this.emit({ ...base, name: `${base.name}::shift`, inputs: [scaled], op: 'elementwise', operation: 'add', constant: Float32Array.from(shift), constantFirst: false }, x.rank, output);
  }

  private gemm(op: string, label: string, attrs: Attributes, x: Dynamic, constInputs: (ConstTensor | undefined)[], constAt: (i: number, what: string) => ConstTensor, base: { name: string; inputs: string[]; output: string }): GemmNode {
    this.requireRank(x, 2, label);
    const inFeatures = this.shapes.get(x.value)![0];
    const b = constAt(1, 'the weight');
    if (b.dims.length !== 2) throw new ArqError(`${label}: the weight must be 2-D, got [${b.dims.join(', ')}]`);
    if (op === 'Gemm' && attrs.int('transA', 0) !== 0) throw new ArqError(`${label}: transA=1 is not supported`);
    const transB = op === 'Gemm' ? attrs.int('transB', 0) === 1 : false;
    const [rows, cols] = b.dims;
    const outFeatures = transB ? rows : cols;
    if ((transB ? cols : rows) !== inFeatures) throw new ArqError(`${label}: the weight [${b.dims.join(', ')}] does not fit ${inFeatures} input features`);
    const alpha = op === 'Gemm' ? attrs.float('alpha', 1) : 1;
    const weight = new Float32Array(outFeatures * inFeatures);
    for (let o = 0; o < outFeatures; o++) {
      for (let i = 0; i < inFeatures; i++) weight[o * inFeatures + i] = alpha * b.data[transB ? o * cols + i : i * cols + o];
    }
    let bias: Float32Array | undefined;
    if (op === 'Gemm' && constInputs[2]) {
      const c = constInputs[2];
      const beta = attrs.float('beta', 1);
      if (elementCount(c.dims) !== outFeatures && elementCount(c.dims) !== 1) throw new ArqError(`${label}: the bias must have ${outFeatures} values`);
      bias = Float32Array.from({ length: outFeatures }, (_, o) => beta * c.data[c.data.length === 1 ? 0 : o]);
    }
    return { ...base, op: 'gemm', weight, bias, outFeatures };
  }

  /** Per-channel constant of an elementwise op, or undefined if it does not broadcast per channel. */
  private channelConstant(constant: ConstTensor, x: Dynamic): Float32Array | undefined {
    const channels = this.shapes.get(x.value)![0];
    const full = this.fullDims(x);
    const dims = constant.dims;
    if (dims.length > full.length) return undefined;
    const aligned = [...new Array<number>(full.length - dims.length).fill(1), ...dims];
    const ok = aligned.every((d, axis) => d === 1 || (axis === 1 && d === channels));
    return ok ? Float32Array.from(constant.data) : undefined;
  }

  private arithmetic(op: string, label: string, inputNames: string[], constInputs: (ConstTensor | undefined)[], x: Dynamic, base: { name: string; inputs: string[]; output: string }, output: string): void {
    const dynamicCount = inputNames.filter((n) => this.dynamics.has(n)).length;
    if (dynamicCount === 2) {
      if (op !== 'Add') throw new ArqError(`${label}: ${op} of two activations is not supported`);
      const [a, b] = inputNames.map((n) => this.dynamics.get(n)!);
      return this.emit({ ...base, inputs: [a.value, b.value], op: 'add' }, a.rank, output);
    }
    const constantFirst = !this.dynamics.has(inputNames[0]);
    const constant = constInputs[constantFirst ? 0 : 1]!;
    const values = this.channelConstant(constant, x);
    if (!values) throw new ArqError(`${label}: a constant of shape [${constant.dims.join(', ')}] must be a scalar or one value per channel`);
    // MatMul followed by Add of a bias vector is a fully connected layer with bias.
    const producerIndex = this.producer.get(x.value);
    const producer = producerIndex === undefined ? undefined : this.nodes[producerIndex];
    if (op === 'Add' && producer?.op === 'gemm' && !producer.bias && values.length === producer.outFeatures && (this.uses.get(inputNames[constantFirst ? 1 : 0]) ?? 0) === 1) {
      this.nodes[producerIndex!] = { ...producer, bias: values };
      this.dynamics.set(output, x);
      return;
    }
    const operation = op.toLowerCase() as 'add' | 'sub' | 'mul' | 'div';
    this.emit({ ...base, op: 'elementwise', operation, constant: values, constantFirst }, x.rank, output);
  }

  private pad(label: string, attrs: Attributes, x: Dynamic, inputNames: string[], constAt: (i: number, what: string) => ConstTensor, base: { name: string; inputs: string[]; output: string }): Node {
    this.requireRank(x, 4, label);
    const mode = attrs.string('mode', 'constant');
    if (mode !== 'constant') throw new ArqError(`${label}: only constant padding is supported, got mode '${mode}'`);
    let pads: number[];
    let value = 0;
    if (this.opset < 11) {
      pads = attrs.ints('pads');
      value = attrs.float('value', 0);
    } else {
      pads = intsOf(constAt(1, 'pads'), label, 'pads');
      if (inputNames[2]) value = constAt(2, 'the pad value').data[0] ?? 0;
      if (inputNames[3]) {
        const axes = intsOf(constAt(3, 'axes'), label, 'axes').map((a) => (a < 0 ? a + 4 : a));
        const full = new Array<number>(8).fill(0);
        axes.forEach((axis, i) => { full[axis] = pads[i]; full[axis + 4] = pads[i + axes.length]; });
        pads = full;
      }
    }
    if (pads.length !== 8) throw new ArqError(`${label}: expected 8 pad values for a 4-D input, got ${pads.length}`);
    if (pads[0] !== 0 || pads[1] !== 0 || pads[4] !== 0 || pads[5] !== 0) throw new ArqError(`${label}: only spatial padding is supported, got [${pads.join(', ')}]`);
    if (pads.some((p) => p < 0)) throw new ArqError(`${label}: negative padding (cropping) is not supported`);
    return { ...base, op: 'pad', pads: [pads[2], pads[3], pads[6], pads[7]], value };
  }

  private pool(op: string, label: string, attrs: Attributes, x: Dynamic, base: { name: string; inputs: string[]; output: string }): Node {
    this.requireRank(x, 4, label);
    this.checkDilations(attrs, label);
    const kernel = attrs.ints('kernel_shape');
    const strides = attrs.ints('strides', [1, 1]);
    const pads = this.spatialPads(attrs, label);
    const countIncludePad = op === 'AveragePool' && attrs.int('count_include_pad', 0) === 1;
    if (attrs.int('ceil_mode', 0) === 1) {
      // Ceil mode adds a last window where the input does not divide evenly. For max pooling extra bottom/right
      // padding reproduces it exactly (padding never wins a max); for average pooling the divisor would differ.
      const [, h, w] = this.shapes.get(x.value)!;
      const extra = (size: number, axis: 0 | 1) => {
        const span = size + pads[axis] + pads[axis + 2] - kernel[axis];
        return span % strides[axis] === 0 ? 0 : strides[axis] - (span % strides[axis]);
      };
      const [extraH, extraW] = [extra(h, 0), extra(w, 1)];
      if (extraH || extraW) {
        if (op === 'AveragePool') throw new ArqError(`${label}: ceil_mode=1 changes the output size of this average pool, which arq does not support`);
        pads[2] += extraH;
        pads[3] += extraW;
      }
    }
    return { ...base, op: op === 'MaxPool' ? 'maxpool' : 'avgpool', kernel: [kernel[0], kernel[1]], strides: [strides[0], strides[1]], pads, countIncludePad };
  }

  private reshape(label: string, attrs: Attributes, x: Dynamic, target: ConstTensor, base: { name: string; inputs: string[]; output: string }, output: string): void {
    const dims = this.fullDims(x);
    const perImage = elementCount(dims.slice(1));
    const wanted = intsOf(target, label, 'the target shape').map((d, axis) => (d === 0 && attrs.int('allowzero', 0) === 0 ? dims[axis] : d));
    // The batch dimension is NaN: it may stay symbolic (NaN), or the per-image part may be given and the batch be -1.
    const leadingBatch = wanted.length >= 1 && (Number.isNaN(wanted[0]) || wanted[0] === -1);
    const rest = wanted.slice(1);
    if (leadingBatch && !rest.some(Number.isNaN)) {
      const resolved = Number.isNaN(wanted[0]) || rest.includes(-1) ? reshapeTarget(dims.slice(1), rest, true, label) : rest;
      if (elementCount(resolved) === perImage) {
        if (resolved.length === 1) return x.rank === 2 ? void this.dynamics.set(output, x) : this.emit({ ...base, op: 'flatten' }, 2, output);
        if (resolved.length === dims.length - 1 && resolved.every((d, i) => d === dims[i + 1])) return void this.dynamics.set(output, x);
      }
    }
    throw new ArqError(`${label}: reshaping [N, ${dims.slice(1).join(', ')}] to [${toArray(target).map((d) => (Number.isNaN(d) ? 'N' : d)).join(', ')}] is not supported (only flattening to [N, -1])`);
  }

  private repeat(op: string, label: string, x: Dynamic, argument: ConstTensor, base: { name: string; inputs: string[]; output: string }, output: string): void {
    this.requireRank(x, 4, label);
    const dims = this.fullDims(x);
    const values = intsOf(argument, label, op === 'Tile' ? 'repeats' : 'the shape');
    if (values.length !== 4) throw new ArqError(`${label}: expected 4 values, got [${values.join(', ')}]`);
    let factor: number;
    if (op === 'Tile') {
      if (values[0] !== 1 || values[2] !== 1 || values[3] !== 1) throw new ArqError(`${label}: only repeating channels is supported, got repeats [${values.join(', ')}]`);
      factor = values[1];
    } else {
      // Expand broadcasts: a dim of 1 in either shape takes the other's size.
      const spatialOk = [2, 3].every((axis) => values[axis] === 1 || values[axis] === dims[axis]);
      const channels = dims[1];
      if (!spatialOk || (values[1] !== 1 && values[1] !== channels && channels !== 1)) {
        throw new ArqError(`${label}: only broadcasting a single channel is supported, got shape [${values.join(', ')}]`);
      }
      factor = channels === 1 ? values[1] : 1;
    }
    if (factor === 1) return void this.dynamics.set(output, x);
    this.emit({ ...base, op: 'repeat', factor }, 4, output);
  }
}

/** Imports a decoded model. `source` names the file in errors. */
export function importModel(model: ModelProto, source: string): Graph {
  const opset = modelOpset(model);
  if (opset < 7 || opset > MAX_OPSET) throw new ArqError(`${source}: ONNX opset ${opset} is not supported (arq reads opsets 7 to ${MAX_OPSET})`);
  return new Importer(model, opset, source).run();
}
