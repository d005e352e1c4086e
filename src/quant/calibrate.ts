/**
 * Calibration (quantization.md): the float model runs on training images with Gaussian noise at the certification
 * sigma (the smoothed classifier only ever sees noisy inputs), and every tensor's range and histogram are recorded.
 * Grids are then chosen from these statistics (grid.ts). Deterministic for a given dataset, count and seed.
 */
import type { Dataset } from '../data/index.js';
import type { Graph } from '../graph/ir.js';
import { FloatPlan } from '../engine/float-plan.js';
import { HISTOGRAM_BINS, type ActivationStatistics } from '../engine/int-plan.js';
import { lowerGraph } from '../graph/lower.js';
import { cpuInfo } from '../native.js';
import { noisyCopy } from '../engine/noise.js';
import { imageValues } from '../util/check.js';
import { ArqError } from '../util/errors.js';
import { checkSeed, checkSigma, checkThreads } from '../engine/settings.js';

export interface CalibrationOptions {
  /** Noise standard deviation added to the [0,1] images (the certification sigma). */
  readonly sigma: number;
  /** Calibration images, spread evenly over the dataset (default 256). */
  readonly count?: number;
  readonly seed?: number;
  readonly threads?: number;
  /** The float plan's memory limit per call in bytes (PlanOptions.maxMemory); the histograms count against it. */
  readonly maxMemory?: number;
}

/**
 * The statistics of every plan value of the graph's lowering, with its numbering (`valueOf`, graph/lower.ts): an
 * integer plan reads them for a graph whose lowering numbers its values alike, and refuses any other
 * (engine/int-plan.ts checkStatistics).
 */
export interface Calibration extends ActivationStatistics {
  readonly settings: { readonly sigma: number; readonly count: number; readonly seed: number; readonly data: string };
}

export async function calibrate(graph: Graph, data: Dataset, options: CalibrationOptions): Promise<Calibration> {
  const count = Math.min(options.count ?? 256, data.count);
  const sigma = checkSigma(options.sigma);
  const seed = checkSeed(options.seed ?? 0);
  const threads = checkThreads(options.threads ?? cpuInfo().threads);
  const size = data.shape[0] * data.shape[1] * data.shape[2];
  const expected = graph.input.shape[0] * graph.input.shape[1] * graph.input.shape[2];
  if (size !== expected) throw new ArqError(`calibration data ${data.name} has images of ${size} values, the model expects ${expected}`);
  const images = new Float32Array(count * size);
  const stride = Math.floor(data.count / count);
  for (let k = 0; k < count; k++) {
    const index = k * stride;
    const image = imageValues(data.name, data.images.subarray(index * size, (index + 1) * size), { imageSize: size, firstImage: index });
    images.set(noisyCopy(image, sigma, seed, index), k * size);
  }
  // One lowering: the plan that records the statistics and the numbering they are kept with.
  const lowered = lowerGraph(graph);
  const plan = FloatPlan.fromSpec(lowered.spec, { maxMemory: options.maxMemory });
  // Native failures of the passes (over the memory limit; a plan value holding NaN or infinity, named with the node
  // that produced it) get the data's name.
  const observed = async <T>(pass: () => Promise<T>): Promise<T> => {
    try {
      return await pass();
    } catch (error) {
      throw new ArqError(`calibration on ${data.name}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
  };
  // The histogram pass needs the most memory: checked before the ranges pass runs the whole network.
  await observed(async () => plan.checkMemory(count, threads, HISTOGRAM_BINS));
  const ranges = await observed(() => plan.observeRanges(images, count, threads));
  const histograms = await observed(() => plan.observeHistograms(images, count, threads, ranges, HISTOGRAM_BINS));
  return { valueOf: lowered.valueOf, ranges, histograms, settings: { sigma, count, seed, data: data.name } };
}
