/**
 * What the producer (`arq certify --queue`) and the workers (`arq worker`) agree on: the queue, the Redis URL, the
 * job's data and result, and the version and identity checks that make a worker refuse a job it would certify
 * differently. BullMQ on Redis carries the jobs; arq schedules nothing itself.
 */
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { readFileSync } from 'node:fs';
import type { ResultRow, JsonValue } from '../smoothing/results.js';
import { ArqError } from '../util/errors.js';

/** The BullMQ queue every arq producer and worker of one Redis database shares. */
export const QUEUE_NAME = 'arq';

/** Redis key of a model's bytes (stored once, for models up to MODEL_IN_REDIS_BYTES). */
export const modelKey = (sha256: string): string => `arq:model:${sha256}`;

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

/** One certify job: positions [start, end) of the selection of a run. */
export interface CertifyJob {
  readonly version: string;
  readonly kind: 'certify';
  /** The run's key (runKey): jobs of one run share it. */
  readonly run: string;
  /** The run's identity (model sha256, engine, seed, policy, calibration): the worker's sampler must have it. */
  readonly identity: { [key: string]: JsonValue };
  readonly model: { readonly sha256: string; readonly path: string; readonly inRedis: boolean };
  readonly args: SamplerArgs;
  readonly n0: number;
  readonly n: number;
  readonly alpha: number;
  readonly skip: number;
  readonly max: number | null;
  readonly start: number;
  readonly end: number;
}

/** A certified image as a worker returns it. */
export type CertifiedRow = ResultRow & { pALower: number };

export interface CertifyJobResult {
  readonly rows: CertifiedRow[];
}

/** The run's key: its version, compared settings and job size, so a restarted producer finds its jobs again. */
export function runKey(compared: { [key: string]: JsonValue }, jobImages: number): string {
  return createHash('sha256').update(JSON.stringify({ version: ARQ_VERSION, compared, jobImages })).digest('hex').slice(0, 24);
}

/** A job's id: its run and first position (BullMQ ids must not hold ':'). */
export const jobId = (run: string, start: number): string => `${run}-${start}`;

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
