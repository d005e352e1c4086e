/**
 * An integer plan from grids fixed elsewhere, not calibrated: those of a QDQ file (onnx/qdq-import.ts). The plan has
 * the structure intPlanSpec gives the same graph (int-plan.ts: carriers on Conv, Gemm and Add outputs; pooling,
 * clamps and reshapes keep their input's grid; each layer reads its input on its own grid), with the file's weight
 * codes, weight scales, layer input grids and carriers. A value the file quantizes more than one way, an integer
 * operator's output the file leaves float, or a pooled value the file moves onto another grid cannot be computed by
 * arq exactly as the file says, and is rejected with a message naming the node.
 */
import type { Graph } from '../graph/ir.js';
import { lowerGraph } from '../graph/lower.js';
import type { IntPlanOp, IntPlanSpec, NativeGrid } from '../native.js';
import { quantizeLinear, type QdqGrids, type QdqQuantizedValue } from '../onnx/qdq-import.js';
import { ArqError } from '../util/errors.js';

export interface GivenGridsOptions {
  /**
   * 'file' (default): each layer's bias as the file holds it, in float32 (arq's semantics: an arq export comes back
   * bit for bit). 'ort': each bias rounded as ONNX Runtime rounds it before it runs the layer on integers (its
   * BiasQuantization: int32 codes round_half_even(b_c / (s_a*s_w,c)) on that float32 scale; measured to hold for
   * int8 and int4 weights alike, docs/qdq.md), so the plan adds the bias ONNX Runtime adds. A bias the file already
   * stores as int32 codes is unchanged either way.
   */
  readonly bias?: 'file' | 'ort';
}

/** The integer plan spec of `graph` on the grids `given`. */
export function givenGridsSpec(graph: Graph, given: QdqGrids, options: GivenGridsOptions = {}): IntPlanSpec {
  if (given.refusal) throw new ArqError(given.refusal);
  const { spec, valueOf } = lowerGraph(graph);
  const quantizations = new Map<number, QdqQuantizedValue[]>();
  for (const q of given.values) {
    const value = valueOf.get(q.value);
    if (value === undefined) throw new ArqError(`${q.node}: quantizes '${q.value}', which the integer plan does not compute`);
    quantizations.set(value, [...(quantizations.get(value) ?? []), q]);
  }
  const sameGrid = (a: NativeGrid, b: NativeGrid) => a.scale === b.scale && a.zero === b.zero;
  /** The one carrier (8-bit grid) the file gives `value`: a narrower grid on the same scale and zero saturates alike. */
  const carrierOf = (value: number, what: string): NativeGrid | null => {
    const [first, ...rest] = quantizations.get(value) ?? [];
    if (!first) return null;
    const other = rest.find((q) => !sameGrid(q.grid, first.grid));
    if (other) throw new ArqError(`${other.node}: quantizes ${what} onto a grid other than ${first.node}'s; arq holds one grid per value`);
    return { scale: first.grid.scale, zero: first.grid.zero };
  };
  /** A value that keeps its input's grid: the file may only restate it, or give layers reading it their own grid. */
  const keepsGrid = (value: number, grid: NativeGrid | null, what: string, exactConversion: boolean): void => {
    for (const q of quantizations.get(value) ?? []) {
      if (grid === null ? q.layersOnly : sameGrid(q.grid, grid) || (q.layersOnly && exactConversion)) continue;
      throw new ArqError(`${q.node}: quantizes ${what} onto a grid of its own; arq keeps that value on its input's grid`);
    }
  };

  const grids: (NativeGrid | null)[] = new Array<NativeGrid | null>(spec.values).fill(null);
  const isFloat = new Array<boolean>(spec.values).fill(false);
  isFloat[0] = true;
  keepsGrid(0, null, 'the network input', false);
  const ops: IntPlanOp[] = [];
  for (const op of spec.ops) {
    const input = op.inputs[0];
    const out = op.output;
    const what = `the output of node '${op.name}' (${op.op})`;
    switch (op.op) {
      case 'conv':
      case 'gemm': {
        const layer = given.layers.get(op.name!);
        if (!layer) throw new ArqError(`layer '${op.name}': the file gives it no weight codes`);
        grids[out] = carrierOf(out, what);
        if (!grids[out] && out !== spec.output) throw new ArqError(`layer '${op.name}': its output is not quantized; only the network output may stay float`);
        const { weight: _float, ...structure } = op;
        void _float;
        const bias = options.bias === 'ort' && structure.bias ? ortBias(structure.bias, layer.inputGrid.scale, layer.scales) : structure.bias;
        ops.push({ ...structure, bias, weight: layer.codes, wbits: layer.wbits, weightScales: layer.scales, inputGrid: { ...layer.inputGrid } });
        break;
      }
      case 'add':
        grids[out] = carrierOf(out, what);
        if (!grids[out]) throw new ArqError(`node '${op.name}' (Add): its output is not quantized`);
        ops.push(op);
        break;
      case 'elementwise':
        if (!isFloat[input]) throw new ArqError(`node '${op.name}': elementwise operators are supported only before the first layer`);
        isFloat[out] = true;
        keepsGrid(out, null, what, false);
        ops.push(op);
        break;
      case 'repeat':
      case 'pad':
      case 'flatten':
      case 'maxpool':
        if (op.op === 'maxpool' && isFloat[input]) throw new ArqError(`node '${op.name}' (maxpool) needs a quantized input: the integer plan quantizes at the first Conv or Gemm layer`);
        isFloat[out] = isFloat[input];
        grids[out] = grids[input];
        keepsGrid(out, grids[out], what, op.op !== 'pad');
        ops.push(op);
        break;
      default:
        if (isFloat[input]) throw new ArqError(`node '${op.name}' (${op.op}) needs a quantized input: the integer plan quantizes at the first Conv or Gemm layer`);
        grids[out] = grids[input];
        // Averages and clamps are rounded onto the input's grid: a second rounding onto another grid is not arq's.
        keepsGrid(out, grids[out], what, false);
        ops.push(op);
    }
  }
  return { ...spec, grids, ops };
}

/** A float bias as ONNX Runtime quantizes it to int32 codes on s_a*s_w,c (float32) and dequantizes it. */
function ortBias(bias: Float32Array, inputScale: number, weightScales: Float32Array): Float32Array {
  return Float32Array.from(bias, (b, c) => {
    const scale = Math.fround(inputScale * weightScales[c]);
    return Math.fround(quantizeLinear(b, scale, 0, -(2 ** 31), 2 ** 31 - 1) * scale);
  });
}
