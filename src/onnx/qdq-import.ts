/**
 * Import of QDQ ONNX models (QuantizeLinear/DequantizeLinear around float operators: arq's own `arq quantize`
 * exports, ONNX Runtime's `quantize_static` in QDQ format, PyTorch's exporter) without recalibration: the file's
 * scales, zero points and weight codes become the integer plan's grids (engine/given-grids.ts builds the plan).
 *
 * How: the QDQ graph is rewritten into the float graph it fake-quantizes (every QuantizeLinear -> DequantizeLinear
 * pair removed, every dequantized constant replaced by its float32 values), which the ordinary importer reads;
 * meanwhile each pair is recorded with the tensor it quantizes, and each layer with its weight codes and the grid
 * of its input. What arq's integer semantics (quantization.md) cannot represent exactly is refused with a message
 * naming the node: when the integer plan is built (QdqGrids.refusal; the float network still loads for ONNX Runtime
 * and the fp32 plan), or at load where not even the float network is defined (a pair whose two halves disagree,
 * codes read by anything but a DequantizeLinear, per-axis activation grids). The rules:
 * - activations: per-tensor uint8/int8 (and uint4/int4, opset 21) grids; an int grid is the uint grid of the same
 *   reals with the zero point shifted by 2^(bits-1), which rounds and saturates identically. A Clip to a grid's
 *   exact range [s*(0-z), s*(2^b-1-z)] right before a uint8 QuantizeLinear (arq's export for abits b < 8) makes a
 *   b-bit grid;
 * - weights: int8 or int4 codes, symmetric (zero point 0, codes within +-(2^(b-1)-1): an int8 code -128 is rejected),
 *   per output channel or per tensor; wbits is the storage width (int4: 4, int8: 8) or the file's arq.qdq.layers
 *   metadata where arq wrote it; int4 codes that use -8 (ONNX Runtime's int4 range) import as wbits 5, stated in
 *   the notes; a QuantizeLinear of a float constant is folded as ONNX Runtime computes it;
 * - every Conv/Gemm/MatMul input comes through a DequantizeLinear (or a Flatten/Reshape/MaxPool of one); every value an integer operator computes (Conv,
 *   Gemm, MatMul, Add) is quantized by exactly one 8-bit grid, or it is the float network output;
 * - pooling and clamps keep their input's grid (as in arq); after MaxPool/Flatten/Reshape/Tile a different grid is
 *   accepted when only layers read it (the result holds exactly the input grid's reals, so arq's carrier-to-layer
 *   table gives the same codes).
 */
import type { Graph } from '../graph/ir.js';
import { ArqError } from '../util/errors.js';
import { Attributes } from './attributes.js';
import { importModel, MAX_OPSET, modelOpset } from './import.js';
import { DataType, onnx, toNumber, type ModelProto, type NodeProto, type TensorProto } from './proto.js';
import { checkedElementCount, fromTensorProto } from './tensor.js';
import { describeNode, validateGraph } from './validate.js';
import { DATA_TYPE_INT4, DATA_TYPE_UINT4 } from './write.js';

/** An activation grid as arq's engine holds it: uint codes 0..2^bits-1, real = scale * (q - zero). */
export interface QdqGrid {
  readonly scale: number;
  readonly zero: number;
  readonly bits: number;
}

/** A Conv/Gemm layer of the file: its weight codes in the IR's layout ([out][...]) and its input grid. */
export interface QdqLayer {
  readonly name: string;
  readonly codes: Int8Array;
  readonly scales: Float32Array;
  readonly wbits: number;
  readonly inputGrid: QdqGrid;
}

/** One QuantizeLinear -> DequantizeLinear pair on a value an operator computed (not on another pair's output). */
export interface QdqQuantizedValue {
  /** The IR value quantized (engine/given-grids.ts maps it to its plan value). */
  readonly value: string;
  readonly grid: QdqGrid;
  /** Whether only layers read the dequantized value (then it is their input grid and need not be a carrier). */
  readonly layersOnly: boolean;
  /** The DequantizeLinear node, for messages. */
  readonly node: string;
}

