/**
 * Export of a quantized network as a standard ONNX model in QDQ form (QuantizeLinear/DequantizeLinear pairs around
 * float operators), which ONNX Runtime and other QDQ-aware runtimes load and may fuse into integer operators.
 *
 * One source of truth: every scale, zero point, weight code and bit width comes from an IntPlanSpec
 * (engine/int-plan.ts intPlanSpec), the description arq's integer engine runs; the export derives nothing but the
 * int32 bias codes of the optional bias: 'int32' mode.
 *
 * Layout (quantization.md's semantics, written in QDQ):
 * - The float input keeps its name and shape; the float prefix (elementwise Sub/Mul/Div/Add by constants, Tile for a
 *   channel repeat, Pad, Flatten) stays float operators.
 * - Conv/Gemm layer (ONNX node named as the IR layer, so policies still apply): its input goes through
 *   QuantizeLinear(inputGrid.scale, uint8 inputGrid.zero) -> DequantizeLinear. A carrier already on the layer's
 *   grid (at abits = 8 every carrier a Conv, Gemm or Add writes) is read through its own DequantizeLinear. For
 *   abits < 8 a Clip to the grid's real range [s*(0-z), s*(2^abits-1-z)] precedes the QuantizeLinear, so codes
 *   saturate at 0..2^abits-1 as in arq, not at 0..255 (`exactLowBitRange`). A carrier made by MaxPool/Flatten/Tile
 *   is converted from that operator's float result, not from its own Q/DQ pair: the result holds exactly the
 *   reals of the input carrier's codes, and arq's monotone carrier-to-layer lookup table commutes with selecting
 *   elements, so the codes are the same, while ONNX Runtime's DoubleQDQPairsRemover, which merges a
 *   Q -> DQ -> Q -> DQ chain onto a third grid, finds nothing to merge.
 *   Weights: the plan's codes (INT8 for wbits 5..8; INT4, ONNX data type 22, for wbits 2..4 at opset >= 21, else
 *   INT8 holding the restricted range) with per-output-channel float scales, DequantizeLinear(axis 0) with explicit
 *   zero zero points. Bias (`bias`): 'float' (default) is the float32 bias as the Conv/Gemm input, standard QDQ;
 *   'int32' is int32 codes round(bias_c/(s_a*s_w,c)) behind DequantizeLinear(axis 0, scale s_a*s_w,c) (kept float
 *   where a code would overflow); 'add' is a float Add after the Conv/Gemm (see QDQ_DIFFERENCES for why). The fused
 *   clamp follows as Relu (min 0, no max) or Clip; then the output carrier QuantizeLinear -> DequantizeLinear,
 *   except after the layer producing the logits.
 * - Add, MaxPool, AveragePool, GlobalAveragePool, Pad, Tile, Flatten and unfused Relu/Clip on carriers are float
 *   operators between DequantizeLinear and QuantizeLinear (onto the value's carrier grid), which ONNX Runtime may
 *   fuse into QLinearAdd/QLinearAveragePool/... or run on uint8 directly (MaxPool, Flatten).
 * - Every Q/DQ pair has its own scale and zero-point initializers (ONNX Runtime rewrites the scale of pairs it
 *   merges, and a shared initializer would carry the rewrite to unrelated pairs).
 * - Opset 21 by default (INT4 weights); opset 13..20 are accepted and store every weight as INT8.
 *
 * Checked with onnxruntime-node 1.30 (CPU, test/onnx/qdq.test.ts): per-axis INT4 DequantizeLinear (opset 21) loads
 * and runs, so INT4 storage is used, not the INT8 fallback. At its default graph optimisation level ONNX Runtime
 * runs every layer of the W8A8 MNIST model on integers: QLinearConv x3, QGemm x2 (the last with float output),
 * Flatten on uint8; each MaxPool runs on reals between a DequantizeLinear and the next layer's QuantizeLinear.
 *
 * The differences from arq's integer engine that remain are listed in QDQ_DIFFERENCES (also in the returned metadata
 * and in the file's metadata_props). None changes a grid or a weight code; each can move single codes at a rounding
 * boundary, and a network that amplifies small perturbations (the untrained mobilenetv2 fixture) spreads such flips.
 */
import type { Graph } from '../graph/ir.js';
import { lowerGraph } from '../graph/lower.js';
import type { IntPlanOp, IntPlanSpec, NativeGrid } from '../native.js';
import { ArqError } from '../util/errors.js';
import { OnnxBuilder, type AttributeValue, type TensorValue } from './write.js';

