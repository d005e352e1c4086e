/**
 * The cost model of quantization.md: BitOps = sum over quantizable layers of MACs * wbits * abits, reported as a
 * percentage of the float reference (MACs * 32 * 32); size = parameters * wbits plus per-channel scales. Other
 * operators (pools, adds, activations) are not counted.
 */
import { bitopsOf, FLOAT_BITS, layerCosts } from '../graph/cost.js';
import type { Graph } from '../graph/ir.js';
import type { Policy } from './policy.js';

export interface PolicyCost {
  readonly bitops: number;
  readonly floatBitops: number;
  readonly bitopsPercent: number;
  /** Quantized weights (wbits each), float32 biases and one float32 scale per output channel. */
  readonly sizeBytes: number;
  readonly floatSizeBytes: number;
}

export function policyCost(graph: Graph, policy: Policy): PolicyCost {
  const bits = new Map(policy.layers.map((layer) => [layer.name, layer]));
  let bitops = 0;
  let floatBitops = 0;
  let sizeBits = 0;
  let floatSizeBytes = 0;
  for (const layer of layerCosts(graph)) {
    const node = graph.nodes.find((n) => n.name === layer.name)!;
    if (node.op !== 'conv' && node.op !== 'gemm') continue;
    const { wbits, abits } = bits.get(layer.name)!;
    bitops += bitopsOf(layer.macs, wbits, abits);
    floatBitops += bitopsOf(layer.macs, FLOAT_BITS, FLOAT_BITS);
    const channels = node.op === 'conv' ? node.outChannels : node.outFeatures;
    sizeBits += node.weight.length * wbits + 32 * (channels + (node.bias?.length ?? 0));
    floatSizeBytes += 4 * layer.params;
  }
  return { bitops, floatBitops, bitopsPercent: (100 * bitops) / floatBitops, sizeBytes: Math.ceil(sizeBits / 8), floatSizeBytes };
}