/** The grids a QDQ file fixes: what engine/given-grids.ts turns into an integer plan. */
export interface QdqGrids {
  readonly layers: ReadonlyMap<string, QdqLayer>;
  readonly values: readonly QdqQuantizedValue[];
  /** Where the file is imported with a stated difference (none means exact). */
  readonly notes: readonly string[];
  /**
   * Why arq's integer engine cannot run the file as it says (a message naming the node), when it cannot: the float
   * network still loads, so `--engine ort` and `--engine float` run it, and the integer plan's build throws this.
   */
  readonly refusal?: string;
  /**
   * How the integer plan adds each layer's float bias (engine/given-grids.ts GivenGridsOptions.bias): as the file holds
   * it ('file', the default) or as ONNX Runtime rounds it ('ort', `--semantics ort`).
   */
  readonly bias?: 'file' | 'ort';
}

export interface QdqImport {
  /** The float network the file fake-quantizes (weights dequantized): the float engines run it. */
  readonly graph: Graph;
  readonly grids: QdqGrids;
}

/** Whether the model holds QuantizeLinear/DequantizeLinear nodes (then importQdq reads it). */
export function isQdqModel(model: ModelProto): boolean {
  return (model.graph?.node ?? []).some((n) => (!n.domain || n.domain === 'ai.onnx') && (n.opType === 'QuantizeLinear' || n.opType === 'DequantizeLinear'));
}

const LAYER_OPS = new Set(['Conv', 'Gemm', 'MatMul']);
/** Operators whose output holds exactly some of their input's values (so a grid on it converts codes exactly). */
const SELECTION_OPS = new Set(['MaxPool', 'Flatten', 'Reshape', 'Tile', 'Expand', 'Identity', 'Dropout']);

interface Integers {
  readonly values: Float64Array;
  readonly dims: readonly number[];
  readonly dataType: number;
}

interface Pair {
  /** The DequantizeLinear nodes reading the QuantizeLinear's codes. */
  readonly dq: number[];
  /** The tensor quantized (the Clip's input where a range Clip is absorbed). */
  readonly x: string;
  readonly grid: QdqGrid;
}

/** Per-axis quantization parameters of a constant: scale and zero point per slice of `axis` (one slice if per tensor). */
interface ConstantCodes {
  readonly codes: Float64Array;
  readonly dims: readonly number[];
  readonly dataType: number;
  readonly scales: Float32Array;
  readonly zeros: Float64Array;
  readonly axis: number;
  /** The dequantized float32 values, as ONNX Runtime computes them: float(q - z) * s. */
  readonly real: Float32Array;
}

const bitsOf = (dataType: number): number | undefined =>
  ({ [DataType.UINT8]: 8, [DataType.INT8]: 8, [DATA_TYPE_UINT4]: 4, [DATA_TYPE_INT4]: 4 } as Record<number, number>)[dataType];
const isSigned = (dataType: number) => dataType === DataType.INT8 || dataType === DATA_TYPE_INT4;

/** Integer tensor values, 4-bit types included (packed two per byte, the first element in the low nibble). */
function integers(tensor: TensorProto, where: string): Integers {
  const dataType = tensor.dataType ?? 0;
  const dims = (tensor.dims ?? []).map(toNumber);
  if (dataType !== DATA_TYPE_INT4 && dataType !== DATA_TYPE_UINT4) {
    const t = fromTensorProto(tensor, where);
    if (t.kind !== 'int') throw new ArqError(`${where}: expected an integer tensor, got data type ${dataType}`);
    return { values: Float64Array.from(t.data), dims, dataType };
  }
  const count = checkedElementCount(dims, where);
  const raw = tensor.rawData && tensor.rawData.byteLength > 0 ? tensor.rawData : Uint8Array.from(tensor.int32Data ?? []);
  if (raw.byteLength !== Math.ceil(count / 2)) throw new ArqError(`${where}: ${raw.byteLength} bytes of 4-bit data, expected ${Math.ceil(count / 2)} for ${count} elements`);
  const values = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const nibble = (raw[i >> 1] >> ((i & 1) * 4)) & 15;
    values[i] = dataType === DATA_TYPE_INT4 && nibble > 7 ? nibble - 16 : nibble;
  }
  return { values, dims, dataType };
}

