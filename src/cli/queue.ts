/** What `arq certify --queue`, `arq verify --queue`, `arq search --queue` and `arq worker` share: the queue flags, and a job's run from its flags. */
import type { Argv } from 'yargs';
import type { QuantizationArgs, SamplerArgs } from '../distributed/protocol.js';
import type { LoadedModel } from '../onnx/model.js';
import type { JsonValue } from '../smoothing/results.js';
import type { RunIdentity } from '../smoothing/run-identity.js';
import type { CalibrationArgs } from './options.js';
import type { SmoothingArgs } from './smoothing-options.js';
import type { SearchRemoteFactory } from '../search/units.js';

export interface QueueArgs {
  queue?: string;
  jobImages: number;
}

export function withQueueOptions<T>(yargs: Argv<T>) {
  return yargs
    .option('queue', { type: 'string', describe: 'run on the arq workers of this Redis queue, redis://[user:password@]host:port[/db]; writes the files of a local run' })
    .option('job-images', { type: 'number', default: 16, describe: 'with --queue: images per job' });
}

/** The flags a worker rebuilds this run's sampler from (paths as given: every machine must see them alike). */
export function samplerArgsOf(args: SmoothingArgs): SamplerArgs {
  const { data, engine, semantics, batch, sigma, seed, bits, policy, calibration, calibrationData } = args;
  return { data, engine, semantics, batch, sigma, seed, bits, policy, calibration, calibrationData };
}

/** The flags a worker rebuilds a verify run's integer plan from (paths as given, as samplerArgsOf). */
export function quantizationArgsOf(args: CalibrationArgs & { data: string }): QuantizationArgs {
  const { data, policy, bits, sigma, seed, calibration, calibrationData } = args;
  return { data, policy, bits, sigma, seed, calibration, calibrationData };
}

/** What both producers give the queue: its URL, the model (bytes to Redis once, when small enough), identity, job size. */
async function queueOptionsOf(args: QueueArgs & { resume: boolean }, modelPath: string, model: LoadedModel, identity: { [key: string]: JsonValue | undefined }, log: (line: string) => void) {
  const { resolve } = await import('node:path');
  const { checkQueueUrl, redactUrl } = await import('../distributed/protocol.js');
  const { integerInRange } = await import('../util/check.js');
  return {
    url: checkQueueUrl(args.queue!), model: { sha256: model.sha256, path: resolve(modelPath), bytes: model.bytes },
    identity: Object.fromEntries(Object.entries(identity).filter(([, v]) => v !== undefined)) as { [key: string]: JsonValue },
    jobImages: integerInRange('--job-images', args.jobImages, 1, 1e6), resume: args.resume,
    onQueued: (jobs: number, finished: number) => log(`queued ${jobs} job(s) on ${redactUrl(args.queue!)}${finished ? `, ${finished} already finished` : ''}`),
  };
}

/** The RemoteCertifier of `arq certify --queue` for the run of `args`; `log` says how many jobs were queued. */
export async function queueRemote(args: SmoothingArgs & QueueArgs & { resume: boolean; jobSamples?: number }, model: LoadedModel, identity: RunIdentity, log: (line: string) => void) {
  const { queueCertifier } = await import('../distributed/producer.js');
  const { integerInRange } = await import('../util/check.js');
  const jobSamples = args.jobSamples === undefined ? undefined : integerInRange('--job-samples', args.jobSamples, 1, 2 ** 32);
  return queueCertifier({ ...(await queueOptionsOf(args, args.model, model, identity, log)), args: samplerArgsOf(args), jobSamples });
}

/** The RemoteVerifier of `arq verify --queue` for the run of `args`; `log` says how many jobs were queued. */
export async function queueVerifierOf(args: CalibrationArgs & QueueArgs & { data: string; resume: boolean }, modelPath: string, model: LoadedModel, identity: { [key: string]: JsonValue | undefined }, log: (line: string) => void) {
  const { queueVerifier } = await import('../distributed/producer.js');
  return queueVerifier({ ...(await queueOptionsOf(args, modelPath, model, identity, log)), args: quantizationArgsOf(args) });
}

/** The remote of `arq search --queue` (its units on the queue's workers), given the search's state once built. */
export async function queueSearchOf(args: QueueArgs & { resume: boolean }, modelPath: string): Promise<SearchRemoteFactory> {
  const { queueSearch } = await import('../distributed/producer.js');
  const { checkQueueUrl } = await import('../distributed/protocol.js');
  checkQueueUrl(args.queue!);
  // the search's own progress display says what runs: no line per queued unit
  return async ({ model, setup, identity }) => queueSearch({ ...(await queueOptionsOf(args, modelPath, model, identity, () => {})), args: setup });
}

/** A job's sampler (with `threads`) and its identity, as `arq certify` builds them from the same flags. */
export async function jobSampler(job: SamplerArgs, model: LoadedModel, threads: number | undefined) {
  const { samplerFromArgs } = await import('./smoothing-options.js');
  const args = { ...job, model: model.path, threads, skip: 1, json: false, quiet: true } as unknown as SmoothingArgs;
  const { sampler, identity } = await samplerFromArgs(args, model);
  return { sampler, identity };
}

/** A verify job's integer-plan quantization (calibrated with `threads`) and its identity, as `arq verify` builds them. */
export async function jobQuantization(job: QuantizationArgs, model: LoadedModel, threads: number | undefined) {
  const { verifyQuantizationFromArgs } = await import('./options.js');
  const { quantization, identity } = await verifyQuantizationFromArgs({ ...job, threads }, model);
  return { quantization, identity };
}
