/**
 * The inputs the throughput benchmarks share: images of a fixed pattern (a timing does not depend on their content)
 * and a calibration on them (the speed of an integer plan does not depend on its grids).
 */
import { makeDataset } from '../../src/data/index.js';
import type { Graph } from '../../src/graph/ir.js';
import { calibrate, type Calibration } from '../../src/quant/calibrate.js';

/** `length` values in [0, 1): a multiplicative hash of the index, the same on every run and machine. */
export function patternImages(length: number): Float32Array {
  return Float32Array.from({ length }, (_, i) => ((i * 2654435761) % 1000) / 1000);
}

/** The calibration of `graph` on `count` of `images` (spread over them as calibrate spreads), at sigma 0.25 by default. */
export function benchCalibration(graph: Graph, images: Float32Array, options: { count: number; sigma?: number; threads?: number }): Promise<Calibration> {
  const [c, h, w] = graph.input.shape;
  const dataset = makeDataset({ name: 'bench', shape: [c, h, w], images, labels: new Int32Array(images.length / (c * h * w)) });
  return calibrate(graph, dataset, { sigma: options.sigma ?? 0.25, count: options.count, threads: options.threads });
}
