/**
 * What the producers (`arq certify|verify|search --queue`) and the workers (`arq worker`) agree on: the
 * queue, the Redis URL, the jobs' data and results, and the version and identity checks that make a worker refuse a
 * job it would compute differently. BullMQ on Redis carries the jobs; arq schedules nothing itself.
 */
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { readFileSync } from 'node:fs';
import type { ResultRow, JsonValue } from '../smoothing/results.js';
import type { EpsilonResult, ImageVerification, VerifySettings } from '../verify/verify.js';
import type { SearchSetup, SearchUnit, UnitRow } from '../search/units.js';
import { ArqError } from '../util/errors.js';

/** The BullMQ queue every arq producer and worker of one Redis database shares. */
export const QUEUE_NAME = 'arq';

/** Redis key of a model's bytes (stored once, for models up to MODEL_IN_REDIS_BYTES). */
export const modelKey = (sha256: string): string => `arq:model:${sha256}`;

/** Redis key of a search's float reference (its IRS cache text), by sha256; it stays as long as a model's bytes. */
export const referenceKey = (sha256: string): string => `arq:reference:${sha256}`;

/** Models up to this size travel in Redis; larger ones are read from a path every worker shares. */
export const MODEL_IN_REDIS_BYTES = 64 * 1024 * 1024;

/** Seconds a model's bytes stay in Redis after the last run that stored them. */
export const MODEL_TTL_SECONDS = 7 * 24 * 3600;

/** arq's version (package.json): a job made by another version is refused. */
export const ARQ_VERSION: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** The flags a worker rebuilds the producer's sampler from (as `arq certify` takes them). */
export interface SamplerArgs {
  [key: string]: JsonValue | undefined;
  data: string;
  engine: string;
  semantics?: string;
  batch: number;
  sigma: number;
  seed: number;
  bits?: string;
  policy?: string;
  calibration: number;
  calibrationData?: string;
}

/** The flags a worker rebuilds a verify run's integer plan from (as `arq verify` takes them). */
export interface QuantizationArgs {
  [key: string]: JsonValue | undefined;
  data: string;
  policy?: string;
  bits?: string;
  sigma: number;
  seed: number;
  calibration: number;
  calibrationData?: string;
}

/** What every job carries: positions [start, end) of the selection of a run, and who must compute them. */
export interface JobBase {
  readonly version: string;
  /** The run's key (runKey): jobs of one run share it. */
  readonly run: string;
  /** The run's identity (model sha256, policy, calibration, ...): the worker's own must equal it. */
  readonly identity: { [key: string]: JsonValue };
  readonly model: { readonly sha256: string; readonly path: string; readonly inRedis: boolean };
  readonly start: number;
  readonly end: number;
}

/** One certify job: Cohen CERTIFY of its positions with the sampler its flags describe. */
export interface CertifyJob extends JobBase {
  readonly kind: 'certify';
  readonly args: SamplerArgs;
  readonly n0: number;
  readonly n: number;
  readonly alpha: number;
  readonly skip: number;
  readonly max: number | null;
}

/**
 * One image's samples first .. first+count-1 of CERTIFY's n0 + n (selection samples 0 .. n0-1, then estimation
 * samples), for certification at large n: its position is `start` (end = start + 1); the producer sums the counts
 * of an image's ranges and decides its certificate (certificateOf), as certify() decides on one range.
 */
export interface CertifySamplesJob extends Omit<CertifyJob, 'kind'> {
  readonly kind: 'certify-samples';
  readonly first: number;
  readonly count: number;
}

/** What a sample-range job returns: its image's class counts over its selection and its estimation samples. */
export interface SampleCounts {
  readonly idx: number;
  readonly label: number;
  readonly first: number;
  readonly count: number;
  readonly selection: number[];
  readonly estimation: number[];
  readonly seconds: number;
}

/** One verify job: verify() of its positions, on the integer plan its flags describe, with the run's settings. */
export interface VerifyJob extends JobBase {
  readonly kind: 'verify';
  readonly args: QuantizationArgs;
  readonly settings: VerifySettings;
}

/**
 * One unit of `arq search --queue` (search/units.ts) over its positions: images of a set's selection, layers, or
 * candidate policies. The worker rebuilds the search's state from `setup` (cached per model and setup).
 */
