/** What `arq certify --queue` and `arq worker` share: the queue flags, and a job's sampler from its flags. */
import type { Argv } from 'yargs';
import type { SamplerArgs } from '../distributed/protocol.js';
import type { LoadedModel } from '../onnx/model.js';
import type { JsonValue } from '../smoothing/results.js';
import type { RunIdentity } from '../smoothing/run-identity.js';
import type { SmoothingArgs } from './smoothing-options.js';

export interface QueueArgs {
  queue?: string;
  jobImages: number;
}

export function withQueueOptions<T>(yargs: Argv<T>) {
  return yargs
    .option('queue', { type: 'string', describe: 'certify on the arq workers of this Redis queue, redis://[user:password@]host:port[/db]; writes the files of a local run' })
    .option('job-images', { type: 'number', default: 16, describe: 'with --queue: images per job' });
}

/** The flags a worker rebuilds this run's sampler from (paths as given: every machine must see them alike). */
export function samplerArgsOf(args: SmoothingArgs): SamplerArgs {
  const { data, engine, semantics, batch, sigma, seed, bits, policy, calibration, calibrationData } = args;
  return { data, engine, semantics, batch, sigma, seed, bits, policy, calibration, calibrationData };
}

/**
 * The RemoteCertifier of `--queue` for the run of `args` (the model's bytes go to Redis once, when small enough).
 * `log` says how many jobs were queued.
 */
export async function queueRemote(args: SmoothingArgs & QueueArgs & { resume: boolean }, model: LoadedModel, identity: RunIdentity, log: (line: string) => void) {
  const { resolve } = await import('node:path');
  const { checkQueueUrl, redactUrl } = await import('../distributed/protocol.js');
  const { queueCertifier } = await import('../distributed/producer.js');
  const { integerInRange } = await import('../util/check.js');
  return queueCertifier({
    url: checkQueueUrl(args.queue!), model: { sha256: identity.model, path: resolve(args.model), bytes: model.bytes },
    args: samplerArgsOf(args), identity: Object.fromEntries(Object.entries(identity).filter(([, v]) => v !== undefined)) as { [key: string]: JsonValue },
    jobImages: integerInRange('--job-images', args.jobImages, 1, 1e6), resume: args.resume,
    onQueued: (jobs, finished) => log(`queued ${jobs} job(s) on ${redactUrl(args.queue!)}${finished ? `, ${finished} already finished` : ''}`),
  });
}

/** A job's sampler (with `threads`) and its identity, as `arq certify` builds them from the same flags. */
export async function jobSampler(job: SamplerArgs, model: LoadedModel, threads: number | undefined) {
  const { samplerFromArgs } = await import('./smoothing-options.js');
  const args = { ...job, model: model.path, threads, skip: 1, json: false, quiet: true } as unknown as SmoothingArgs;
  const { sampler, identity } = await samplerFromArgs(args, model);
  return { sampler, identity };
}