class QdqReader {
  private readonly nodes: NodeProto[];
  private readonly producer = new Map<string, number>();
  private readonly consumers = new Map<string, number[]>();
  private readonly initializers = new Map<string, TensorProto>();
  private readonly pairs: Pair[] = [];
  /** DequantizeLinear output -> its pair. */
  private readonly pairOf = new Map<string, Pair>();
  /** DequantizeLinear output of a constant -> the codes. */
  private readonly constantOf = new Map<string, ConstantCodes>();
  private readonly removed = new Set<number>();
  private readonly notes: string[] = [];

  constructor(private readonly model: ModelProto, private readonly source: string) {
    const graph = model.graph!;
    this.nodes = graph.node ?? [];
    for (const t of graph.initializer ?? []) this.initializers.set(t.name ?? '', t);
    this.nodes.forEach((node, i) => {
      for (const out of node.output ?? []) if (out) this.producer.set(out, i);
      for (const input of node.input ?? []) if (input) this.consumers.set(input, [...(this.consumers.get(input) ?? []), i]);
    });
  }

  private label(i: number): string {
    return `${this.source}: ${describeNode(this.nodes[i], i)}`;
  }

  /** An initializer or the value of a Constant node, or undefined for a computed tensor. */
  private constant(name: string): TensorProto | undefined {
    const init = this.initializers.get(name);
    if (init) return init;
    const at = this.producer.get(name);
    if (at === undefined || this.nodes[at].opType !== 'Constant') return undefined;
    return new Attributes(this.nodes[at], this.label(at)).tensor('value');
  }

  private floats(name: string, i: number, what: string): { values: Float32Array; dims: number[] } {
    const tensor = this.constant(name);
    if (!tensor) throw new ArqError(`${this.label(i)}: the ${what} '${name}' must be a constant`);
    const t = fromTensorProto(tensor, `${this.label(i)}: the ${what} '${name}'`);
    if (t.kind !== 'float') throw new ArqError(`${this.label(i)}: the ${what} '${name}' must be a float tensor`);
    const values = Float32Array.from(t.data);
    const bad = values.findIndex((s) => !(s > 0) || !Number.isFinite(s));
    if (what === 'scale' && bad >= 0) throw new ArqError(`${this.label(i)}: the scale '${name}' is ${values[bad]} at index ${bad}; scales must be positive and finite`);
    return { values, dims: [...t.dims] };
  }

  /** Scale, zero point and storage type of a QuantizeLinear/DequantizeLinear node. */
  private parameters(i: number) {
    const node = this.nodes[i];
    const attrs = new Attributes(node, this.label(i));
    if (attrs.has('block_size') && attrs.int('block_size') !== 0) throw new ArqError(`${this.label(i)}: blocked quantization (block_size) is not supported`);
    const [, scaleName, zeroName] = node.input ?? [];
    const scale = this.floats(scaleName, i, 'scale');
    let dataType = DataType.UINT8 as number;
    let zeros: Float64Array = new Float64Array(scale.values.length);
    if (zeroName) {
      const tensor = this.constant(zeroName);
      if (!tensor) throw new ArqError(`${this.label(i)}: the zero point '${zeroName}' must be a constant`);
      const z = integers(tensor, `${this.label(i)}: the zero point '${zeroName}'`);
      if (z.values.length !== scale.values.length) throw new ArqError(`${this.label(i)}: the zero point '${zeroName}' has ${z.values.length} values, the scale ${scale.values.length}`);
      ({ dataType } = z);
      zeros = z.values;
    } else if (attrs.has('output_dtype')) {
      dataType = attrs.int('output_dtype');
    }
    if (node.opType === 'QuantizeLinear' && bitsOf(dataType) === undefined) {
      throw new ArqError(`${this.label(i)}: quantization to data type ${dataType} is not supported (arq reads uint8, int8, uint4 and int4)`);
    }
    return { scale, zeros, dataType, axis: attrs.int('axis', 1) };
  }

