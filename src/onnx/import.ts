/**
 * ONNX (as PyTorch's exporter writes it, opset 7..22) -> arq's graph IR. The graph's structure is checked first
 * (onnx/validate.ts); nodes whose inputs are all constants are folded (onnx/fold.ts); BatchNormalization folds into
 * the convolution before it; every remaining operator maps to one IR node or is rejected with a message naming the
 * node and its operator.
 *
 * Each operator is checked as ONNX's checker and ONNX Runtime's kernels check it (the shape of every constant
 * against its use, attribute ranges), and beyond that where arq would otherwise compute garbage that ONNX Runtime
 * computes silently: every float constant that reaches the IR must be finite, a Div must not divide by zero or by a
 * constant whose reciprocal overflows, a batch norm's variance + epsilon must be positive, and folded weights must
 * stay finite in float32. Errors name the file, the node (name and operator) and the tensor.
 */
import { ArqError } from '../util/errors.js';
import { inferShape, MAX_VALUE_ELEMENTS } from '../graph/shapes.js';
import { shapeSize, type ConvNode, type GemmNode, type Graph, type Node, type Shape } from '../graph/ir.js';
import { Attributes } from './attributes.js';
import { FOLDABLE_OPS, foldConstantNode, foldShape, intsOf, reshapeTarget } from './fold.js';
import { onnx, toNumber, type ModelProto, type NodeProto } from './proto.js';
import { BATCH, elementCount, fromTensorProto, requireFinite, toArray, type ConstTensor } from './tensor.js';
import { describeNode, validateGraph } from './validate.js';

export const MAX_OPSET = 22;

/** The smallest normal float32: a divisor below it (a denormal) has a reciprocal beyond float32's range. */
const FLOAT32_MIN_NORMAL = 2 ** -126;

/**
 * Inputs and outputs of each operator arq maps to the IR, as its ONNX schemas over opsets 7..22 allow them
 * ([min, max] inputs, trailing optional inputs counted; max outputs). Operators arq does not map are not listed.
 */
const ARITY: Record<string, { readonly inputs: readonly [number, number]; readonly outputs: number }> = {
  Identity: { inputs: [1, 1], outputs: 1 }, Dropout: { inputs: [1, 3], outputs: 2 }, Cast: { inputs: [1, 1], outputs: 1 },
  Conv: { inputs: [2, 3], outputs: 1 }, BatchNormalization: { inputs: [5, 5], outputs: 5 }, Gemm: { inputs: [2, 3], outputs: 1 },
  MatMul: { inputs: [2, 2], outputs: 1 }, Relu: { inputs: [1, 1], outputs: 1 }, Clip: { inputs: [1, 3], outputs: 1 },
  Add: { inputs: [2, 2], outputs: 1 }, Sub: { inputs: [2, 2], outputs: 1 }, Mul: { inputs: [2, 2], outputs: 1 },
  Div: { inputs: [2, 2], outputs: 1 }, Pad: { inputs: [1, 4], outputs: 1 }, MaxPool: { inputs: [1, 1], outputs: 2 },
  AveragePool: { inputs: [1, 1], outputs: 1 }, GlobalAveragePool: { inputs: [1, 1], outputs: 1 },
  Flatten: { inputs: [1, 1], outputs: 1 }, Reshape: { inputs: [2, 2], outputs: 1 }, Tile: { inputs: [2, 2], outputs: 1 },
  Expand: { inputs: [2, 2], outputs: 1 },
};

/** Operators whose activation may be either input; every other operator reads its activation as input 0. */
const COMMUTED_OPS = new Set(['Add', 'Sub', 'Mul', 'Div']);