export interface QdqOptions {
  /** ONNX opset, 13..22 (default 21: INT4 weights need 21). */
  readonly opset?: number;
  /** Store wbits 2..4 weights as INT4 when the opset allows it (default true). */
  readonly int4?: boolean;
  /**
   * 'float' (default): the float32 bias as the Conv/Gemm input; 'int32': int32 codes on scale s_a*s_w,c behind a
   * DequantizeLinear; 'add': a float Add after the Conv/Gemm, which keeps arq's bias exact in ONNX Runtime at the
   * cost of its integer fusion (QDQ_DIFFERENCES).
   */
  readonly bias?: 'int32' | 'float' | 'add';
  /** Clip before QuantizeLinear for abits < 8 so codes saturate at 2^abits-1 as in arq (default true). */
  readonly exactLowBitRange?: boolean;
  /** Name of the symbolic batch dimension (default 'N'). */
  readonly batch?: string;
}

export interface QdqLayerInfo {
  readonly name: string;
  readonly op: 'Conv' | 'Gemm';
  readonly wbits: number;
  readonly abits: number;
  /** Storage type of the weight codes. */
  readonly weightType: 'int4' | 'int8';
  readonly bias: 'int32' | 'float' | 'add' | 'none';
  readonly inputGrid: { readonly scale: number; readonly zero: number; readonly bits: number };
  /** The output carrier grid, or null for the layer that writes the float logits. */
  readonly outputGrid: NativeGrid | null;
  /** Whether a Clip restricts the input to the abits range before QuantizeLinear. */
  readonly clippedInput: boolean;
}

export interface QdqMetadata {
  readonly format: 'arq-qdq/1';
  readonly opset: number;
  readonly bias: 'int32' | 'float' | 'add';
  readonly exactLowBitRange: boolean;
  readonly layers: readonly QdqLayerInfo[];
  readonly quantizeLinear: number;
  readonly dequantizeLinear: number;
  /** The known differences between ONNX Runtime on this file and arq's integer engine. */
  readonly differences: readonly string[];
}

export interface QdqExport {
  readonly bytes: Uint8Array;
  readonly metadata: QdqMetadata;
}

export const QDQ_DIFFERENCES: readonly string[] = [
  'Bias: at graph optimisation level basic and above, ONNX Runtime (1.30) turns a float Conv/Gemm bias into int32 ' +
    'codes round(bias_c / (s_a*s_w,c)) itself so that it can fuse the layer into QLinearConv/QGemm; bias: "int32" ' +
    'writes those codes in the file. Either way the bias moves by up to s_a*s_w,c/2, i.e. up to (s_a*s_w,c/s_out)/2 ' +
    'output codes: a small fraction of a code at W8A8, but a sizeable one at W4A4 (coarse s_a and s_w), which moves ' +
    'values across rounding boundaries. arq keeps the float32 bias. bias: "add" writes the float bias as a separate Add ' +
    'after the Conv/Gemm: ONNX Runtime then keeps arq\'s bias exactly, but runs the layer as a float Conv/Gemm on ' +
    'dequantized tensors instead of an integer kernel.',
  'Requantization: arq computes y = fma(acc, s_a*s_w,c/s_out, bias_c/s_out + z_out) in float32 from an exact int32 ' +
    'accumulator and rounds half to even; ONNX Runtime\'s QLinearConv/QGemm computes float(acc + bias_q) * ' +
    '(s_a*s_w,c/s_out) + z_out, and its unfused path accumulates dequantized reals in float32 and QuantizeLinear ' +
    'divides by s_out. Values within float rounding of a half-code boundary may land one code apart.',
  'Float logits: arq computes s_a*s_w,c*acc_c + bias_c from the exact accumulator; ONNX Runtime computes the last ' +
    'layer as QGemm with float output or in float32 on dequantized tensors: the logits differ by float rounding.',
  'Add: arq computes fma(s1(q1-z1) + s2(q2-z2), float(1/s_out), z_out); ONNX Runtime divides the float sum by s_out ' +
    '(or uses QLinearAdd), so sums at a half-code boundary may round one code apart.',
  'AveragePool/GlobalAveragePool: arq rounds sum(codes) * float(1/count) half to even on the unchanged grid; ONNX ' +
    'Runtime averages dequantized reals in float32 (or uses its QLinear pooling). Exact ties are frequent (a sum of ' +
    'integer codes hits k + 1/2 one time in `count`), and ONNX Runtime resolves them by float rounding noise, and ' +
    'half-to-even of (average - z) + z differs from arq\'s half-to-even of the average when z is odd.',
  'Clamps on carriers (unfused Relu/Clip): arq clamps codes at z + round(bound/s); ONNX Runtime clips reals before ' +
    'QuantizeLinear (or removes a Relu/Clip that the QuantizeLinear saturation implies). Equal except at half-code ' +
    'bounds.',
  'Layer inputs on a grid other than their carrier\'s, made by AveragePool/GlobalAveragePool/Pad/an unfused clamp ' +
    '(abits 8; never Conv/Gemm/Add outputs): the carrier pair and the layer pair form a Q -> DQ -> Q -> DQ chain, which ' +
    'ONNX Runtime\'s DoubleQDQPairsRemover merges onto one grid spanning the intersection of both ranges, dropping ' +
    'arq\'s double rounding. (MaxPool/Flatten/Tile outputs are converted without such a chain; see the header.)',
  'Layer inputs with abits < 8: exact with exactLowBitRange (a Clip to the abits range precedes the uint8 ' +
    'QuantizeLinear, which would otherwise saturate at 0..255, not 0..2^abits-1); without it, inputs beyond the ' +
    'calibrated range get codes above 2^abits-1.',
  'Weights with wbits 2..4 at opset < 21: stored as INT8 holding the restricted range (INT4 needs opset 21); the ' +
    'values are identical, only the file is larger.',
];