  run(): QdqImport {
    this.nodes.forEach((node, i) => {
      if ((node.domain && node.domain !== 'ai.onnx') || (node.opType !== 'QuantizeLinear' && node.opType !== 'DequantizeLinear')) return;
      const inputs = node.input ?? [];
      if (inputs.length < 2 || inputs.length > 3 || !inputs[0] || !inputs[1] || (node.output ?? []).length !== 1 || !node.output![0]) {
        throw new ArqError(`${this.label(i)}: expected inputs (x, scale[, zero point]) and one output`);
      }
    });
    this.nodes.forEach((node, i) => {
      if (node.domain && node.domain !== 'ai.onnx') return;
      if (node.opType === 'QuantizeLinear') this.quantize(i);
    });
    this.nodes.forEach((node, i) => {
      if ((node.domain && node.domain !== 'ai.onnx') || node.opType !== 'DequantizeLinear' || this.removed.has(i)) return;
      this.dequantizeConstant(i);
    });
    const floatModel = this.floatModel();
    const graph = importModel(floatModel, this.source);
    try {
      return { graph, grids: this.grids(graph, floatModel) };
    } catch (error) {
      if (!(error instanceof ArqError)) throw error;
      return { graph, grids: { layers: new Map(), values: [], notes: this.notes, refusal: error.message } };
    }
  }

  /** A QuantizeLinear: of a constant (folded with its DequantizeLinear readers) or of an activation (a pair). */
  private quantize(i: number): void {
    const node = this.nodes[i];
    const q = node.output![0];
    const readers = this.consumers.get(q) ?? [];
    const graphOutput = (this.model.graph!.output ?? []).some((o) => o.name === q);
    const other = readers.find((r) => this.nodes[r].opType !== 'DequantizeLinear' || this.nodes[r].input![0] !== q);
    if (other !== undefined || graphOutput || readers.length === 0) {
      const why = other !== undefined ? `read by ${describeNode(this.nodes[other], other)}` : graphOutput ? 'a graph output' : 'never dequantized';
      throw new ArqError(`${this.label(i)}: its codes are ${why}; arq reads quantized tensors only through DequantizeLinear`);
    }
    const params = this.parameters(i);
    for (const r of readers) {
      const p = this.parameters(r);
      const same = p.dataType === params.dataType && p.scale.values.length === params.scale.values.length &&
        p.scale.values.every((s, k) => s === params.scale.values[k] && p.zeros[k] === params.zeros[k]) && (p.scale.values.length === 1 || p.axis === params.axis);
      if (!same) throw new ArqError(`${this.label(r)}: dequantizes with a scale or zero point other than its QuantizeLinear ${describeNode(node, i)}`);
    }
    const x = node.input![0];
    const constant = this.constant(x);
    this.removed.add(i);
    for (const r of readers) this.removed.add(r);
    if (constant) {
      const codes = this.foldQuantize(i, constant, params);
      for (const r of readers) this.constantOf.set(this.nodes[r].output![0], codes);
      return;
    }
    if (params.scale.values.length !== 1) throw new ArqError(`${this.label(i)}: per-axis quantization of an activation is not supported (arq's activation grids are per tensor)`);
    const bits = bitsOf(params.dataType)!;
    const offset = isSigned(params.dataType) ? 2 ** (bits - 1) : 0;
    let grid: QdqGrid = { scale: params.scale.values[0], zero: params.zeros[0] + offset, bits };
    let source = x;
    // arq's export of abits b < 8: Clip to the b-bit range of the grid, then a uint8 QuantizeLinear.
    const clipAt = this.producer.get(x);
    if (clipAt !== undefined && bits === 8 && this.nodes[clipAt].opType === 'Clip' && (this.consumers.get(x) ?? []).length === 1) {
      const narrowed = this.rangeClip(clipAt, grid);
      if (narrowed) {
        grid = narrowed;
        source = this.nodes[clipAt].input![0];
        this.removed.add(clipAt);
      }
    }
    const pair: Pair = { dq: readers, x: source, grid };
    this.pairs.push(pair);
    for (const r of readers) this.pairOf.set(this.nodes[r].output![0], pair);
  }

