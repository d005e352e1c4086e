/**
 * A Sampler over a native fp32 plan for smoothing tests: the threshold classifier (threshold.ts) run by the real
 * sampling loop, with class probabilities known exactly: P(class 0 | x) = Phi((t - x) / sigma).
 */
import { FloatPlan } from '../../src/engine/float-plan.js';
import type { Sampler } from '../../src/smoothing/sampler.js';
import { thresholdModel } from './threshold.js';

export function planSampler(plan: FloatPlan, sigma: number, seed: number, inputSize = 1): Sampler {
  return {
    classes: plan.classes,
    inputSize,
    sigma,
    sample: (image, imageIndex, first, count, record) =>
      plan.sample({ image, sigma, seedHi: 0, seedLo: seed, imageIndex, firstSample: first, count, batch: 1000, threads: 2, record }),
    close: async () => {},
  };
}

/** A Sampler of the threshold classifier with threshold t at noise sigma. */
export function thresholdSampler(t: number, sigma: number, seed = 1): Sampler {
  return planSampler(FloatPlan.build(thresholdModel(t).graph), sigma, seed);
}