const DEFAULT_OPSET = 21;
const INT32_LIMIT = 2 ** 31 - 1;

type Rank = 2 | 4;

function sameGrid(a: NativeGrid | null, b: { scale: number; zero: number; bits: number }): boolean {
  return a !== null && b.bits === 8 && a.scale === b.scale && a.zero === b.zero;
}

/** The QDQ ONNX model of `spec` (intPlanSpec of `graph`); see exportQdqModel for the metadata. */
export function exportQdq(graph: Graph, spec: IntPlanSpec, options: QdqOptions = {}): Uint8Array {
  return exportQdqModel(graph, spec, options).bytes;
}

export function exportQdqModel(graph: Graph, spec: IntPlanSpec, options: QdqOptions = {}): QdqExport {
  const opset = options.opset ?? DEFAULT_OPSET;
  if (!Number.isInteger(opset) || opset < 13 || opset > 22) throw new ArqError(`QDQ export: opset must be in 13..22 (per-axis DequantizeLinear needs 13), got ${opset}`);
  const int4 = (options.int4 ?? true) && opset >= 21;
  const biasMode = options.bias ?? 'float';
  const exactLowBitRange = options.exactLowBitRange ?? true;
  const batch = options.batch ?? 'N';

  const lowered = lowerGraph(graph);
  if (lowered.spec.ops.length !== spec.ops.length || lowered.spec.values !== spec.values || spec.grids.length !== spec.values) {
    throw new ArqError('QDQ export: the integer plan was not made from this graph');
  }
  spec.ops.forEach((op, i) => {
    const expected = lowered.spec.ops[i];
    if (op.op !== expected.op || op.name !== expected.name || op.output !== expected.output) {
      throw new ArqError(`QDQ export: the integer plan was not made from this graph (op #${i} is ${op.op} '${op.name}', expected ${expected.op} '${expected.name}')`);
    }
  });

  // Per plan value: an IR name (the last IR value mapped to it, i.e. a fused clamp's output) and its shape.
  const irName: string[] = new Array<string>(spec.values).fill('');
  for (const [name, value] of lowered.valueOf) irName[value] = name;
  const shapeOf = (value: number) => graph.shapes.get(irName[value])!;

  const b = new OnnxBuilder(opset);
  // Value (and initializer) names and node names are separate ONNX namespaces. Node names of the IR's operators are
  // reserved first so every Conv/Gemm keeps its layer name exactly (policies refer to layers by it).
  const usedValues = new Set<string>([graph.input.name, graph.output]);
  const usedNodes = new Set<string>(spec.ops.map((op) => op.name ?? ''));
  const fresh = (used: Set<string>, base: string): string => {
    let name = base;
    for (let k = 1; used.has(name); k++) name = `${base}_${k}`;
    used.add(name);
    return name;
  };
  const unique = (base: string): string => fresh(usedValues, base);
  const nodeName = (base: string): string => fresh(usedNodes, base);
  let quantizeCount = 0;
  let dequantizeCount = 0;
  /**
   * x -> QuantizeLinear -> DequantizeLinear on `grid`; returns the dequantized name. Every pair gets its own scale
   * and zero-point initializers: ONNX Runtime's DoubleQDQPairsRemover rewrites the scale of the pairs it merges,
   * and a shared initializer would carry that rewrite to unrelated pairs.
   */
  const qdq = (x: string, grid: NativeGrid, base: string, output?: string): string => {
    const scale = b.initializer(unique(`${base}_scale`), { dims: [], dataType: 'float', values: [grid.scale] });
    const zero = b.initializer(unique(`${base}_zero`), { dims: [], dataType: 'uint8', values: [grid.zero] });
    const q = b.node('QuantizeLinear', [x, scale, zero], unique(`${base}_q`), {}, nodeName(`${base}/QuantizeLinear`));
    quantizeCount++;
    dequantizeCount++;
    return b.node('DequantizeLinear', [q, scale, zero], output ?? unique(`${base}_dq`), {}, nodeName(`${base}/DequantizeLinear`));
  };
  const floatScalar = (value: number, base: string) => b.initializer(unique(base), { dims: [], dataType: 'float', values: [value] });
  const int64s = (values: number[], base: string) => b.initializer(unique(base), { dims: [values.length], dataType: 'int64', values });
  const clampNode = (x: string, min: number, max: number, base: string, output?: string): string => {
    const out = output ?? unique(`${base}_clamp`);
    if (min === 0 && max === Number.POSITIVE_INFINITY) return b.node('Relu', [x], out, {}, nodeName(`${base}/Relu`));
    const lo = Number.isFinite(min) ? floatScalar(min, `${base}_clip_min`) : '';
    const hi = Number.isFinite(max) ? floatScalar(max, `${base}_clip_max`) : '';
    const inputs = hi ? [x, lo, hi] : lo ? [x, lo] : [x];
    return b.node('Clip', inputs, out, {}, nodeName(`${base}/Clip`));
  };

  // Per plan value: `pre` is the float result of its operator; for a carrier, realOf adds the carrier's
  // QuantizeLinear -> DequantizeLinear on first use (so no pair is emitted that nothing reads).
  const pre: string[] = new Array<string>(spec.values).fill('');
  const carrier: string[] = new Array<string>(spec.values).fill('');
  const rank: Rank[] = new Array<Rank>(spec.values).fill(4);
  /** Values made by MaxPool/Flatten/Tile from a carrier: their float result holds exactly the input grid's reals. */
  const selection: boolean[] = new Array<boolean>(spec.values).fill(false);
  pre[0] = graph.input.name;
  rank[0] = graph.input.rank;
  const realOf = (value: number): string => {
    const grid = spec.grids[value];
    if (!grid) return pre[value];
    carrier[value] ||= qdq(pre[value], grid, irName[value], value === spec.output ? graph.output : undefined);
    return carrier[value];
  };
  const layers: QdqLayerInfo[] = [];

  /** Records the float result `x` of the op producing `value`. */
  const finish = (value: number, x: string, valueRank: Rank): void => {
    rank[value] = valueRank;
    pre[value] = x;
  };
  /** Output name of an op's float result: the graph output for a float network output, else a fresh name. */
  const resultName = (value: number): string => (value === spec.output && !spec.grids[value] ? graph.output : unique(irName[value]));

  for (const op of spec.ops) {
    const base = op.name ?? irName[op.output];
    const x = op.op === 'conv' || op.op === 'gemm' ? '' : realOf(op.inputs[0]);
    const xRank = rank[op.inputs[0]];
    switch (op.op) {
      case 'conv':
      case 'gemm': {
        const layer = op as Extract<IntPlanOp, { op: 'conv' | 'gemm' }>;
        // The layer's input codes. A carrier already on the layer grid (abits 8) is read as it is. Otherwise the
        // conversion (arq's lookup table) is QuantizeLinear onto the layer grid of the carrier's real values. When the
        // carrier was made by MaxPool/Flatten/Tile, the conversion is applied to that operator's float result
        // instead: it holds exactly the reals of the input carrier's codes, and a monotone elementwise conversion
        // commutes with selecting elements, so the codes are the same, but ONNX Runtime sees no
        // Q -> DQ -> Q -> DQ chain, which its DoubleQDQPairsRemover would merge onto a third grid.
        const source = op.inputs[0];
        const g = layer.inputGrid;
        const reuse = sameGrid(spec.grids[source], g);
        let input = reuse || !selection[source] ? realOf(source) : pre[source];
        // Gemm reads [N, F]: flatten an NCHW input first (NCHW element order, as arq's gemm reads it).
        const flattened = layer.op === 'gemm' && rank[source] === 4;
        if (flattened) input = b.node('Flatten', [input], unique(`${base}_flat`), { axis: 1 }, nodeName(`${base}/Flatten`));
        const requantized = flattened || !reuse;
        const clipped = requantized && g.bits < 8 && exactLowBitRange;
        if (requantized) {
          if (clipped) {
            const levels = 2 ** g.bits - 1;
            const lo = Math.fround(g.scale * (0 - g.zero));
            const hi = Math.fround(g.scale * (levels - g.zero));
            input = clampNode(input, lo, hi, `${base}_input`, unique(`${base}_input_clip`));
          }
          input = qdq(input, { scale: g.scale, zero: g.zero }, `${base}_input`);
        }
        const channels = layer.op === 'conv' ? layer.outChannels : layer.outFeatures;
        const perChannel = layer.weight.length / channels;
        const dims = layer.op === 'conv' ? [channels, perChannel / (layer.kernel[0] * layer.kernel[1]), layer.kernel[0], layer.kernel[1]] : [channels, perChannel];
        const weightType = int4 && layer.wbits <= 4 ? 'int4' : 'int8';
        const codes = b.initializer(unique(`${base}_weight_q`), { dims, dataType: weightType, values: layer.weight });
        const scales = b.initializer(unique(`${base}_weight_scale`), { dims: [channels], dataType: 'float', values: layer.weightScales });
        const zeros = b.initializer(unique(`${base}_weight_zero`), { dims: [channels], dataType: weightType, values: new Int8Array(channels) });
        const weight = b.node('DequantizeLinear', [codes, scales, zeros], unique(`${base}_weight`), { axis: 0 }, nodeName(`${base}/weight/DequantizeLinear`));
        dequantizeCount++;
        let bias = '';
        let biasKind: QdqLayerInfo['bias'] = 'none';
        if (layer.bias) {
          const biasScales = Float32Array.from(layer.weightScales, (s) => g.scale * s);
          const biasCodes = Array.from(layer.bias, (v, c) => Math.round(v / biasScales[c]));
          if (biasMode === 'int32' && biasCodes.every((q) => Number.isFinite(q) && Math.abs(q) <= INT32_LIMIT)) {
            const q = b.initializer(unique(`${base}_bias_q`), { dims: [channels], dataType: 'int32', values: biasCodes });
            const s = b.initializer(unique(`${base}_bias_scale`), { dims: [channels], dataType: 'float', values: biasScales });
            const z = b.initializer(unique(`${base}_bias_zero`), { dims: [channels], dataType: 'int32', values: new Int32Array(channels) });
            bias = b.node('DequantizeLinear', [q, s, z], unique(`${base}_bias`), { axis: 0 }, nodeName(`${base}/bias/DequantizeLinear`));
            dequantizeCount++;
            biasKind = 'int32';
          } else {
            const dims = biasMode === 'add' && layer.op === 'conv' ? [channels, 1, 1] : [channels];
            bias = b.initializer(unique(`${base}_bias`), { dims, dataType: 'float', values: layer.bias });
            biasKind = biasMode === 'add' ? 'add' : 'float';
          }
        }
        const separateBias = biasKind === 'add';
        const inputs = bias && !separateBias ? [input, weight, bias] : [input, weight];
        const out = layer.clamp || separateBias ? unique(`${base}_out`) : resultName(layer.output);
        let y: string;
        if (layer.op === 'conv') {
          const attributes: Record<string, AttributeValue> = {
            kernel_shape: [...layer.kernel],
            strides: [...layer.strides],
            pads: [...layer.pads],
            dilations: [1, 1],
            group: layer.group,
          };
          y = b.node('Conv', inputs, out, attributes, base);
        } else {
          y = b.node('Gemm', inputs, out, { transB: 1 }, base);
        }
        if (separateBias) y = b.node('Add', [y, bias], layer.clamp ? unique(`${base}_biased`) : resultName(layer.output), {}, nodeName(`${base}/bias/Add`));
        if (layer.clamp) y = clampNode(y, layer.clamp[0], layer.clamp[1], base, resultName(layer.output));
        finish(layer.output, y, layer.op === 'conv' ? 4 : 2);
        layers.push({
          name: layer.name ?? base,
          op: layer.op === 'conv' ? 'Conv' : 'Gemm',
          wbits: layer.wbits,
          abits: g.bits,
          weightType,
          bias: biasKind,
          inputGrid: { scale: g.scale, zero: g.zero, bits: g.bits },
          outputGrid: spec.grids[layer.output],
          clippedInput: clipped,
        });
        break;
      }
      case 'add': {
        const other = realOf(op.inputs[1]);
        const out = op.clamp ? unique(`${base}_sum`) : resultName(op.output);
        let y = b.node('Add', [x, other], out, {}, base);
        if (op.clamp) y = clampNode(y, op.clamp[0], op.clamp[1], base, resultName(op.output));
        finish(op.output, y, xRank);
        break;
      }
      case 'clamp': {
        const range = op.clamp ?? [Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY];
        finish(op.output, clampNode(x, range[0], range[1], base, resultName(op.output)), xRank);
        break;
      }
      case 'maxpool':
        selection[op.output] = spec.grids[op.inputs[0]] !== null;
        finish(op.output, b.node('MaxPool', [x], resultName(op.output), { kernel_shape: [...op.kernel], strides: [...op.strides], pads: [...op.pads] }, base), 4);
        break;
      case 'avgpool': {
        const attributes = { kernel_shape: [...op.kernel], strides: [...op.strides], pads: [...op.pads], count_include_pad: op.countIncludePad ? 1 : 0 };
        finish(op.output, b.node('AveragePool', [x], resultName(op.output), attributes, base), 4);
        break;
      }
      case 'globalavgpool':
        finish(op.output, b.node('GlobalAveragePool', [x], resultName(op.output), {}, base), 4);
        break;
      case 'flatten':
        selection[op.output] = spec.grids[op.inputs[0]] !== null;
        finish(op.output, b.node('Flatten', [x], resultName(op.output), { axis: 1 }, base), 2);
        break;
      case 'pad': {
        if (xRank !== 4) throw new ArqError(`QDQ export: node '${base}': Pad of a rank-2 value is not supported`);
        const [top, left, bottom, right] = op.pads;
        const pads = int64s([0, 0, top, left, 0, 0, bottom, right], `${base}_pads`);
        const value = floatScalar(op.value, `${base}_value`);
        finish(op.output, b.node('Pad', [x, pads, value], resultName(op.output), { mode: 'constant' }, base), 4);
        break;
      }
      case 'repeat': {
        selection[op.output] = spec.grids[op.inputs[0]] !== null;
        const repeats = int64s(xRank === 4 ? [1, op.factor, 1, 1] : [1, op.factor], `${base}_repeats`);
        finish(op.output, b.node('Tile', [x, repeats], resultName(op.output), {}, base), xRank);
        break;
      }
      case 'elementwise': {
        const channels = shapeOf(op.inputs[0])[0];
        const dims = op.constant.length === 1 ? [] : xRank === 4 ? [channels, 1, 1] : [channels];
        const constant: TensorValue = { dims, dataType: 'float', values: op.constant };
        const k = b.initializer(unique(`${base}_constant`), constant);
        const onnxOp = { add: 'Add', sub: 'Sub', mul: 'Mul', div: 'Div' }[op.operation];
        finish(op.output, b.node(onnxOp, op.constantFirst ? [k, x] : [x, k], resultName(op.output), {}, base), xRank);
        break;
      }
    }
  }

  const inputShape = graph.input.shape;
  b.input(graph.input.name, graph.input.rank === 4 ? [batch, ...inputShape] : [batch, inputShape[0]]);
  const outShape = shapeOf(spec.output);
  b.output(graph.output, rank[spec.output] === 4 ? [batch, ...outShape] : [batch, outShape[0]]);
  if (realOf(spec.output) !== graph.output) throw new Error(`QDQ export: the network output is '${realOf(spec.output)}', expected '${graph.output}'`);

  const metadata: QdqMetadata = {
    format: 'arq-qdq/1',
    opset,
    bias: biasMode,
    exactLowBitRange,
    layers,
    quantizeLinear: quantizeCount,
    dequantizeLinear: dequantizeCount,
    differences: QDQ_DIFFERENCES,
  };
  b.metadata('arq.qdq', JSON.stringify({ ...metadata, differences: undefined, layers: undefined }));
  b.metadata('arq.qdq.layers', JSON.stringify(layers));
  b.metadata('arq.qdq.differences', QDQ_DIFFERENCES.join('\n'));
  return { bytes: b.encode('arq'), metadata };
}
