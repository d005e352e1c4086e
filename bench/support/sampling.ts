/**
 * What the sampling-loop benchmarks (certify.ts, qdq.ts) share: their command line and the rate of a sampler on
 * one image (the loop of noise, inference, arg-max and counting that CERTIFY spends its time on).
 */
import { parseArgs } from 'node:util';
import type { Sampler } from '../../src/smoothing/sampler.js';

export interface SamplingArgs {
  readonly model: string;
  readonly samples: number;
  readonly batch: number;
  readonly threads: number;
  readonly sigma: number;
}

/** --model, --samples, --batch (default 400), --threads (2) and --sigma (0.25) from the command line. */
export function samplingArgs(defaults: { model: string; samples: number }): SamplingArgs {
  const { values } = parseArgs({
    options: {
      model: { type: 'string', default: defaults.model },
      samples: { type: 'string', default: String(defaults.samples) },
      batch: { type: 'string', default: '400' },
      threads: { type: 'string', default: '2' },
      sigma: { type: 'string', default: '0.25' },
    },
  });
  return { model: values.model, samples: Number(values.samples), batch: Number(values.batch), threads: Number(values.threads), sigma: Number(values.sigma) };
}

/** Samples per second of `sampler` drawing `samples` noisy copies of `image` after a one-batch warm-up, and its counts. */
export async function samplingRate(sampler: Sampler, image: Float32Array, batch: number, samples: number): Promise<{ rate: number; counts: Uint32Array }> {
  await sampler.sample(image, 0, 0, batch, false);
  const start = performance.now();
  const { counts } = await sampler.sample(image, 1, 0, samples, false);
  return { rate: samples / ((performance.now() - start) / 1000), counts };
}
