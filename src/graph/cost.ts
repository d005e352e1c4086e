/**
 * Per-layer MACs and parameter counts (per image), as quantization.md's cost model defines them: only Conv and
 * Gemm layers count; pools, adds and activations are not counted.
 */
import { isQuantizable, type Graph, type QuantizableNode } from './ir.js';

export interface LayerCost {
  readonly name: string;
  readonly op: 'conv' | 'gemm';
  readonly macs: number;
  readonly params: number;
  readonly inputShape: readonly number[];
  readonly outputShape: readonly number[];
}

export function layerCosts(graph: Graph): LayerCost[] {
  return graph.nodes.filter(isQuantizable).map((node: QuantizableNode) => {
    const input = graph.shapes.get(node.inputs[0])!;
    const output = graph.shapes.get(node.output)!;
    const weights = node.weight.length;
    // Conv: C_out*H_out*W_out*(C_in/groups)*kh*kw = (output pixels) * weights; Gemm: in*out = weights.
    const macs = node.op === 'conv' ? output[1] * output[2] * weights : weights;
    const params = weights + (node.bias?.length ?? 0);
    return { name: node.name, op: node.op, macs, params, inputShape: [...input], outputShape: [...output] };
  });
}

/** Width of a float operand in the cost model: the float reference costs MACs x 32 x 32 BitOps. */
export const FLOAT_BITS = 32;

/** BitOps of `macs` multiply-accumulates with `wbits`-bit weights and `abits`-bit activations (the one formula). */
export function bitopsOf(macs: number, wbits: number, abits: number): number {
  return macs * wbits * abits;
}

/** The fraction of the float reference's BitOps that a network costs with every layer at `wbits` x `abits`. */
export function uniformBitopsFraction(wbits: number, abits: number): number {
  return bitopsOf(1, wbits, abits) / bitopsOf(1, FLOAT_BITS, FLOAT_BITS);
}

export function totalCost(graph: Graph): { macs: number; params: number; floatBitOps: number } {
  const costs = layerCosts(graph);
  const macs = costs.reduce((sum, layer) => sum + layer.macs, 0);
  const params = costs.reduce((sum, layer) => sum + layer.params, 0);
  return { macs, params, floatBitOps: bitopsOf(macs, FLOAT_BITS, FLOAT_BITS) };
}
