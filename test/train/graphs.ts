/** Small training graphs that exercise every operator the trainer supports (test support for test/train). */
import { GraphBuilder } from '../../src/train/architectures.js';
import type { TrainGraph } from '../../src/train/graph.js';

/**
 * Conv, depthwise and grouped conv, batch norm, ReLU6, a residual add with a ReLU (the trainer runs a clamp inside the
 * batch norm or add it follows), max pool, flatten, gemm: input [3, 6, 6].
 */
export function residualGraph(seed: number, classes = 5): TrainGraph {
  const b = new GraphBuilder([3, 6, 6], seed);
  const x = b.normalize('input', { mean: [0.5, 0.4, 0.3], std: [0.25, 0.3, 0.2] });
  const a = b.convBnAct(x, '/a', 4, 3, 1, { min: 0, max: 6 });
  const dw = b.convBnAct(a, '/dw', 4, 3, 1, null, 4);
  const grouped = b.conv(dw, '/grouped', 4, 1, 1, 2);
  const sum = b.clamp(b.add2(a, grouped, '/res'), '/res/relu', { min: 0, max: Infinity });
  return b.finish(b.gemm(b.flatten(b.maxpool(sum, '/pool', 2), '/flatten'), '/fc', classes));
}

/** Strided conv, ReLU, average pool (padding excluded from the divisor), global average pool: input [2, 7, 7]. */
export function poolingGraph(seed: number, classes = 3): TrainGraph {
  const b = new GraphBuilder([2, 7, 7], seed);
  const y = b.convBnAct('input', '/a', 6, 3, 2, { min: 0, max: Infinity });
  const avg = b.append({
    op: 'avgpool', name: '/avg/AveragePool', inputs: [y], output: '/avg/out', kernel: [3, 3], strides: [1, 1], pads: [1, 1, 1, 1], countIncludePad: false,
  });
  return b.finish(b.gemm(b.flatten(b.globalAvgPool(avg, '/gap'), '/flatten'), '/fc', classes));
}

/** Channel repeats (of the input and of a conv's output) and an asymmetric pad with a non-zero value: input [1, 5, 5]. */
export function copyGraph(seed: number, classes = 3): TrainGraph {
  const b = new GraphBuilder([1, 5, 5], seed);
  const rgb = b.append({ op: 'repeat', name: '/Tile', inputs: ['input'], output: '/Tile_output_0', factor: 3 });
  const a = b.convBnAct(rgb, '/a', 4, 3, 1, { min: 0, max: 6 });
  const padded = b.append({ op: 'pad', name: '/Pad', inputs: [a], output: '/Pad_output_0', pads: [1, 0, 2, 1], value: 0.5 });
  const wide = b.append({ op: 'repeat', name: '/Tile_1', inputs: [padded], output: '/Tile_1_output_0', factor: 2 });
  const c = b.conv(wide, '/c', 3, 3, 2);
  return b.finish(b.gemm(b.flatten(b.globalAvgPool(c, '/gap'), '/flatten'), '/fc', classes));
}

/** Deterministic pseudo-random values in [lo, hi). */
export function uniformValues(count: number, seed: number, lo = 0, hi = 1): Float32Array {
  let state = seed >>> 0;
  return Float32Array.from({ length: count }, () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return lo + ((hi - lo) * state) / 2 ** 32;
  });
}