  /** The b-bit grid a Clip node fixes when its bounds are exactly the real range of codes 0..2^b-1, b in 2..7. */
  private rangeClip(i: number, grid: QdqGrid): QdqGrid | undefined {
    const [, lo, hi] = this.nodes[i].input ?? [];
    const bound = (name: string | undefined) => {
      const t = name ? this.constant(name) : undefined;
      const v = t ? fromTensorProto(t, this.label(i)).data : undefined;
      return v && v.length === 1 ? v[0] : undefined;
    };
    const [min, max] = [bound(lo), bound(hi)];
    if (min === undefined || max === undefined || min !== Math.fround(grid.scale * (0 - grid.zero))) return undefined;
    for (let bits = 2; bits < 8; bits++) {
      if (grid.zero <= 2 ** bits - 1 && max === Math.fround(grid.scale * (2 ** bits - 1 - grid.zero))) return { ...grid, bits };
    }
    return undefined;
  }

  /** QuantizeLinear of a float constant, as ONNX Runtime computes it: round_half_even(x / s) + z, saturated. */
  private foldQuantize(i: number, tensor: TensorProto, params: ReturnType<QdqReader['parameters']>): ConstantCodes {
    const label = this.label(i);
    const t = fromTensorProto(tensor, `${label}: the constant '${this.nodes[i].input![0]}'`);
    if (t.kind !== 'float') throw new ArqError(`${label}: quantizes a non-float constant`);
    const bits = bitsOf(params.dataType)!;
    const [lo, hi] = isSigned(params.dataType) ? [-(2 ** (bits - 1)), 2 ** (bits - 1) - 1] : [0, 2 ** bits - 1];
    const slice = this.sliceOf(t.dims, params.scale.values.length, params.axis, label);
    const codes = Float64Array.from(t.data, (x, k) => quantizeLinear(x, params.scale.values[slice(k)], params.zeros[slice(k)], lo, hi));
    return this.constantCodes(codes, t.dims, params.dataType, params.scale.values, params.zeros, params.axis, label);
  }

  /** Index of the scale each element of a tensor of `dims` uses (per tensor, or per slice of `axis`). */
  private sliceOf(dims: readonly number[], scales: number, axis: number, label: string): (k: number) => number {
    if (scales === 1) return () => 0;
    const a = axis < 0 ? axis + dims.length : axis;
    if (a < 0 || a >= dims.length || dims[a] !== scales) throw new ArqError(`${label}: ${scales} scales do not fit axis ${axis} of dims [${dims.join(', ')}]`);
    const inner = dims.slice(a + 1).reduce((p, d) => p * d, 1);
    return (k) => Math.floor(k / inner) % scales;
  }

  private constantCodes(codes: Float64Array, dims: readonly number[], dataType: number, scales: Float32Array, zeros: Float64Array, axis: number, label: string): ConstantCodes {
    const slice = this.sliceOf(dims, scales.length, axis, label);
    const real = Float32Array.from(codes, (q, k) => Math.fround(Math.fround(q - zeros[slice(k)]) * scales[slice(k)]));
    return { codes, dims, dataType, scales, zeros, axis: axis < 0 ? axis + dims.length : axis, real };
  }

