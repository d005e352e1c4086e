/** What `arq certify` and `arq smooth-predict` share: the engine's sampler under noise, from the flags. */
import type { Argv } from 'yargs';
import type { EngineName } from '../engine/classifier.js';
import type { LoadedModel } from '../onnx/model.js';
import { integerInRange } from '../util/check.js';
import { quantizationFromArgs, type CalibrationArgs } from './options.js';

export interface SmoothingArgs extends CalibrationArgs {
  model: string;
  data: string;
  engine: EngineName;
  batch: number;
  skip: number;
  max?: number;
  json: boolean;
  quiet: boolean;
}

export function withSmoothingOptions<T>(yargs: Argv<T>) {
  return yargs
    .option('model', { type: 'string', demandOption: true, describe: 'ONNX file' })
    .option('batch', { type: 'number', default: 400, describe: 'noisy copies per classifier call' })
    .option('skip', { type: 'number', default: 1, describe: 'use every skip-th image' })
    .option('max', { type: 'number', describe: 'at most this many images (after --skip); only they are read from --data' })
    .option('seed', { type: 'number', default: 0, describe: 'seed of the Gaussian noise of smoothing (and of the calibration noise with --engine int)' });
}

/** How many leading images of --data the --skip/--max selection can reach (all without --max): the rest is never read. */
export function imagesToLoad(args: { skip: number; max?: number }): number | undefined {
  if (args.max === undefined) return undefined;
  const skip = integerInRange('--skip', args.skip, 1, Number.MAX_SAFE_INTEGER);
  return (integerInRange('--max', args.max, 1, Number.MAX_SAFE_INTEGER) - 1) * skip + 1;
}

/** The sampler of the chosen engine (quantized and calibrated at --sigma for --engine int), and its identity. */
export async function samplerFromArgs(args: SmoothingArgs, model: LoadedModel) {
  const { createSampler } = await import('../smoothing/samplers.js');
  const { integerInRange, numberInRange } = await import('../util/check.js');
  const { cpuInfo } = await import('../native.js');
  const sigma = numberInRange('--sigma', args.sigma, 0, 100);
  const seed = integerInRange('--seed', args.seed, 0, Number.MAX_SAFE_INTEGER);
  const batch = integerInRange('--batch', args.batch, 1, 65536);
  const threads = args.threads === undefined ? cpuInfo().threads : integerInRange('--threads', args.threads, 1, 256);
  const quantization = await quantizationFromArgs(args, model);
  const sampler = await createSampler(model, args.engine, { sigma, seed, batch, threads, quantization });
  const policy = quantization ? (args.bits ? args.bits.toLowerCase() : JSON.stringify(quantization.policy.layers)) : null;
  const identity = {
    seed, model: model.sha256, engine: args.engine, policy,
    calibration: quantization ? { ...quantization.calibration.settings } : null,
  };
  return { sampler, identity, info: { batch, threads }, quantization };
}
