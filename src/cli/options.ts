/** Flags shared by several commands, as composable yargs builders. */
import type { Argv } from 'yargs';
import { ENGINES } from '../engine/classifier.js';
import type { LoadedModel } from '../model.js';
import { ArqError } from '../util/errors.js';

/** The parsed flags of withCalibrationOptions. */
export interface CalibrationArgs {
  policy?: string;
  bits?: string;
  sigma: number;
  calibrationData?: string;
  calibration: number;
  seed: number;
  threads?: number;
}

/** prepareQuantization's options from the calibration flags, each checked. */
export async function calibrationFromArgs(args: CalibrationArgs, data: string) {
  const { integerInRange, numberInRange } = await import('../util/check.js');
  return {
    policy: args.policy, bits: args.bits, data, calibrationData: args.calibrationData,
    sigma: numberInRange('--sigma', args.sigma, 0, 10), calibrationCount: integerInRange('--calibration', args.calibration, 1, 1e6),
    seed: integerInRange('--seed', args.seed, 0, Number.MAX_SAFE_INTEGER),
    threads: args.threads === undefined ? undefined : integerInRange('--threads', args.threads, 1, 256),
  };
}

/** The integer engine's quantization from the flags (none for the float engines, where --policy/--bits are errors). */
export async function quantizationFromArgs(args: CalibrationArgs & { engine: string; data: string }, model: LoadedModel) {
  if (args.engine !== 'int') {
    if (args.policy || args.bits) throw new ArqError('--policy and --bits apply to --engine int');
    return undefined;
  }
  const { prepareQuantization } = await import('../quant/quantize.js');
  return prepareQuantization(model, await calibrationFromArgs(args, args.data));
}

export function withOutputOptions<T>(yargs: Argv<T>) {
  return yargs
    .option('json', { type: 'boolean', default: false, describe: 'print the result as one JSON object on stdout' })
    .option('quiet', { type: 'boolean', default: false, describe: 'no progress bar' });
}

/** Bytes of a --max-memory value: MiB by default, or with a unit, e.g. 512, 512MiB, 4GiB, 4G. */
export function parseMemorySize(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(MiB|M|GiB|G)?\s*$/i.exec(text);
  const bytes = match ? Math.round(Number(match[1]) * 2 ** (/^g/i.test(match[2] ?? '') ? 30 : 20)) : NaN;
  if (!(bytes >= 2 ** 20 && Number.isSafeInteger(bytes))) throw new ArqError(`--max-memory: expected a size of at least 1 MiB such as 512MiB or 4GiB, got ${JSON.stringify(text)}`);
  return bytes;
}

/** --threads, and --max-memory: the memory one native plan call may take, applied to every plan the command builds. */
export function withThreadsOption<T>(yargs: Argv<T>) {
  return yargs
    .option('threads', { type: 'number', describe: 'worker threads (default: all cores)' })
    .option('max-memory', { type: 'string', describe: 'memory one native call may allocate, in MiB or with a unit (e.g. 4GiB); default 2GiB' })
    .middleware(async (argv) => {
      if (argv.maxMemory === undefined) return;
      const { setMaxMemory } = await import('../native.js');
      setMaxMemory(parseMemorySize(String(argv.maxMemory)));
    });
}

export function withDataOptions<T>(yargs: Argv<T>) {
  return yargs
    .option('data', {
      type: 'string',
      demandOption: true,
      describe: 'dataset: mnist | mnist:train | mnist:test | idx:IMAGES,LABELS | cifar10:DIR[#train|#test] | npy:X.npy,Y.npy',
    })
    .option('max', { type: 'number', describe: 'use only the first N images' });
}

export function withEngineOption<T>(yargs: Argv<T>) {
  return yargs.option('engine', { choices: ENGINES, default: 'float' as const, describe: 'ort = ONNX Runtime float reference; float = native fp32 plan; int = native integer plan (needs --bits or --policy)' });
}

export function withPolicyOptions<T>(yargs: Argv<T>) {
  return yargs
    .option('policy', { type: 'string', describe: 'quantization policy file (arq-policy/1 JSON)' })
    .option('bits', { type: 'string', describe: 'uniform policy shorthand, e.g. w8a8, w4a4, w2a8' })
    .conflicts('policy', 'bits');
}

export function withCalibrationOptions<T>(yargs: Argv<T>) {
  return withPolicyOptions(yargs)
    .option('sigma', { type: 'number', default: 0.25, describe: 'Gaussian noise of the calibration images (use the sigma you certify at)' })
    .option('calibration-data', { type: 'string', describe: 'calibration images (default: the training split of --data)' })
    .option('calibration', { type: 'number', default: 256, describe: 'number of calibration images' })
    .option('seed', { type: 'number', default: 0, describe: 'seed of the calibration noise' });
}
