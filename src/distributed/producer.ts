/**
 * The producer's side of the queue: a RemoteCertifier (smoothing/run.ts) or RemoteVerifier (verify/run.ts) that
 * splits the pending images into jobs of `jobImages` positions, puts them on the BullMQ queue, and yields each job's
 * images as it completes. certifyDataset and verifyDataset write them, in selection order, into the same files a
 * local run writes. A search's units (queueSearch: search/units.ts) are runs of their own on the same queue. Every
 * kind shares runOnQueue; they differ only in what a job carries besides its positions.
 *
 * Jobs are named by the run's key and their first position, so a restarted producer (--resume) finds the jobs of the
 * previous one: completed jobs are not redone, failed ones are retried. A fresh run replaces finished jobs of the
 * same key. A job that Redis lost (a restart without persistence) is put back; its images may then arrive twice, and
 * the driver writes each image once. A failed job stops the run with the worker's error (jobs fail once: no retries
 * besides BullMQ's stalled-job handling, which gives a killed worker's job to another).
 */
import { createHash } from 'node:crypto';
import { Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import type { JsonValue } from '../smoothing/results.js';
import { certificateOf } from '../smoothing/certify.js';
import { certificateRow, type RemoteCertifier, type RemoteRow, type RemoteWork } from '../smoothing/run.js';
import type { CandidateMeasurement } from '../search/rewards.js';
import type { SearchRemote, SearchSetup, SearchUnit } from '../search/units.js';
import type { LayerSensitivity } from '../report/types.js';
import { ArqError } from '../util/errors.js';
import { inKeyOrder } from '../util/in-order.js';
import type { RemoteVerifier } from '../verify/run.js';
import {
  ARQ_VERSION, connectionOf, imageVerificationOf, jobId, reachRedis, MODEL_IN_REDIS_BYTES, MODEL_TTL_SECONDS, modelKey, QUEUE_NAME, referenceKey, runKey,
  type CertifiedRow, type CertifyJob, type CertifySamplesJob, type JobBase, type JobResult, type QuantizationArgs, type QueueJob, type SampleCounts, type SamplerArgs, type SearchJob, type VerifiedImage, type VerifyJob,
} from './protocol.js';

export interface QueueOptions<Args> {
  /** redis://host:port[/db] (checkQueueUrl). */
  readonly url: string;
  /** The model: its sha256, the path workers read when its bytes are not in Redis, and the bytes. */
  readonly model: { readonly sha256: string; readonly path: string; readonly bytes: Uint8Array };
  /** The flags the workers rebuild the run's sampler (certify) or integer plan (verify) from. */
  readonly args: Args;
  /** The run's identity (runIdentity): a worker whose own identity differs refuses the job. */
  readonly identity: JobBase['identity'];
  /** Positions per job (default 16). */
  readonly jobImages?: number;
  /**
   * Certify only: samples per job, for large n. Each job is then a range of one image's n0 + n samples; the
   * producer sums an image's counts and decides its certificate as certify() does (jobImages does not apply).
   */
  readonly jobSamples?: number;
  /** Keep the finished jobs of an earlier producer of this run, and retry its failed ones. */
  readonly resume?: boolean;
  /** Seconds between full checks of every pending job (default 2): events are only a shortcut. */
  readonly sweepSeconds?: number;
  /** After the jobs are queued: how many, and how many were already finished. */
  readonly onQueued?: (jobs: number, finished: number) => void;
}

export type QueueCertifierOptions = QueueOptions<SamplerArgs>;
export type QueueVerifierOptions = QueueOptions<QuantizationArgs>;
/** A search's queue: `args` is its setup, `identity` its state's (units.ts: searchIdentity). */
export type QueueSearchOptions = QueueOptions<SearchSetup>;

/** What runOnQueue needs of a run: the pending positions of its selection, its size and compared settings. */
interface QueuedWork {
  readonly pending: readonly number[];
  readonly images: number;
  readonly compared: { readonly [key: string]: JsonValue };
  readonly signal?: AbortSignal;
}

interface PlannedJob<J> {
  readonly id: string;
  readonly data: J;
}

/** A certifier that runs on the BullMQ queue at `options.url`: jobs of images, or of sample ranges (jobSamples). */
export function queueCertifier(options: QueueCertifierOptions): RemoteCertifier {
  return (work) => {
    const certifyJob = (base: JobBase): CertifyJob => ({
      ...base, kind: 'certify', args: options.args, n0: work.n0, n: work.n, alpha: work.alpha, skip: work.skip, max: work.max ?? null,
    });
    if (!options.jobSamples) return runOnQueue<CertifyJob, CertifiedRow>(work, options, (base) => [certifyJob(base)]);
    const size = options.jobSamples;
    const total = work.n0 + work.n;
    const ranges = runOnQueue<CertifySamplesJob, SampleCounts>(work, options, (base) => Array.from({ length: Math.ceil(total / size) }, (_, r) => ({
      ...certifyJob(base), kind: 'certify-samples', first: r * size, count: Math.min(size, total - r * size),
    })));
    return certificatesOf(ranges, work, options.args.sigma);
  };
}

/**
 * The rows of images certified in sample ranges: an image's counts are summed over its ranges (each counted once)
 * and its certificate decided when all n0 + n samples are in; its time is its ranges' times summed.
 */
async function* certificatesOf(ranges: AsyncIterable<SampleCounts[]>, work: RemoteWork, sigma: number): AsyncGenerator<CertifiedRow[]> {
  const images = new Map<number, { label: number; firsts: Set<number>; samples: number; selection: Uint32Array; estimation: Uint32Array; seconds: number }>();
  for await (const parts of ranges) {
    const rows: CertifiedRow[] = [];
    for (const part of parts) {
      let image = images.get(part.idx);
      if (!image) {
        image = { label: part.label, firsts: new Set(), samples: 0, selection: new Uint32Array(part.selection.length), estimation: new Uint32Array(part.estimation.length), seconds: 0 };
        images.set(part.idx, image);
      }
      if (image.firsts.has(part.first)) continue;
      image.firsts.add(part.first);
      image.samples += part.count;
      part.selection.forEach((c, i) => (image.selection[i] += c));
      part.estimation.forEach((c, i) => (image.estimation[i] += c));
      image.seconds += part.seconds;
      if (image.samples < work.n0 + work.n) continue;
      const c = certificateOf(image.selection, image.estimation, work.n, work.alpha, sigma);
      rows.push({ ...certificateRow(part.idx, image.label, { ...c, seconds: image.seconds }), pALower: c.pALower });
      images.delete(part.idx);
    }
    yield rows;
  }
}

/** A verifier that runs on the BullMQ queue at `options.url`. */
export function queueVerifier(options: QueueVerifierOptions): RemoteVerifier {
  return async function* (work) {
    const jobs = runOnQueue<VerifyJob, VerifiedImage>(work, options, (base) => [{ ...base, kind: 'verify', args: options.args, settings: work.settings }]);
    for await (const images of jobs) yield images.map(imageVerificationOf);
  };
}

/**
 * The units of `arq search --queue` on the BullMQ queue at `options.url` (search/units.ts): a set's certification in
 * jobs of `jobImages` images, the sensitivity in one job per layer, candidate measurements in one job per policy.
 * Each unit is a run of its own (its key: the search's identity and setup, and the unit), so that a resumed search
 * finds the finished jobs of its units.
 */
export function queueSearch(options: QueueSearchOptions): SearchRemote {
  const search = { identity: options.identity, setup: options.args };
  // one set of connections for all the search's runs (an episode is a run of one or a few jobs)
  let connections: Promise<QueueConnections> | null = null;
  const shared = () => (connections ??= openQueue(options.url));
  const jobsOf = (unit: SearchUnit) => (base: JobBase): SearchJob[] => [{ ...base, kind: 'search', setup: options.args, unit }];
  /** The rows of positions 0 .. count-1 of a unit, one job each, in position order. */
  async function positions<Row extends { position: number }>(unit: SearchUnit, count: number, stored: readonly Stored[], signal?: AbortSignal, onRow?: (done: number, total: number) => void): Promise<Row[]> {
    const all = Array.from({ length: count }, (_, k) => k);
    const rows: Row[] = [];
    const jobs = runOnQueue<SearchJob, Row>({ pending: all, images: count, compared: { ...search, unit: JSON.stringify(unit) }, signal }, { ...options, jobImages: 1 }, jobsOf(unit), stored, shared);
    const done = await inKeyOrder(all, jobs, (row) => row.position, (row) => {
      rows.push(row);
      onRow?.(rows.length, count);
    });
    if (done < count) throw new ArqError(`the queue ended with ${count - done} ${unit.kind} job(s) unfinished; rerun with --resume`);
    return rows;
  }
  let reference: { text: string; sha256: string } | null = null;
  return {
    certifier: ({ set, policy }) => (work) => runOnQueue<SearchJob, RemoteRow>({ ...work, compared: { ...work.compared, search } }, options, jobsOf({
      kind: 'certify', set, policy, n0: work.n0, n: work.n, alpha: work.alpha, skip: work.skip, max: work.max ?? null, record: work.record,
    }), [], shared),
    sensitivity: async (layers, signal, onLayer) => (await positions<{ position: number }>({ kind: 'sensitivity' }, layers, [], signal, onLayer))
      .map(({ position: _position, ...row }) => row as LayerSensitivity),
    async measure(unit, text, signal) {
      if (text !== null && reference?.text !== text) reference = { text, sha256: createHash('sha256').update(text).digest('hex') };
      const sha256 = text === null ? null : reference!.sha256;
      const stored = sha256 === null ? [] : [{ key: referenceKey(sha256), value: text! }];
      const rows = await positions<CandidateMeasurement & { position: number }>({ kind: 'measure', ...unit, reference: sha256 }, unit.policies.length, stored, signal);
      return rows.map(({ position: _position, ...m }) => m);
    },
    async close() {
      const open = connections;
      connections = null;
      if (open) await (await open).close();
    },
  };
}

/** A value the jobs read from Redis besides the model's bytes: stored, when missing, before they are queued. */
interface Stored {
  readonly key: string;
  readonly value: string | Buffer;
}

/**
 * The jobs covering the pending positions: fixed ranges of the selection, so their ids do not depend on progress;
 * `kindOf` adds what a job of the run's kind carries.
 */
function planJobs<J extends QueueJob>(work: QueuedWork, options: QueueOptions<unknown>, run: string, jobImages: number, kindOf: (base: JobBase) => J[]): PlannedJob<J>[] {
  const starts = [...new Set(work.pending.map((k) => k - (k % jobImages)))];
  const model = { sha256: options.model.sha256, path: options.model.path, inRedis: options.model.bytes.length <= MODEL_IN_REDIS_BYTES };
  return starts.flatMap((start) => kindOf({ version: ARQ_VERSION, run, identity: options.identity, model, start, end: Math.min(start + jobImages, work.images) }))
    .map((data) => ({ id: jobId(data), data }));
}

/** A producer's connections to the queue: a Redis client, the queue and its events. */
interface QueueConnections {
  readonly redis: Redis;
  readonly queue: Queue<QueueJob, JobResult<unknown>, string>;
  readonly events: QueueEvents;
  close(): Promise<void>;
}

async function openQueue(url: string): Promise<QueueConnections> {
  const connection = connectionOf(url);
  const redis = await reachRedis(url);
  const queue = new Queue<QueueJob, JobResult<unknown>, string>(QUEUE_NAME, { connection });
  const events = new QueueEvents(QUEUE_NAME, { connection });
  // completions are seen from here on (a run also sweeps its jobs' states: an event missed costs a sweep's wait)
  await events.waitUntilReady();
  return {
    redis, queue, events,
    async close() {
      await events.close();
      await queue.close();
      redis.disconnect();
    },
  };
}

/**
 * Puts the run's jobs on the queue and yields each job's rows as it completes (see the module comment); `stored`:
 * what the jobs read from Redis besides the model; `shared`: connections kept open across runs (a search's many
 * small runs), else the run opens and closes its own.
 */
async function* runOnQueue<J extends QueueJob, Row>(
  work: QueuedWork, options: QueueOptions<unknown>, kindOf: (base: JobBase) => J[], stored: readonly Stored[] = [], shared?: () => Promise<QueueConnections>,
): AsyncGenerator<Row[]> {
  const jobImages = options.jobSamples ? 1 : (options.jobImages ?? 16);
  const run = runKey(work.compared, jobImages, options.jobSamples);
  const jobs = planJobs(work, options, run, jobImages, kindOf);
  const connections = shared ? await shared() : await openQueue(options.url);
  const { redis, events } = connections;
  const queue = connections.queue as Queue<QueueJob, JobResult<Row>, string>;
  let wake: (() => void) | null = null;
  const dirty = new Set<string>();
  const onFinished = ({ jobId: id }: { jobId: string }) => {
    dirty.add(id);
    wake?.();
  };
  events.on('completed', onFinished);
  events.on('failed', onFinished);
  const abort = () => wake?.();
  work.signal?.addEventListener('abort', abort);
  /** The model's bytes (when they travel in Redis) and `stored`, sent only when Redis lacks them (a search queues many runs). */
  const storeModel = async () => {
    const values = [...(jobs[0].data.model.inRedis ? [{ key: modelKey(options.model.sha256), value: Buffer.from(options.model.bytes) }] : []), ...stored];
    for (const { key, value } of values) {
      if (await redis.expire(key, MODEL_TTL_SECONDS)) continue;
      await redis.set(key, value, 'EX', MODEL_TTL_SECONDS);
    }
  };
  const add = (list: readonly PlannedJob<J>[]) => queue.addBulk(list.map((j) => ({
    name: j.data.kind, data: j.data,
    // attempts 1: a job that throws fails once; a stalled one (its worker died) is retried via maxStalledCount
    opts: { jobId: j.id, attempts: 1, removeOnComplete: false, removeOnFail: false },
  })));
  try {
    await storeModel();
    let finished = 0;
    for (const j of jobs) {
      const existing = await queue.getJob(j.id);
      if (!existing) continue;
      const state = await existing.getState();
      if (options.resume && state === 'failed') await existing.retry('failed');
      else if (options.resume && state === 'completed') finished++;
      // a fresh run recomputes: finished jobs of an earlier run with these settings go (active ones are kept)
      else if (!options.resume && (state === 'completed' || state === 'failed')) await existing.remove();
    }
    await add(jobs);
    options.onQueued?.(jobs.length, finished);
    const pending = new Map(jobs.map((j) => [j.id, j]));
    let lastSweep = 0;
    const sweepMs = (options.sweepSeconds ?? 2) * 1000;
    while (pending.size > 0) {
      if (work.signal?.aborted) throw work.signal.reason;
      const sweep = performance.now() - lastSweep >= sweepMs;
      const ids = sweep ? [...pending.keys()] : [...dirty].filter((id) => pending.has(id));
      dirty.clear();
      if (sweep) lastSweep = performance.now();
      const lost: PlannedJob<J>[] = [];
      for (const id of ids) {
        // the state first, then the job: a job read before it completed keeps a null returnvalue
        const state = await queue.getJobState(id);
        if (state !== 'completed' && state !== 'failed' && state !== 'unknown') continue;
        const job = state === 'unknown' ? undefined : await queue.getJob(id);
        if (!job) {
          lost.push(pending.get(id)!);
        } else if (state === 'completed') {
          pending.delete(id);
          yield job.returnvalue.rows;
        } else {
          throw new ArqError(`job ${id} (selection positions ${job.data.start} to ${job.data.end - 1}) failed on a worker: ${job.failedReason}; fix the cause and rerun with --resume`);
        }
      }
      if (lost.length) {
        // Redis lost them (restarted without persistence): the model's bytes too
        await storeModel();
        await add(lost);
      }
      if (pending.size > 0 && dirty.size === 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, sweepMs);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = null;
      }
    }
    // the run's files hold the rows now: its jobs leave Redis
    for (const j of jobs) await queue.remove(j.id).catch(() => 0);
  } finally {
    work.signal?.removeEventListener('abort', abort);
    events.off('completed', onFinished);
    events.off('failed', onFinished);
    if (!shared) await connections.close();
  }
}