export interface SearchJob extends JobBase {
  readonly kind: 'search';
  readonly setup: SearchSetup;
  readonly unit: SearchUnit;
}

export type QueueJob = CertifyJob | CertifySamplesJob | VerifyJob | SearchJob;

/** A certified image as a worker returns it. */
export type CertifiedRow = ResultRow & { pALower: number };

/** A verified image as a worker returns it: ImageVerification with its counterexamples as plain arrays (JSON). */
export type VerifiedImage = Omit<ImageVerification, 'results'> & {
  readonly results: readonly (Omit<EpsilonResult, 'counterexample'> & { readonly counterexample?: { readonly image: number[]; readonly prediction: number } })[];
};

/** What a job returns: its images, in selection order. */
export interface JobResult<Row> {
  readonly rows: Row[];
}

export type CertifyJobResult = JobResult<CertifiedRow>;
export type VerifyJobResult = JobResult<VerifiedImage>;
export type SearchJobResult = JobResult<UnitRow>;

/** An image's verification as it travels (float32 values are exact in JSON's doubles). */
export function verifiedImageOf(image: ImageVerification): VerifiedImage {
  return {
    ...image,
    results: image.results.map(({ counterexample, ...r }) => (counterexample ? { ...r, counterexample: { image: Array.from(counterexample.image), prediction: counterexample.prediction } } : r)),
  };
}

/** The ImageVerification a worker's VerifiedImage stands for. */
export function imageVerificationOf(image: VerifiedImage): ImageVerification {
  return {
    ...image,
    results: image.results.map(({ counterexample, ...r }) => (counterexample ? { ...r, counterexample: { image: Float32Array.from(counterexample.image), prediction: counterexample.prediction } } : r)),
  };
}

/**
 * The run's key: its version, compared settings and job sizes (images, or samples of one image), so a restarted
 * producer finds its jobs again.
 */
export function runKey(compared: { [key: string]: JsonValue }, jobImages: number, jobSamples?: number): string {
  return createHash('sha256').update(JSON.stringify({ version: ARQ_VERSION, compared, jobImages, ...(jobSamples ? { jobSamples } : {}) })).digest('hex').slice(0, 24);
}

/** A job's id: its run and first position, and its first sample for a sample range (BullMQ ids must not hold ':'). */
export const jobId = (job: QueueJob): string => (job.kind === 'certify-samples' ? `${job.run}-${job.start}-s${job.first}` : `${job.run}-${job.start}`);

/** The URL with its password hidden, for messages and logs. */
export function redactUrl(url: string): string {
  return url.replace(/^(rediss?:\/\/[^:@/]*:)[^@/]*@/, '$1***@');
}

/** Checks a --queue URL: redis://[user:password@]host[:port][/db] (rediss:// for TLS). */
export function checkQueueUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ArqError(`--queue: expected redis://[user:password@]host:port[/db], got ${JSON.stringify(redactUrl(url))}`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') throw new ArqError(`--queue: expected a redis:// or rediss:// URL, got ${JSON.stringify(redactUrl(url))}`);
  if (!parsed.hostname) throw new ArqError(`--queue: ${redactUrl(url)} names no host`);
  const db = parsed.pathname.replace(/^\//, '');
  if (db !== '' && !/^\d+$/.test(db)) throw new ArqError(`--queue: the database in ${redactUrl(url)} must be a number, got ${JSON.stringify(db)}`);
  return url;
}

/**
 * BullMQ's connection for a URL: commands wait through a Redis restart instead of failing (maxRetriesPerRequest
 * null), and ioredis reconnects every 0.2 to 2 s.
 */
export function connectionOf(url: string) {
  return { url, maxRetriesPerRequest: null, enableOfflineQueue: true, retryStrategy: (times: number) => Math.min(200 * times, 2000) };
}

/** An ioredis client for `url` that answered a PING within 10 s (else an ArqError naming the URL, password hidden). */
export async function reachRedis(url: string): Promise<Redis> {
  const redis = new Redis(url, { ...connectionOf(url), lazyConnect: true });
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      redis.connect().then(() => redis.ping()),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('no answer within 10 s')), 10_000);
      }),
    ]);
    return redis;
  } catch (error) {
    redis.disconnect();
    throw new ArqError(`--queue ${redactUrl(url)}: cannot reach Redis (${(error as Error).message})`);
  } finally {
    clearTimeout(timer);
  }
}
