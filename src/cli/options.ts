/** Flags shared by several commands, as composable yargs builders. */
import type { Argv } from 'yargs';
import { ENGINES } from '../engine/classifier.js';
import type { LoadedModel } from '../onnx/model.js';
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
  const { integerInRange } = await import('../util/check.js');
  return {
    policy: args.policy, bits: args.bits, data, calibrationData: args.calibrationData,
    sigma: args.sigma, calibrationCount: integerInRange('--calibration', args.calibration, 1, 1e6), seed: args.seed, threads: args.threads,
  };
}

/** The integer engine's quantization from the flags (none for the float engines, where --policy/--bits are errors). */
export async function quantizationFromArgs(args: CalibrationArgs & { engine: string; data: string }, model: LoadedModel) {
  if (args.engine !== 'int') {
    if (args.policy || args.bits) throw new ArqError('--policy and --bits apply to --engine int');
    return undefined;
  }
  if (model.qdq) {
    // A QDQ file fixes its own grids; a policy would quantize its dequantized weights a second time.
    if (args.policy || args.bits) throw new ArqError(`--policy and --bits do not apply to ${model.path}: it is a QDQ file, and --engine int uses its own grids`);
    return undefined;
  }
  const { prepareQuantization } = await import('../quant/quantize.js');
  return prepareQuantization(model, await calibrationFromArgs(args, args.data));
}

/**
 * `arq verify`'s integer plan from the flags (the policy, default w8a8, and calibration; or the calibration the model
 * carries) and who made it, as the verify command and a worker's verify jobs build them.
 */
export async function verifyQuantizationFromArgs(args: CalibrationArgs & { data: string }, model: LoadedModel) {
  const { prepareQuantization } = await import('../quant/quantize.js');
  const { runIdentity } = await import('../smoothing/run-identity.js');
  const bits = args.policy ? undefined : (args.bits ?? 'w8a8');
  const quantization = await prepareQuantization(model, await calibrationFromArgs({ ...args, bits }, args.data));
  // verify's seed (the attack's) is among its settings, and its engine is always the integer plan.
  const { model: sha256, policy, calibration } = runIdentity({ model, engine: 'int', seed: args.seed, quantization, bits });
  return { quantization, bits, identity: { model: sha256, policy, calibration } };
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
    .option('max', { type: 'number', describe: 'at most this many images (after --skip, where the command has it); the rest of --data is not read' });
}

export function withEngineOption<T>(yargs: Argv<T>) {
  return withSemanticsOption(yargs
    .option('engine', { choices: ENGINES, default: 'float' as const, describe: 'ort = ONNX Runtime (a QDQ file as it is); float = native fp32 plan; int = native integer plan (needs --bits or --policy, except on a QDQ file: its own grids)' }));
}

export function withSemanticsOption<T>(yargs: Argv<T>) {
  return yargs.option('semantics', { choices: ['arq', 'ort'] as const, default: 'arq' as const, describe: 'a QDQ file in the integer engine: arq = its biases in float32 as written; ort = rounded as ONNX Runtime rounds them (docs/qdq.md)' });
}

/**
 * The model as `--engine int` runs it: a QDQ file's biases as `--semantics` says (its grids, codes and scales are the
 * file's either way); any other model as it is, where --semantics ort is refused.
 */
export function withSemantics(args: { semantics?: 'arq' | 'ort' }, model: LoadedModel): LoadedModel {
  if (args.semantics !== 'ort') return model;
  if (!model.qdq) throw new ArqError(`--semantics ort applies to QDQ files; ${model.path} has no QuantizeLinear/DequantizeLinear`);
  return { ...model, qdq: { ...model.qdq, bias: 'ort' } };
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
    .option('calibration', { type: 'number', default: 256, describe: 'number of calibration images' });
}

/**
 * --seed, the one declaration of it (a command has one seed, checked by the library: engine/settings.ts checkSeed);
 * `seeds` says what it seeds in that command, e.g. the calibration noise, or the smoothing noise as well.
 */
export function withSeedOption<T>(yargs: Argv<T>, seeds: string) {
  return yargs.option('seed', { type: 'number', default: 0, describe: `seed of ${seeds}` });
}

/** The seed of a command whose only noise is the calibration's (--engine int, quantize). */
export const CALIBRATION_SEED = 'the calibration noise';

export function withOverwriteOption<T>(yargs: Argv<T>) {
  return yargs.option('overwrite', { type: 'boolean', default: false, describe: 'replace existing output files (an input is never overwritten)' });
}

/** The files a command reads, from whichever of these flags it has: no output may be one of them. */
export async function inputFiles(args: { model?: string; init?: string; policy?: string; data?: string; calibrationData?: string; testData?: string; valData?: string }): Promise<string[]> {
  const { dataFiles } = await import('../data/index.js');
  const specs = [args.data, args.calibrationData, args.testData, args.valData].filter((spec): spec is string => spec !== undefined);
  return [args.model, args.init, args.policy].filter((file): file is string => file !== undefined).concat(specs.flatMap((spec) => dataFiles(spec, 'test').concat(dataFiles(spec, 'train'))));
}

/**
 * Rejects a scalar flag given more than once (`-n 1000 -n 1`, which yargs would add up to 1001, or collect into a
 * list that a number option turns into NaN), reading the command line as typed: `args` are the arguments after the
 * program, `arrays` the options that take lists. Arguments after `--` are not flags.
 */
export function rejectRepeatedFlags(args: readonly string[], arrays: readonly string[]): void {
  const camel = (name: string) => name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
  const lists = new Set(arrays.map(camel));
  const seen = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--') break;
    const match = /^--?([A-Za-z][\w-]*)(=.*)?$/.exec(arg);
    if (!match) continue;
    const name = camel(match[1].replace(/^no-/, ''));
    if (lists.has(name)) continue;
    const next = args[i + 1];
    const given = match[2] !== undefined ? arg : next !== undefined && !/^-[A-Za-z-]/.test(next) ? `${arg} ${next}` : arg;
    const previous = seen.get(name);
    if (previous !== undefined) throw new ArqError(`${arg.split('=')[0]} was given more than once (${previous}, then ${given}): give it once`);
    seen.set(name, given);
  }
}
