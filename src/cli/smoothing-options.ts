/** What `arq certify` and `arq smooth-predict` share: the engine's sampler under noise, from the flags. */
import type { Argv } from 'yargs';
import type { EngineName } from '../engine/classifier.js';
import type { LoadedModel } from '../onnx/model.js';
import { quantizationFromArgs, withSeedOption, withSemantics, type CalibrationArgs } from './options.js';

export interface SmoothingArgs extends CalibrationArgs {
  model: string;
  data: string;
  engine: EngineName;
  semantics?: 'arq' | 'ort';
  batch: number;
  skip: number;
  max?: number;
  json: boolean;
  quiet: boolean;
}

export function withSmoothingOptions<T>(yargs: Argv<T>) {
  return withSeedOption(yargs, 'the Gaussian noise of smoothing (and of the calibration noise with --engine int)')
    .option('model', { type: 'string', demandOption: true, describe: 'ONNX file' })
    .option('batch', { type: 'number', default: 400, describe: 'noisy copies per classifier call' })
    .option('skip', { type: 'number', default: 1, describe: 'use every skip-th image' });
}

/** The sampler of the chosen engine (quantized and calibrated at --sigma for --engine int), and its identity. */
export async function samplerFromArgs(args: SmoothingArgs, loaded: LoadedModel) {
  const model = withSemantics(args, loaded);
  const { createSampler } = await import('../smoothing/sampler.js');
  const { runIdentity } = await import('../smoothing/run-identity.js');
  const { cpuInfo } = await import('../native.js');
  const { sigma, seed, batch } = args;
  const threads = args.threads ?? cpuInfo().threads;
  const quantization = await quantizationFromArgs(args, model);
  const sampler = await createSampler(model, args.engine, { sigma, seed, batch, threads, quantization });
  const identity = runIdentity({ model, engine: args.engine, seed, quantization, bits: args.bits });
  return { sampler, identity, info: { batch, threads }, quantization };
}