  /** A DequantizeLinear of an integer constant (weights, int32 biases). */
  private dequantizeConstant(i: number): void {
    const node = this.nodes[i];
    const name = node.input![0];
    const tensor = this.constant(name);
    if (!tensor) throw new ArqError(`${this.label(i)}: dequantizes '${name}', which is neither a constant nor the output of a QuantizeLinear`);
    const params = this.parameters(i);
    const values = integers(tensor, `${this.label(i)}: the codes '${name}'`);
    this.removed.add(i);
    this.constantOf.set(node.output![0], this.constantCodes(values.values, values.dims, values.dataType, params.scale.values, params.zeros, params.axis, this.label(i)));
  }

  /** The pair whose dequantized reals `x` holds exactly: its output, or a selection (MaxPool, Flatten, ...) of it. */
  private chainedOn(x: string): Pair | undefined {
    for (let steps = 0; steps < this.nodes.length + 1; steps++) {
      const pair = this.pairOf.get(x);
      if (pair) return pair;
      const at = this.producer.get(x);
      if (at === undefined || !SELECTION_OPS.has(this.nodes[at].opType ?? '')) return undefined;
      x = this.nodes[at].input![0];
    }
    return undefined;
  }

  /** Where every reader of a removed DequantizeLinear output reads instead: the pair's quantized tensor. */
  private resolve(name: string): string {
    for (let pair = this.pairOf.get(name); pair; pair = this.pairOf.get(name)) name = pair.x;
    return name;
  }

  /** The graph without Q/DQ pairs, with dequantized constants as float initializers. */
  private floatModel(): ModelProto {
    const graph = this.model.graph!;
    // Tensors only removed nodes read (codes, scales, zero points) go with them: the importer need not decode int4.
    const used = (name: string) => (this.consumers.get(name) ?? []).some((i) => !this.removed.has(i));
    for (const [i, node] of this.nodes.entries()) if (node.opType === 'Constant' && !used(node.output![0])) this.removed.add(i);
    const initializers = (graph.initializer ?? []).filter((t) => used(t.name ?? ''));
    for (const [name, codes] of this.constantOf) {
      initializers.push(onnx.TensorProto.create({ name, dims: [...codes.dims], dataType: DataType.FLOAT, floatData: [...codes.real] }));
    }
    const kept = this.nodes.flatMap((node, i) => {
      if (this.removed.has(i)) return [];
      // Unnamed nodes keep the name the importer would give them in the file as it is (policies name layers by it).
      return [onnx.NodeProto.create({ ...node, name: node.name || `${node.opType}_${i}`, input: (node.input ?? []).map((n) => (n ? this.resolve(n) : n)) })];
    });
    const outputs = (graph.output ?? []).map((o) => onnx.ValueInfoProto.create({ ...o, name: this.resolve(o.name ?? '') }));
    return onnx.ModelProto.create({ ...this.model, graph: onnx.GraphProto.create({ ...graph, node: kept, initializer: initializers, output: outputs }) });
  }

  /** The IR value an ONNX tensor of the float model is (aliases such as Identity or a folded bias followed back). */
  private irValue(graph: Graph, producers: ReadonlyMap<string, NodeProto>, name: string): string | undefined {
    for (let steps = 0; steps <= producers.size; steps++) {
      if (graph.shapes.has(name)) return name;
      const node = producers.get(name);
      const next = node?.input?.find((input) => input && !this.constant(input) && !this.initializers.has(input) && (producers.has(input) || graph.shapes.has(input)));
      if (!next) return undefined;
      name = next;
    }
    return undefined;
  }

