/** Flags shared by several commands, as composable yargs builders. */
import type { Argv } from 'yargs';
import { ENGINES } from '../engine/classifier.js';

export function withOutputOptions<T>(yargs: Argv<T>) {
  return yargs
    .option('json', { type: 'boolean', default: false, describe: 'print the result as one JSON object on stdout' })
    .option('quiet', { type: 'boolean', default: false, describe: 'no progress bar' });
}

export function withThreadsOption<T>(yargs: Argv<T>) {
  return yargs.option('threads', { type: 'number', describe: 'worker threads (default: all cores)' });
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
  return yargs.option('engine', { choices: ENGINES, default: 'float' as const, describe: 'ort = ONNX Runtime float reference; float = native fp32 plan' });
}