/** A value computed at run time: its IR name and its ONNX rank (4 for [N,C,H,W], 2 for [N,F]). */
interface Dynamic {
  readonly value: string;
  readonly rank: 2 | 4;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

type Base = { name: string; inputs: string[]; output: string };

/** One node's inputs as an operator's import reads them; errors name the node and the tensor. */
interface Operands {
  readonly label: string;
  readonly names: readonly string[];
  /** Whether optional input `i` is given. */
  has(i: number): boolean;
  /** Input `i`, which must be a constant; `what` says what it is ("the weight"). */
  constAt(i: number, what: string): ConstTensor;
  /** Like constAt, and every value must be finite (weights, biases, batch-norm parameters, constants). */
  finiteAt(i: number, what: string): ConstTensor;
  /** How errors name input `i`: `'w'`, or `'t' (computed by node 'd' (Div))` for a folded constant. */
  tensor(i: number): string;
}

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
  /** The node that computed each folded constant (initializers have none). */
  private readonly constantSource = new Map<string, string>();
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
      this.constants.set(initializer.name ?? '', fromTensorProto(initializer, `${this.source}: initializer '${initializer.name}'`));
    }
    const input = this.readInput();
    for (const node of graph.node ?? []) for (const name of node.input ?? []) if (name) this.uses.set(name, (this.uses.get(name) ?? 0) + 1);
    for (const output of graph.output ?? []) this.uses.set(output.name ?? '', (this.uses.get(output.name ?? '') ?? 0) + 1);

    (graph.node ?? []).forEach((node, index) => this.importNode(node, index));

    if ((graph.output ?? []).length !== 1) throw new ArqError(`${this.source}: expected one graph output, found ${(graph.output ?? []).length}`);
    const outputName = graph.output![0].name ?? '';
    const output = this.dynamics.get(outputName);
    if (!output) throw new ArqError(`${this.source}: the graph output '${outputName}' does not depend on the input`);
    return { input, output: output.value, nodes: this.nodes, shapes: this.shapes };
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
    if (shapeSize(shape) > MAX_VALUE_ELEMENTS) {
      throw new ArqError(`${this.source}: the input '${name}' of shape [N, ${perImage.join(', ')}] holds more than arq's limit of ${MAX_VALUE_ELEMENTS} elements per image`);
    }
    this.dynamics.set(name, { value: name, rank: dims.length });
    this.shapes.set(name, shape);
    return { name, shape, rank: dims.length };
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

  private emit(node: Mutable<Node>, rank: 2 | 4, onnxOutput: string, label: string): void {
    const shape = inferShape(node, node.inputs.map((value) => this.shapes.get(value)!), label);
    this.shapes.set(node.output, shape);
    this.producer.set(node.output, this.nodes.length);
    this.nodes.push(node);
    this.dynamics.set(onnxOutput, { value: node.output, rank });
  }

  private operands(label: string, names: readonly string[]): Operands {
    const tensor = (i: number): string => {
      const source = this.constantSource.get(names[i]);
      return source ? `'${names[i]}' (computed by ${source})` : `'${names[i]}'`;
    };
    const constAt = (i: number, what: string): ConstTensor => {
      const value = names[i] ? this.constants.get(names[i]) : undefined;
      if (!value) throw new ArqError(`${label}: ${what} (input ${i}) must be a constant`);
      return value;
    };
    return {
      label, names, tensor, constAt,
      has: (i) => Boolean(names[i]),
      finiteAt: (i, what) => {
        const value = constAt(i, what);
        // The activations are float32, and ONNX's type constraints make weights and constants the same type.
        if (value.kind !== 'float') throw new ArqError(`${label}: ${what} ${tensor(i)} must be a float tensor, it holds ${value.kind} values`);
        requireFinite(value.data, `${label}: ${what} ${tensor(i)}`);
        return value;
      },
    };
  }

  private importNode(node: NodeProto, index: number): void {
    const op = node.opType ?? '';
    const name = this.uniqueName(node, index);
    const label = `${this.source}: node '${name}' (${op})`;
    if (node.domain && node.domain !== 'ai.onnx') throw new ArqError(`${label}: operator ${op} of domain '${node.domain}' is not supported (arq reads the standard ONNX domain)`);
    const inputNames = node.input ?? [];
    const outputs = node.output ?? [];
    if (outputs.length === 0 || !outputs[0]) throw new ArqError(`${label}: has no output`);
    for (const extra of outputs.slice(1)) {
      if (extra && (this.uses.get(extra) ?? 0) > 0) throw new ArqError(`${label}: its output '${extra}' is used, but arq supports only the first output of ${op}`);
    }
    const constInputs = inputNames.map((n) => (n ? this.constants.get(n) : undefined));
    const dynamicInputs = inputNames.filter((n) => n && this.dynamics.has(n));
    const output = outputs[0];

    if (op === 'Shape' && dynamicInputs.length === 1) {
      const dims = this.fullDims(this.dynamics.get(inputNames[0])!);
      this.constants.set(output, foldShape(node, dims, label));
      this.constantSource.set(output, describeNode(node, index));
      return;
    }
    if (dynamicInputs.length === 0) {
      if (!FOLDABLE_OPS.has(op)) throw new ArqError(`${label}: operator ${op} on constants is not supported`);
      this.constants.set(output, foldConstantNode(node, constInputs, this.opset, label));
      this.constantSource.set(output, describeNode(node, index));
      return;
    }
    const arity = ARITY[op];
    if (arity) {
      const [min, max] = arity.inputs;
      if (inputNames.length < min || inputNames.length > max) {
        throw new ArqError(`${label}: has ${inputNames.length} inputs, ${op} takes ${min === max ? min : `${min} to ${max}`}`);
      }
      if (outputs.length > arity.outputs) throw new ArqError(`${label}: has ${outputs.length} outputs, ${op} has at most ${arity.outputs}`);
      if (!COMMUTED_OPS.has(op) && inputNames[0] !== dynamicInputs[0]) {
        throw new ArqError(`${label}: the activation '${dynamicInputs[0]}' must be input 0, it is input ${inputNames.indexOf(dynamicInputs[0])}`);
      }
    }
    const x = this.dynamics.get(dynamicInputs[0])!;
    const attrs = new Attributes(node, label);
    const operands = this.operands(label, inputNames);
    const alias = (): void => void this.dynamics.set(output, x);
    const base: Base = { name, inputs: [x.value], output };
    const emit = (irNode: Mutable<Node>, rank: 2 | 4): void => this.emit(irNode, rank, output, label);

    switch (op) {
      case 'Identity':
        return alias();
      case 'Dropout':
        // Since opset 12 a constant training_mode input of true makes Dropout drop values at inference too.
        if (operands.has(2) && operands.constAt(2, 'training_mode').data[0]) throw new ArqError(`${label}: Dropout in training mode cannot be imported; export the model in eval mode`);
        return alias();
      case 'Cast':
        if (attrs.int('to') !== onnx.TensorProto.DataType.FLOAT) throw new ArqError(`${label}: only casts to float32 are supported on activations`);
        return alias();
      case 'Conv':
        return emit(this.conv(operands, attrs, x, base), 4);
      case 'BatchNormalization':
        return this.batchNorm(operands, attrs, x, base);
      case 'Gemm':
      case 'MatMul':
        return emit(this.gemm(op, operands, attrs, x, base), 2);
      case 'Relu':
        return emit({ ...base, op: 'clamp', range: { min: 0, max: Number.POSITIVE_INFINITY } }, x.rank);
      case 'Clip':
        return emit({ ...base, op: 'clamp', range: this.clipRange(operands, attrs) }, x.rank);
      case 'Add':
      case 'Sub':
      case 'Mul':
      case 'Div':
        return this.arithmetic(op, operands, x, base);
      case 'Pad':
        return emit(this.pad(operands, attrs, x, base), 4);
      case 'MaxPool':
      case 'AveragePool':
        return emit(this.pool(op, label, attrs, x, base), 4);
      case 'GlobalAveragePool':
        this.requireRank(x, 4, label);
        return emit({ ...base, op: 'globalavgpool' }, 4);
      case 'Flatten': {
        const axis = attrs.int('axis', 1);
        if (axis !== 1 && axis !== 1 - x.rank) throw new ArqError(`${label}: only Flatten with axis 1 is supported, got ${axis}`);
        return x.rank === 2 ? alias() : emit({ ...base, op: 'flatten' }, 2);
      }
      case 'Reshape':
        return this.reshape(label, attrs, x, operands.constAt(1, 'the target shape'), base);
      case 'Tile':
      case 'Expand':
        return this.repeat(op, label, x, operands.constAt(1, op === 'Tile' ? 'repeats' : 'the shape'), base);
      default:
        throw new ArqError(`${label}: unsupported operator ${op}`);
    }
  }

  private requireRank(x: Dynamic, rank: 2 | 4, label: string): void {
    if (x.rank !== rank) throw new ArqError(`${label}: expected a rank-${rank} input, got rank ${x.rank}`);
  }

  /** A 0/1 flag attribute (transB, ceil_mode, count_include_pad, ...). */
  private flag(attrs: Attributes, name: string, label: string): boolean {
    const value = attrs.int(name, 0);
    if (value !== 0 && value !== 1) throw new ArqError(`${label}: attribute ${name} must be 0 or 1, got ${value}`);
    return value === 1;
  }

  /** A float attribute that must be finite (epsilon, alpha, beta, Clip bounds before opset 11). */
  private finiteFloat(attrs: Attributes, name: string, fallback: number, label: string): number {
    const value = attrs.float(name, fallback);
    if (!Number.isFinite(value)) throw new ArqError(`${label}: attribute ${name} is ${value}; it must be finite`);
    return value;
  }

  /** Two spatial values of a Conv/pool attribute (kernel_shape, strides, dilations), each an integer >= `min`. */
  private spatialInts(attrs: Attributes, name: string, fallback: number[] | undefined, min: number, label: string): [number, number] {
    const values = attrs.ints(name, fallback);
    if (values.length !== 2 || values.some((v) => !Number.isInteger(v) || v < min)) {
      throw new ArqError(`${label}: attribute ${name} must be 2 integers >= ${min} for a 2-D input, got [${values.join(', ')}]`);
    }
    return [values[0], values[1]];
  }

  /**
   * Kernel, strides and pads of a Conv or pooling node (2-D, dilation 1). `kernelOfWeight` is the Conv weight's
   * kernel, which kernel_shape must match; pooling needs kernel_shape and, as ONNX Runtime requires, pads smaller
   * than the kernel.
   */
  private window(attrs: Attributes, label: string, kernelOfWeight?: [number, number]) {
    const kernel = this.spatialInts(attrs, 'kernel_shape', kernelOfWeight, 1, label);
    if (kernelOfWeight && (kernel[0] !== kernelOfWeight[0] || kernel[1] !== kernelOfWeight[1])) {
      throw new ArqError(`${label}: kernel_shape [${kernel.join(', ')}] disagrees with the weight's kernel [${kernelOfWeight.join(', ')}]`);
    }
    const strides = this.spatialInts(attrs, 'strides', [1, 1], 1, label);
    const dilations = attrs.ints('dilations', [1, 1]);
    if (dilations.length !== 2 || dilations.some((d) => d !== 1)) throw new ArqError(`${label}: dilations other than 1 are not supported, got [${dilations.join(', ')}]`);
    const autoPad = attrs.string('auto_pad', 'NOTSET');
    if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') throw new ArqError(`${label}: auto_pad ${autoPad} is not supported; export with explicit pads`);
    if (autoPad !== 'NOTSET' && autoPad !== 'VALID') throw new ArqError(`${label}: auto_pad '${autoPad}' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID`);
    const pads = autoPad === 'VALID' ? [0, 0, 0, 0] : attrs.ints('pads', [0, 0, 0, 0]);
    if (pads.length !== 4 || pads.some((p) => !Number.isInteger(p) || p < 0)) throw new ArqError(`${label}: pads must be 4 non-negative values, got [${pads.join(', ')}]`);
    if (!kernelOfWeight && pads.some((p, i) => p >= kernel[i % 2])) {
      throw new ArqError(`${label}: pads [${pads.join(', ')}] must be smaller than the kernel [${kernel.join(', ')}]`);
    }
    return { kernel, strides, pads: [pads[0], pads[1], pads[2], pads[3]] as [number, number, number, number] };
  }

  private conv(operands: Operands, attrs: Attributes, x: Dynamic, base: Base): ConvNode {
    const { label } = operands;
    this.requireRank(x, 4, label);
    const weight = operands.finiteAt(1, 'the weight');
    const dims = weight.dims;
    if (dims.length !== 4) throw new ArqError(`${label}: only 2-D convolutions are supported (the weight ${operands.tensor(1)} has dims [${dims.join(', ')}])`);
    if (dims.some((d) => d < 1)) throw new ArqError(`${label}: the weight ${operands.tensor(1)} has an empty dim: [${dims.join(', ')}]`);
    const channels = this.shapes.get(x.value)![0];
    const group = attrs.int('group', 1);
    if (group < 1 || channels % group !== 0) throw new ArqError(`${label}: group ${group} does not divide the ${channels} input channels`);
    const [outChannels, perGroup] = dims;
    if (perGroup * group !== channels) {
      throw new ArqError(`${label}: the weight ${operands.tensor(1)} [${dims.join(', ')}] expects ${perGroup * group} input channels (${perGroup} per group x ${group} groups), the input has ${channels}`);
    }
    if (outChannels % group !== 0) throw new ArqError(`${label}: the weight ${operands.tensor(1)} has ${outChannels} output channels, which group ${group} does not divide`);
    const { kernel, strides, pads } = this.window(attrs, label, [dims[2], dims[3]]);
    let bias: Float32Array | undefined;
    if (operands.has(2)) {
      const tensor = operands.finiteAt(2, 'the bias');
      if (tensor.dims.length !== 1 || tensor.dims[0] !== outChannels) {
        throw new ArqError(`${label}: the bias ${operands.tensor(2)} has dims [${tensor.dims.join(', ')}], expected [${outChannels}] (one value per output channel)`);
      }
      bias = Float32Array.from(tensor.data);
    }
    return { ...base, op: 'conv', weight: Float32Array.from(weight.data), bias, outChannels, kernel, strides, pads, group };
  }

  private batchNorm(operands: Operands, attrs: Attributes, x: Dynamic, base: Base): void {
    const { label } = operands;
    if (attrs.int('training_mode', 0) !== 0) throw new ArqError(`${label}: training-mode batch norm cannot be imported; export the model in eval mode`);
    if (this.opset < 9 && attrs.int('spatial', 1) !== 1) throw new ArqError(`${label}: spatial=0 (per-element statistics) is not supported`);
    const channels = this.shapes.get(x.value)![0];
    const [gamma, beta, mean, variance] = ['scale', 'bias', 'mean', 'variance'].map((what, i) => {
      const tensor = operands.finiteAt(i + 1, `the ${what}`);
      if (tensor.dims.length !== 1 || tensor.dims[0] !== channels) {
        throw new ArqError(`${label}: the ${what} ${operands.tensor(i + 1)} has dims [${tensor.dims.join(', ')}], expected [${channels}] (one value per channel)`);
      }
      return tensor.data;
    });
    const epsilon = this.finiteFloat(attrs, 'epsilon', 1e-5, label);
    if (epsilon < 0) throw new ArqError(`${label}: attribute epsilon is ${epsilon}; it must not be negative`);
    const denominator = Array.from(variance, (v) => v + epsilon);
    const bad = denominator.findIndex((d) => !(d > 0));
    if (bad >= 0) throw new ArqError(`${label}: variance + epsilon is ${denominator[bad]} at channel ${bad} of the variance ${operands.tensor(4)}; it must be positive`);
    const scale = Array.from(gamma, (g, c) => g / Math.sqrt(denominator[c]));
    const shift = Array.from(beta, (b, c) => b - mean[c] * scale[c]);
    const producerIndex = this.producer.get(x.value);
    const producer = producerIndex === undefined ? undefined : this.nodes[producerIndex];
    const onlyConsumer = [...this.dynamics.entries()].filter(([, d]) => d.value === x.value).every(([onnxName]) => (this.uses.get(onnxName) ?? 0) <= 1);
    if (producer?.op === 'conv' && onlyConsumer) {
      // Fold: w' = w * scale_c, b' = (b - mean) * scale + beta, computed in float64.
      const perChannel = producer.weight.length / producer.outChannels;
      const weight = Float32Array.from(producer.weight, (w, i) => w * scale[Math.floor(i / perChannel)]);
      const bias = Float32Array.from(shift, (s, c) => s + (producer.bias ? producer.bias[c] : 0) * scale[c]);
      const folded = `${label}: folded into node '${producer.name}' (Conv), the`;
      requireFinite(weight, `${folded} weight overflows float32: it`);
      requireFinite(bias, `${folded} bias overflows float32: it`);
      this.nodes[producerIndex!] = { ...producer, weight, bias };
      this.dynamics.set(base.output, x);
      return;
    }
    // Not after a convolution: y = x * scale + shift as two per-channel elementwise nodes.
    const [scale32, shift32] = [Float32Array.from(scale), Float32Array.from(shift)];
    requireFinite(scale32, `${label}: the scale gamma / sqrt(variance + epsilon) overflows float32: it`);
    requireFinite(shift32, `${label}: the shift beta - mean * scale overflows float32: it`);
    const scaled = `${base.output}::scaled`;
    this.emit({ ...base, output: scaled, op: 'elementwise', operation: 'mul', constant: scale32, constantFirst: false }, x.rank, scaled, label);
    this.emit({ ...base, name: `${base.name}::shift`, inputs: [scaled], op: 'elementwise', operation: 'add', constant: shift32, constantFirst: false }, x.rank, base.output, label);
  }

  private gemm(op: string, operands: Operands, attrs: Attributes, x: Dynamic, base: Base): GemmNode {
    const { label } = operands;
    this.requireRank(x, 2, label);
    const inFeatures = this.shapes.get(x.value)![0];
    const b = operands.finiteAt(1, 'the weight');
    if (b.dims.length !== 2) throw new ArqError(`${label}: the weight ${operands.tensor(1)} must be 2-D, got [${b.dims.join(', ')}]`);
    if (op === 'Gemm' && this.flag(attrs, 'transA', label)) throw new ArqError(`${label}: transA=1 is not supported`);
    const transB = op === 'Gemm' && this.flag(attrs, 'transB', label);
    const [rows, cols] = b.dims;
    const outFeatures = transB ? rows : cols;
    if ((transB ? cols : rows) !== inFeatures || outFeatures < 1) {
      throw new ArqError(`${label}: the weight ${operands.tensor(1)} [${b.dims.join(', ')}]${transB ? ' (transposed)' : ''} does not fit ${inFeatures} input features`);
    }
    const alpha = op === 'Gemm' ? this.finiteFloat(attrs, 'alpha', 1, label) : 1;
    const weight = new Float32Array(outFeatures * inFeatures);
    for (let o = 0; o < outFeatures; o++) {
      for (let i = 0; i < inFeatures; i++) weight[o * inFeatures + i] = alpha * b.data[transB ? o * cols + i : i * cols + o];
    }
    requireFinite(weight, `${label}: alpha times the weight ${operands.tensor(1)} overflows float32: it`);
    let bias: Float32Array | undefined;
    if (op === 'Gemm' && operands.has(2)) {
      const c = operands.finiteAt(2, 'the bias');
      // C broadcasts to [N, out] (unidirectionally); with N unknown until run time its first dim must be 1.
      const fits = c.dims.length <= 2 && (c.dims.length === 0 || [1, outFeatures].includes(c.dims[c.dims.length - 1])) && (c.dims.length < 2 || c.dims[0] === 1);
      if (!fits) throw new ArqError(`${label}: the bias ${operands.tensor(2)} of dims [${c.dims.join(', ')}] does not broadcast to [N, ${outFeatures}]`);
      const beta = this.finiteFloat(attrs, 'beta', 1, label);
      bias = Float32Array.from({ length: outFeatures }, (_, o) => beta * c.data[c.data.length === 1 ? 0 : o]);
      requireFinite(bias, `${label}: beta times the bias ${operands.tensor(2)} overflows float32: it`);
    }
    return { ...base, op: 'gemm', weight, bias, outFeatures };
  }

  /** Clip's bounds: attributes before opset 11, optional scalar constant inputs since; +-Infinity means unbounded. */
  private clipRange(operands: Operands, attrs: Attributes): { min: number; max: number } {
    const { label } = operands;
    const bound = (i: number, what: 'min' | 'max', fallback: number): number => {
      if (this.opset < 11) {
        const value = attrs.float(what, fallback);
        if (Number.isNaN(value)) throw new ArqError(`${label}: attribute ${what} is NaN`);
        return value;
      }
      if (!operands.has(i)) return fallback;
      const tensor = operands.constAt(i, `the ${what} bound`);
      if (tensor.data.length !== 1) throw new ArqError(`${label}: the ${what} bound ${operands.tensor(i)} must be a scalar, got dims [${tensor.dims.join(', ')}]`);
      if (Number.isNaN(tensor.data[0])) throw new ArqError(`${label}: the ${what} bound ${operands.tensor(i)} is NaN`);
      return tensor.data[0];
    };
    const range = { min: bound(1, 'min', Number.NEGATIVE_INFINITY), max: bound(2, 'max', Number.POSITIVE_INFINITY) };
    if (range.min > range.max) throw new ArqError(`${label}: the min bound ${range.min} is greater than the max bound ${range.max}`);
    return range;
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

  private arithmetic(op: string, operands: Operands, x: Dynamic, base: Base): void {
    const { label, names } = operands;
    const dynamicCount = names.filter((n) => this.dynamics.has(n)).length;
    if (dynamicCount === 2) {
      if (op !== 'Add') throw new ArqError(`${label}: ${op} of two activations is not supported`);
      const [a, b] = names.map((n) => this.dynamics.get(n)!);
      return this.emit({ ...base, inputs: [a.value, b.value], op: 'add' }, a.rank, base.output, label);
    }
    const constantFirst = !this.dynamics.has(names[0]);
    const at = constantFirst ? 0 : 1;
    const constant = operands.finiteAt(at, 'the constant');
    const values = this.channelConstant(constant, x);
    if (!values) throw new ArqError(`${label}: the constant ${operands.tensor(at)} of shape [${constant.dims.join(', ')}] must be a scalar or one value per channel`);
    if (op === 'Div' && !constantFirst) {
      const tiny = values.findIndex((v) => !(Math.abs(v) >= FLOAT32_MIN_NORMAL));
      if (tiny >= 0) {
        const why = values[tiny] === 0 ? 'divides by zero' : `divides by ${values[tiny]}, whose reciprocal overflows float32`;
        throw new ArqError(`${label}: ${why} (the constant ${operands.tensor(at)} at index ${tiny})`);
      }
    }
    // MatMul followed by Add of a bias vector is a fully connected layer with bias.
    const producerIndex = this.producer.get(x.value);
    const producer = producerIndex === undefined ? undefined : this.nodes[producerIndex];
    if (op === 'Add' && producer?.op === 'gemm' && !producer.bias && values.length === producer.outFeatures && (this.uses.get(names[constantFirst ? 1 : 0]) ?? 0) === 1) {
      this.nodes[producerIndex!] = { ...producer, bias: values };
      this.dynamics.set(base.output, x);
      return;
    }
    const operation = op.toLowerCase() as 'add' | 'sub' | 'mul' | 'div';
    this.emit({ ...base, op: 'elementwise', operation, constant: values, constantFirst }, x.rank, base.output, label);
  }

  private pad(operands: Operands, attrs: Attributes, x: Dynamic, base: Base): Node {
    const { label } = operands;
    this.requireRank(x, 4, label);
    const mode = attrs.string('mode', 'constant');
    if (mode !== 'constant') throw new ArqError(`${label}: only constant padding is supported, got mode '${mode}'`);
    let pads: number[];
    let value = 0;
    if (this.opset < 11) {
      pads = attrs.ints('pads');
      value = this.finiteFloat(attrs, 'value', 0, label);
    } else {
      pads = intsOf(operands.constAt(1, 'pads'), label, 'pads');
      if (operands.has(2)) {
        const tensor = operands.finiteAt(2, 'the pad value');
        if (tensor.data.length !== 1) throw new ArqError(`${label}: the pad value ${operands.tensor(2)} must be a scalar, got dims [${tensor.dims.join(', ')}]`);
        value = tensor.data[0];
      }
      if (operands.has(3)) {
        const axes = intsOf(operands.constAt(3, 'axes'), label, 'axes');
        const normalised = axes.map((a) => (a < 0 ? a + 4 : a));
        if (normalised.some((a) => a < 0 || a > 3) || new Set(normalised).size !== axes.length) throw new ArqError(`${label}: axes [${axes.join(', ')}] must be distinct axes of a rank-4 input`);
        if (pads.length !== 2 * axes.length) throw new ArqError(`${label}: expected ${2 * axes.length} pad values for ${axes.length} axes, got ${pads.length}`);
        const full = new Array<number>(8).fill(0);
        normalised.forEach((axis, i) => { full[axis] = pads[i]; full[axis + 4] = pads[i + axes.length]; });
        pads = full;
      }
    }
    if (pads.length !== 8) throw new ArqError(`${label}: expected 8 pad values for a 4-D input, got ${pads.length}`);
    if (pads[0] !== 0 || pads[1] !== 0 || pads[4] !== 0 || pads[5] !== 0) throw new ArqError(`${label}: only spatial padding is supported, got [${pads.join(', ')}]`);
    if (pads.some((p) => p < 0)) throw new ArqError(`${label}: negative padding (cropping) is not supported`);
    return { ...base, op: 'pad', pads: [pads[2], pads[3], pads[6], pads[7]], value };
  }

  private pool(op: string, label: string, attrs: Attributes, x: Dynamic, base: Base): Node {
    this.requireRank(x, 4, label);
    const { kernel, strides, pads } = this.window(attrs, label);
    const countIncludePad = op === 'AveragePool' && this.flag(attrs, 'count_include_pad', label);
    if (this.flag(attrs, 'ceil_mode', label)) {
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
    return { ...base, op: op === 'MaxPool' ? 'maxpool' : 'avgpool', kernel, strides, pads, countIncludePad };
  }

  private reshape(label: string, attrs: Attributes, x: Dynamic, target: ConstTensor, base: Base): void {
    const output = base.output;
    const dims = this.fullDims(x);
    const perImage = elementCount(dims.slice(1));
    const wanted = intsOf(target, label, 'the target shape').map((d, axis) => (d === 0 && attrs.int('allowzero', 0) === 0 ? dims[axis] : d));
    // The batch dimension is NaN: it may stay symbolic (NaN), or the per-image part may be given and the batch be -1.
    const leadingBatch = wanted.length >= 1 && (Number.isNaN(wanted[0]) || wanted[0] === -1);
    const rest = wanted.slice(1);
    if (leadingBatch && !rest.some(Number.isNaN)) {
      const resolved = Number.isNaN(wanted[0]) || rest.includes(-1) ? reshapeTarget(dims.slice(1), rest, true, label) : rest;
      if (elementCount(resolved) === perImage) {
        if (resolved.length === 1) return x.rank === 2 ? void this.dynamics.set(output, x) : this.emit({ ...base, op: 'flatten' }, 2, output, label);
        if (resolved.length === dims.length - 1 && resolved.every((d, i) => d === dims[i + 1])) return void this.dynamics.set(output, x);
      }
    }
    throw new ArqError(`${label}: reshaping [N, ${dims.slice(1).join(', ')}] to [${toArray(target).map((d) => (Number.isNaN(d) ? 'N' : d)).join(', ')}] is not supported (only flattening to [N, -1])`);
  }

  private repeat(op: string, label: string, x: Dynamic, argument: ConstTensor, base: Base): void {
    const output = base.output;
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
    this.emit({ ...base, op: 'repeat', factor }, 4, output, label);
  }
}

/** Imports a decoded model. `source` names the file in errors. */
export function importModel(model: ModelProto, source: string): Graph {
  const opset = modelOpset(model);
  if (opset < 7 || opset > MAX_OPSET) throw new ArqError(`${source}: ONNX opset ${opset} is not supported (arq reads opsets 7 to ${MAX_OPSET})`);
  validateGraph(model.graph!, source);
  return new Importer(model, opset, source).run();
}