  private grids(graph: Graph, model: ModelProto): QdqGrids {
    const layers = new Map<string, QdqLayer>();
    const arqLayers = this.arqLayerBits();
    const producers = new Map<string, NodeProto>();
    for (const node of model.graph!.node ?? []) for (const out of node.output ?? []) producers.set(out, node);
    for (const node of model.graph!.node ?? []) {
      if (!LAYER_OPS.has(node.opType ?? '')) continue;
      const original = this.producer.get(node.output![0])!;
      const label = this.label(original);
      const [input, weight] = this.nodes[original].input ?? [];
      const pair = this.chainedOn(input);
      if (!pair) throw new ArqError(`${label}: its input '${input}' is not dequantized; arq's integer plan needs a QuantizeLinear -> DequantizeLinear on every layer input`);
      const codes = this.constantOf.get(weight);
      if (!codes) throw new ArqError(`${label}: its weight '${weight}' is not quantized (a DequantizeLinear of int8/int4 codes)`);
      layers.set(node.name!, this.layer(graph, node, label, pair.grid, codes, arqLayers.get(node.name!)));
    }
    const values: QdqQuantizedValue[] = [];
    for (const pair of this.pairs) {
      const outputs = new Set(pair.dq.map((d) => this.nodes[d].output![0]));
      const graphOutput = (this.model.graph!.output ?? []).some((o) => outputs.has(o.name ?? ''));
      const layersOnly = !graphOutput && [...outputs].every((out) => (this.consumers.get(out) ?? []).every((r) => LAYER_OPS.has(this.nodes[r].opType ?? '') && this.nodes[r].input![0] === out));
      const node = this.label(pair.dq[0]);
      const chainedOn = this.chainedOn(pair.x);
      if (chainedOn) {
        // A pair on another pair's reals (directly or after MaxPool/Flatten/...): arq's carrier-to-layer conversion,
        // exact for layer readers; for any other reader only the same grid is representable.
        const same = chainedOn.grid.scale === pair.grid.scale && chainedOn.grid.zero === pair.grid.zero;
        if (!layersOnly && !same) throw new ArqError(`${node}: requantizes '${pair.x}' onto another grid for a reader that is not a Conv/Gemm input; arq converts grids only at layer inputs`);
        continue;
      }
      const value = this.irValue(graph, producers, this.resolve(pair.x));
      if (value === undefined) throw new ArqError(`${node}: the tensor it quantizes ('${pair.x}') is not a value of the imported network`);
      values.push({ value, grid: pair.grid, layersOnly, node });
    }
    return { layers, values, notes: this.notes };
  }

  /** wbits per layer from arq's own export metadata (arq.qdq.layers), where present. */
  private arqLayerBits(): Map<string, number> {
    const entry = (this.model.metadataProps ?? []).find((p) => p.key === 'arq.qdq.layers');
    if (!entry?.value) return new Map();
    let layers: unknown;
    try {
      layers = JSON.parse(entry.value);
    } catch {
      throw new ArqError(`${this.source}: metadata arq.qdq.layers is not JSON`);
    }
    const valid = Array.isArray(layers) && layers.every((l: { name?: unknown; wbits?: unknown }) => typeof l?.name === 'string' && Number.isInteger(l.wbits) && (l.wbits as number) >= 2 && (l.wbits as number) <= 8);
    if (!valid) throw new ArqError(`${this.source}: metadata arq.qdq.layers must list { name, wbits } with wbits an integer in 2..8`);
    return new Map((layers as { name: string; wbits: number }[]).map((l) => [l.name, l.wbits]));
  }

