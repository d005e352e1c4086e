/**
 * `arq worker`: a BullMQ worker that certifies, verifies and runs search units for the producers that put jobs on
 * the queue (protocol.ts). It loads each model once (by content hash: its bytes from Redis, or the shared path the
 * job names), keeps built samplers (certify), integer-plan quantizations (verify) and a search's rebuilt state
 * (search/units.ts: SearchBench) for the next job of the same run, reports progress per position, and refuses,
 * without retry, a job of another arq version or one whose model or settings it would not reproduce. A stalled job (its worker killed) goes back to the queue by BullMQ's stalled-job check, after
 * `stalledSeconds`.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import { selectedIndices, selectionReach, loadDataset, type Dataset } from '../data/index.js';
import { loadModel, modelFromBytes, type LoadedModel } from '../onnx/model.js';
import { drawSamples } from '../smoothing/certify.js';
import { settingsDifferences } from '../smoothing/irs-cache.js';
import type { JsonValue } from '../smoothing/results.js';
import { certifyRange } from '../smoothing/run.js';
import type { Sampler } from '../smoothing/sampler.js';
import type { Quantization } from '../quant/quantize.js';
import { verify } from '../verify/verify.js';
import { SearchBench, type UnitRow } from '../search/units.js';
import { cpuInfo } from '../native.js';
import {
  ARQ_VERSION, connectionOf, modelKey, QUEUE_NAME, reachRedis, redactUrl, referenceKey, verifiedImageOf,
  type CertifiedRow, type CertifyJob, type CertifyJobResult, type CertifySamplesJob, type JobBase, type JobResult, type QuantizationArgs, type QueueJob, type SampleCounts, type SamplerArgs, type SearchJob, type SearchJobResult, type VerifiedImage, type VerifyJob, type VerifyJobResult,
} from './protocol.js';

/** Who computes a job's results, as the worker builds it from the job's flags (compared with the job's identity). */
type Identity = { [key: string]: JsonValue | undefined };

export interface WorkerOptions {
  readonly url: string;
  /** Jobs at once (default 1). */
  readonly concurrency?: number;
  /** Seconds without a lock renewal after which a job counts as stalled and goes back to the queue (default 30). */
  readonly stalledSeconds?: number;
  /** The sampler a job's flags describe, and its run identity (the CLI's samplerFromArgs). */
  readonly samplerFor: (args: SamplerArgs, model: LoadedModel) => Promise<{ sampler: Sampler; identity: Identity }>;
  /** The integer plan's quantization a verify job's flags describe, and its run identity (as `arq verify` makes them). */
  readonly quantizationFor: (args: QuantizationArgs, model: LoadedModel) => Promise<{ quantization: Quantization; identity: Identity }>;
  /** Threads of a verify job (boxes at once; default: the machine's cores). A certify job's sampler has its own. */
  readonly threads?: number;
  /** One line per job started, finished or failed. */
  readonly log?: (line: string) => void;
}

/** A started worker: `closed` settles when close() has let the current jobs finish. */
export interface RunningWorker {
  close(): Promise<void>;
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Throws unless the identity this worker built for a job is the producer's (the job's). */
function checkIdentity(data: QueueJob, identity: Identity): void {
  const keys = [...new Set([...Object.keys(data.identity), ...Object.keys(identity)])];
  const diff = settingsDifferences(data.identity, identity, keys);
  if (diff.length) throw new Error(`this worker would ${data.kind} with other settings than the producer's: ${diff.join(', ')}`);
}