  /** A layer's codes in the IR's layout, checked against the IR node's (dequantized) weight. */
  private layer(graph: Graph, node: NodeProto, label: string, inputGrid: QdqGrid, w: ConstantCodes, arqBits: number | undefined): QdqLayer {
    const ir = graph.nodes.find((n) => n.name === node.name);
    if (!ir || (ir.op !== 'conv' && ir.op !== 'gemm')) throw new ArqError(`${label}: did not import as a layer`);
    const channels = ir.op === 'conv' ? ir.outChannels : ir.outFeatures;
    const perChannel = ir.weight.length / channels;
    // The ONNX weight is [out][...] for Conv and Gemm with transB=1, [in][out] for MatMul and Gemm with transB=0.
    const transposed = ir.op === 'gemm' && !(node.opType === 'Gemm' && new Attributes(node, label).int('transB', 0) === 1);
    const outAxis = transposed ? 1 : 0;
    if (w.zeros.some((z) => z !== 0)) throw new ArqError(`${label}: the weight has a nonzero zero point; arq's weight grids are symmetric`);
    if (w.scales.length !== 1 && w.axis !== outAxis) throw new ArqError(`${label}: the weight is quantized along axis ${w.axis}; arq's weight scales are per output channel (axis ${outAxis})`);
    const storageBits = bitsOf(w.dataType);
    if (storageBits === undefined) throw new ArqError(`${label}: weight codes of data type ${w.dataType} are not supported (arq reads int8 and int4)`);
    if (!isSigned(w.dataType)) throw new ArqError(`${label}: the weight codes are unsigned; arq's weight grids are symmetric int8/int4`);
    let wbits = arqBits ?? storageBits;
    if (arqBits === undefined && storageBits === 4 && w.codes.some((q) => q === -8)) {
      // ONNX Runtime's symmetric int4 range is [-8, 7]; arq's 4-bit grid is +-7. The codes fit arq's 5-bit range,
      // where the plan computes exactly the same; only the cost model counts one bit more.
      wbits = 5;
      this.notes.push(`${label}: int4 weight codes include -8, outside arq's symmetric 4-bit range +-7: imported as wbits 5 (the same codes and results; BitOps and size count 5 bits)`);
    }
    const limit = 2 ** (wbits - 1) - 1;
    const codes = new Int8Array(ir.weight.length);
    const real = new Float32Array(ir.weight.length);
    for (let o = 0; o < channels; o++) {
      for (let k = 0; k < perChannel; k++) {
        const from = transposed ? k * channels + o : o * perChannel + k;
        const q = w.codes[from];
        if (q < -limit || q > limit) throw new ArqError(`${label}: weight code ${q} is outside arq's symmetric ${wbits}-bit range +-${limit}`);
        codes[o * perChannel + k] = q;
        real[o * perChannel + k] = w.real[from];
      }
    }
    const scales = Float32Array.from({ length: channels }, (_, o) => w.scales[w.scales.length === 1 ? 0 : o]);
    const changed = real.findIndex((v, k) => !Object.is(v, ir.weight[k]));
    if (changed >= 0) throw new ArqError(`${label}: the dequantized weight is changed by the operators around the layer (a folded BatchNormalization or Gemm alpha), so its codes are not the layer's`);
    return { name: ir.name, codes, scales, wbits, inputGrid };
  }
}

/** ONNX's QuantizeLinear of one value as ONNX Runtime computes it: round_half_even(float32(x / scale)) + zero, saturated to [lo, hi]. */
export function quantizeLinear(x: number, scale: number, zero: number, lo: number, hi: number): number {
  const t = Math.fround(x / scale);
  const r = Math.round(t);
  const even = Math.abs(t % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
  return Math.min(hi, Math.max(lo, even + zero));
}

/** Reads a QDQ model: the float network it fake-quantizes and the grids that make it arq's integer plan. */
export function importQdq(model: ModelProto, source: string): QdqImport {
  const opset = modelOpset(model);
  if (opset < 13 || opset > MAX_OPSET) throw new ArqError(`${source}: QDQ models of opset ${opset} are not supported (arq reads QDQ opsets 13 to ${MAX_OPSET}: per-axis DequantizeLinear needs 13)`);
  // The structure first (each value defined once and before use, the node limit), as for any import.
  validateGraph(model.graph!, source);
  return new QdqReader(model, source).run();
}