/** Starts a worker on the queue at `options.url`. */
export async function startWorker(options: WorkerOptions): Promise<RunningWorker> {
  const redis = await reachRedis(options.url);
  const log = options.log ?? (() => {});
  const models = new Map<string, Promise<LoadedModel>>();
  const datasets = new Map<string, Promise<Dataset>>();
  /** Idle samplers by the run they were built for (model and flags); one per concurrent job at most. */
  const idle = new Map<string, Sampler[]>();
  /** The quantization of the latest verify run (model and flags), shared by its concurrent jobs. */
  let quantized: { key: string; built: Promise<Quantization> } | null = null;
  /** The state of the latest search (model and setup: its data, calibration, plans), shared by its concurrent jobs. */
  let bench: { key: string; built: Promise<SearchBench> } | null = null;

  const modelOf = (m: JobBase['model']): Promise<LoadedModel> => {
    const cached = models.get(m.sha256);
    if (cached) return cached;
    const load = (async () => {
      const reasons: string[] = [];
      if (m.inRedis) {
        const bytes = await redis.getBuffer(modelKey(m.sha256));
        if (bytes && sha256(bytes) === m.sha256) return modelFromBytes(bytes, m.path);
        reasons.push(bytes ? 'its bytes in Redis are damaged' : 'its bytes are no longer in Redis');
      }
      if (existsSync(m.path)) {
        const model = await loadModel(m.path);
        if (model.sha256 === m.sha256) return model;
        reasons.push(`${m.path} on this worker has sha256 ${model.sha256}`);
      } else {
        reasons.push(`${m.path} does not exist on this worker`);
      }
      throw new Error(`model sha256 ${m.sha256} not found: ${reasons.join('; ')} (models over 64 MiB are read from a path every worker shares)`);
    })();
    models.set(m.sha256, load);
    load.catch(() => models.delete(m.sha256));
    return load;
  };

  const datasetOf = (spec: string, limit: number | undefined): Promise<Dataset> => {
    const key = JSON.stringify([spec, limit ?? null]);
    let cached = datasets.get(key);
    if (!cached) {
      cached = loadDataset(spec, 'test', { limit });
      datasets.set(key, cached);
      cached.catch(() => datasets.delete(key));
    }
    return cached;
  };

  async function acquire(data: CertifyJob | CertifySamplesJob): Promise<{ key: string; sampler: Sampler }> {
    const key = JSON.stringify([data.model.sha256, data.args]);
    const free = idle.get(key)?.pop();
    if (free) return { key, sampler: free };
    // a new run: samplers of other runs are not needed any more
    for (const [other, samplers] of idle) {
      if (other === key) continue;
      idle.delete(other);
      await Promise.all(samplers.map((s) => s.close()));
    }
    const model = await modelOf(data.model);
    const { sampler, identity } = await options.samplerFor(data.args, model);
    try {
      checkIdentity(data, identity);
    } catch (error) {
      await sampler.close();
      throw error;
    }
    return { key, sampler };
  }

  /** The quantization of a verify job's run, built once per run (calibration runs the model over many images). */
  function quantizationOf(data: VerifyJob): Promise<Quantization> {
    const key = JSON.stringify([data.model.sha256, data.args]);
    if (quantized?.key !== key) {
      const built = (async () => {
        const { quantization, identity } = await options.quantizationFor(data.args, await modelOf(data.model));
        checkIdentity(data, identity);
        return quantization;
      })();
      built.catch(() => {
        if (quantized?.built === built) quantized = null;
      });
      quantized = { key, built };
    }
    return quantized.built;
  }

  /** The search state of a search job's run, rebuilt once per model and setup (calibration runs the model over many images). */
  function benchOf(data: SearchJob): Promise<SearchBench> {
    const key = JSON.stringify([data.model.sha256, data.setup]);
    if (bench?.key !== key) {
      const built = (async () => SearchBench.open(await modelOf(data.model), data.setup, options.threads ?? cpuInfo().threads))();
      built.catch(() => {
        if (bench?.built === built) bench = null;
      });
      bench = { key, built };
    }
    return bench.built;
  }

  /** A search's float reference (its IRS cache text) from Redis, checked against its sha256. */
  async function referenceText(sha: string): Promise<string> {
    const text = await redis.get(referenceKey(sha));
    if (text === null) throw new Error(`the search's float reference ${sha.slice(0, 12)} is no longer in Redis`);
    if (createHash('sha256').update(text).digest('hex') !== sha) throw new Error(`the search's float reference ${sha.slice(0, 12)} in Redis is damaged`);
    return text;
  }

  async function processSearch(job: Job<QueueJob>, data: SearchJob): Promise<SearchJobResult> {
    const total = data.end - data.start;
    const bench = await benchOf(data);
    // each job: the state is kept per model and setup, the identity (data, calibration) is the producer's to compare
    checkIdentity(data, bench.identity);
    const rows = await bench.run(data.unit, data.start, data.end, referenceText, (done) => job.updateProgress({ done, total }));
    return { rows };
  }

  /** The dataset a job selects from and the selection's dataset indices, checked to reach the job's positions. */
  async function selectionOf(data: JobBase, spec: string, skip: number, max: number | null) {
    const dataset = await datasetOf(spec, selectionReach(skip, max ?? undefined));
    const indices = selectedIndices(dataset.count, skip, max ?? undefined);
    if (data.end > indices.length) throw new Error(`${dataset.name} selects ${indices.length} images on this worker, the job needs positions up to ${data.end - 1}: producer and workers must read the same data`);
    return { dataset, indices };
  }

  async function processCertify(job: Job<QueueJob>, data: CertifyJob): Promise<CertifyJobResult> {
    const { dataset, indices } = await selectionOf(data, data.args.data, data.skip, data.max);
    const { key, sampler } = await acquire(data);
    try {
      const total = data.end - data.start;
      return { rows: await certifyRange(sampler, dataset, indices, data.start, data.end, { ...data, onImage: (done) => job.updateProgress({ done, total }) }) };
    } finally {
      idle.set(key, [...(idle.get(key) ?? []), sampler]);
    }
  }

  /** One image's sample range, its counts split at n0 into selection and estimation samples (see certify.ts). */
  async function processCertifySamples(data: CertifySamplesJob): Promise<JobResult<SampleCounts>> {
    const { dataset, indices } = await selectionOf(data, data.args.data, data.skip, data.max);
    const { key, sampler } = await acquire(data);
    try {
      const idx = indices[data.start];
      const image = dataset.images.subarray(idx * sampler.inputSize, (idx + 1) * sampler.inputSize);
      const started = performance.now();
      const last = data.first + data.count;
      const part = async (from: number, to: number) => (to > from ? (await drawSamples(sampler, image, idx, from, to - from, {})).counts : new Uint32Array(sampler.classes));
      const selection = await part(data.first, Math.min(last, data.n0));
      const estimation = await part(Math.max(data.first, data.n0), last);
      const seconds = (performance.now() - started) / 1000;
      return { rows: [{ idx, label: dataset.labels[idx], first: data.first, count: data.count, selection: Array.from(selection), estimation: Array.from(estimation), seconds }] };
    } finally {
      idle.set(key, [...(idle.get(key) ?? []), sampler]);
    }
  }

  async function processVerify(job: Job<QueueJob>, data: VerifyJob): Promise<VerifyJobResult> {
    const { settings } = data;
    const { dataset, indices } = await selectionOf(data, data.args.data, settings.skip, settings.max);
    const quantization = await quantizationOf(data);
    const model = await modelOf(data.model);
    const positions = new Set(indices.slice(data.start, data.end));
    const rows: VerifiedImage[] = [];
    await verify({
      model, quantization, dataset, eps: settings.eps, timeout: settings.timeout, seed: settings.seed, restarts: settings.restarts, steps: settings.steps,
      skip: settings.skip, max: settings.max ?? undefined, threads: options.threads, exclude: new Set(indices.filter((idx) => !positions.has(idx))),
      onImage: (_, __, image) => {
        rows.push(verifiedImageOf(image));
        void job.updateProgress({ done: rows.length, total: data.end - data.start });
      },
    });
    return { rows };
  }

  const worker = new Worker<QueueJob, JobResult<CertifiedRow | SampleCounts | VerifiedImage | UnitRow>>(QUEUE_NAME, async (job) => {
    log(`job ${job.id}: positions ${job.data.start} to ${job.data.end - 1} (${job.data.kind === 'search' ? `search ${job.data.unit.kind}` : job.data.kind})`);
    try {
      const data = job.data;
      if (data.version !== ARQ_VERSION) throw new Error(`job made by arq ${data.version}, this worker is arq ${ARQ_VERSION}: run one arq version on the producer and every worker`);
      switch (data.kind) {
        case 'certify':
          return await processCertify(job, data);
        case 'certify-samples':
          return await processCertifySamples(data);
        case 'verify':
          return await processVerify(job, data);
        case 'search':
          return await processSearch(job, data);
        default:
          throw new Error(`unknown job kind ${JSON.stringify((data as { kind: unknown }).kind)}`);
      }
    } catch (error) {
      // every failure is the job's own (model, data, settings, version): retrying elsewhere would fail again
      throw new UnrecoverableError((error as Error).message);
    }
  }, {
    connection: connectionOf(options.url),
    concurrency: options.concurrency ?? 1,
    lockDuration: (options.stalledSeconds ?? 30) * 1000,
    stalledInterval: (options.stalledSeconds ?? 30) * 1000,
    maxStalledCount: 2,
  });
  worker.on('completed', (job) => log(`job ${job.id}: done, ${job.data.kind === 'certify-samples' ? `samples ${job.data.first} to ${job.data.first + job.data.count - 1} of one image` : `${job.returnvalue.rows.length} ${job.data.kind === 'search' && job.data.unit.kind !== 'certify' ? 'positions' : 'images'}`}`));
  worker.on('failed', (job, error) => log(`job ${job?.id ?? '?'}: failed: ${error.message}`));
  worker.on('error', (error) => log(`queue ${redactUrl(options.url)}: ${error.message}`));
  await worker.waitUntilReady();
  return {
    async close() {
      await worker.close();
      for (const samplers of idle.values()) await Promise.all(samplers.map((s) => s.close()));
      idle.clear();
      redis.disconnect();
    },
  };
}
