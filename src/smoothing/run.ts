/**
 * Drivers over a dataset (the role of locuslab/smoothing's certify.py and predict.py): every `skip`-th image up to
 * `max` images, one results line per image as soon as it is known, resumable, with progress callbacks.
 *
 * certifyDataset runs in one of three modes:
 * - 'certify': Cohen CERTIFY of the sampler's classifier; with `cache`, also writes an IRS cache (irs-cache.ts);
 * - 'incremental': IRS (irs.ts) of the sampler's classifier f' from the cache that certifying f wrote;
 * - 'from-scratch': CERTIFY of f' at the cache's n0, n and alpha on the cache's images, for comparison with IRS.
 * It writes FILE.tsv (results.ts), FILE.settings.json before the first image, and FILE.summary.json at the end.
 * Each mode is a ModeRun built by its own function (certifyMode, incrementalMode, fromScratchMode; the two that read
 * a cache share referenceOf); certifyDataset is the driver they share: selection, settings, resume, the loop and
 * the summary.
 */
import { existsSync } from 'node:fs';
import { writeFileAtomic } from '../util/files.js';
import type { Sampler } from './sampler.js';
import { ABSTAIN, CERTIFY_DEFAULTS, certify, predict, type CertifyResult } from './certify.js';
import { certifyIncremental, defaultNp, IRS_DEFAULTS, type IrsResult } from './irs.js';
import { IrsCacheWriter, readIrsCache, settingsDifferences, type IrsCacheEntry, type IrsCacheSettings } from './irs-cache.js';
import { formatSummary, ResultsWriter, summarize, summaryPath, type CertifySummary, type JsonValue, type ResultRow } from './results.js';
import { checkSelection, selectEvery, shardSetting, type Dataset, type Shard } from '../data/index.js';
import { checkFailureProbability, checkN, checkN0 } from '../engine/settings.js';
import { openSettingsFile, type RunIdentity } from './run-identity.js';
import { ArqError } from '../util/errors.js';
import { integerInRange, numberInRange } from '../util/check.js';
import { inKeyOrder } from '../util/in-order.js';

export interface IncrementalOptions {
  /** The IRS cache written while certifying f. */
  cache: string;
  /** Samples of f' per image (default: ceil(5% of the cache's n)). */
  np?: number;
  /** Default 0.99. */
  gamma?: number;
  /** Default 0.001. */
  alphaZeta?: number;
  /** Certify f' with plain CERTIFY at the cache's n0, n, alpha instead of IRS (for comparison). */
  fromScratch?: boolean;
}

export interface CertifyDatasetOptions {
  /** The base classifier under noise; its sigma is the run's sigma. */
  sampler: Sampler;
  dataset: Dataset;
  /** FILE.tsv; FILE.settings.json and FILE.summary.json are written beside it. */
  out: string;
  identity: RunIdentity;
  /** Recorded in the summary's settings but not compared on resume (e.g. batch, threads). */
  info?: { [key: string]: JsonValue };
  /**
   * Cohen's n0, n, alpha (defaults 100, 100,000, 0.001). In incremental modes they are the cache's: giving a
   * different value is an error.
   */
  n0?: number;
  n?: number;
  alpha?: number;
  /** Every skip-th image (default 1) up to max images (default all). */
  skip?: number;
  max?: number;
  /** Samples per sampler call (default 10,000). */
  chunk?: number;
  /** Radii reported in certified_accuracy besides the grid 0, 0.25, ..., 2. */
  radii?: number[];
  /** Continue an existing FILE.tsv: finished images are skipped; its settings must equal this run's. */
  resume?: boolean;
  /** Replace an existing FILE.tsv (without this or resume, an existing file is an error). */
  overwrite?: boolean;
  /** Write an IRS cache while certifying ('certify' mode only). */
  cache?: string;
  /** Certify incrementally from an IRS cache. */
  incremental?: IncrementalOptions;
  /**
   * Only this shard of the selection (data/shard.ts), recorded in the settings for `arq merge`; plain certification
   * only (no cache, not incremental).
   */
  shard?: Shard;
  /**
   * Certify the pending images elsewhere (src/distributed: BullMQ workers) instead of with `sampler`, which still
   * gives the run's sigma and input size; plain certification only (with `cache`, the rows carry what the cache
   * records). Rows may arrive in any order and more than once: the driver writes each image once, in selection
   * order, and reads the certifier to its end (its clean-up).
   */
  remote?: RemoteCertifier;
  /** After each newly certified image: images done (resumed ones included), images selected, its result. */
  onImage?: (done: number, total: number, result: ImageResult) => void;
  /** After each chunk of samples: samples done for the current image, samples it needs. */
  onSamples?: (done: number, total: number) => void;
  /** Checked between chunks: an aborted run rejects, keeping every finished line. */
  signal?: AbortSignal;
}

/** What a remote certifier is asked to certify (CertifyDatasetOptions.remote). */
export interface RemoteWork {
  /** Positions in the selection still to certify, ascending. */
  readonly pending: readonly number[];
  /** Size of the selection. */
  readonly images: number;
  /** The run's compared settings (its identity on the queue). */
  readonly compared: { readonly [key: string]: JsonValue };
  /** Cohen's n0, n and alpha of every image. */
  readonly n0: number;
  readonly n: number;
  readonly alpha: number;
  /** The selection: every skip-th image, at most max of them. */
  readonly skip: number;
  readonly max: number | undefined;
  /** The run writes an IRS cache: each row must carry CERTIFY's classA and estimation-sample predictions. */
  readonly record: boolean;
  /** The run's abort signal: a stopped run stops waiting. */
  readonly signal?: AbortSignal;
}

/** A remotely certified image: its results line, CERTIFY's pALower, and (RemoteWork.record) what the IRS cache keeps. */
export type RemoteRow = ResultRow & { pALower: number; classA?: number; predictions?: readonly number[] };

/** Certifies RemoteWork elsewhere, yielding rows as they come. */
export type RemoteCertifier = (work: RemoteWork) => AsyncIterable<readonly RemoteRow[]>;

/**
 * CERTIFY of selection positions [start, end) of `dataset` (`indices`: the selection's dataset indices), one
 * RemoteRow each, as a worker certifies its share of a RemoteWork; `record` adds what an IRS cache keeps.
 */
export async function certifyRange(
  sampler: Sampler, dataset: Dataset, indices: readonly number[], start: number, end: number,
  options: { n0: number; n: number; alpha: number; record?: boolean; onImage?: (done: number) => Promise<void> | void },
): Promise<RemoteRow[]> {
  const per = sampler.inputSize;
  const rows: RemoteRow[] = [];
  for (let k = start; k < end; k++) {
    const idx = indices[k];
    const r = await certify(sampler, dataset.images.subarray(idx * per, (idx + 1) * per), idx, { n0: options.n0, n: options.n, alpha: options.alpha, record: options.record });
    const row = { ...certificateRow(idx, dataset.labels[idx], r), pALower: r.pALower };
    rows.push(options.record ? { ...row, classA: r.classA, predictions: Array.from(r.predictions!) } : row);
    await options.onImage?.(rows.length);
  }
  return rows;
}

/** An image's results line from its certificate (time as written to the file, 4 decimals). */
export function certificateRow(idx: number, label: number, c: { prediction: number; radius: number; seconds: number }): ResultRow {
  return { idx, label, predict: c.prediction, radius: c.radius, correct: c.prediction !== ABSTAIN && c.prediction === label, time: Number(c.seconds.toFixed(4)) };
}

/** One image's outcome as reported to onImage. */
export interface ImageResult extends ResultRow {
  /** Noise samples drawn for the image. */
  samples: number;
  /** The lower bound behind the certificate (CERTIFY's pALower, or IRS's). */
  pALower: number;
  /** IRS details in incremental mode. */
  irs?: Pick<IrsResult, 'branch' | 'zeta' | 'disagreements'>;
}

export interface CertifyDatasetResult {
  summary: CertifySummary;
  /** Rows of the selected images, in selection order (resumed ones included). */
  rows: ResultRow[];
  /** Images taken from an existing file rather than certified now. */
  resumed: number;
  summaryPath: string;
}

type Mode = 'certify' | 'incremental' | 'from-scratch';

/** One image's certificate as a mode computes it. */
type Certificate = Pick<ImageResult, 'samples' | 'pALower' | 'irs'> & { prediction: number; radius: number; seconds: number };

/**
 * What a mode decides, over the shared driver (certifyDataset): the n0, n and alpha of its certificates, the
 * settings it adds, what it reads or writes beside the results (the IRS cache), the work per image, and its summary.
 */
interface ModeRun {
  readonly mode: Mode;
  readonly n0: number;
  readonly n: number;
  readonly alpha: number;
  /** Settings beyond the shared ones: compared on resume, and recorded only. */
  readonly compared: { [key: string]: JsonValue };
  readonly recorded: { [key: string]: JsonValue };
  /** Throws unless the mode can certify the selected images (`labels` in selection order). */
  checkImages(indices: readonly number[], labels: Int32Array): void;
  /** After FILE.settings.json is written, given the lines kept from a resumed file. */
  start(identity: { [key: string]: JsonValue }, finished: readonly ResultRow[]): void;
  /** Noise samples image `idx` takes. */
  samplesOf(idx: number): number;
  /** Whether the run writes an IRS cache, and keeps an image's record there (a remote certificate's). */
  readonly records: boolean;
  keep(entry: IrsCacheEntry): void;
  certifyImage(image: Float32Array, idx: number, label: number): Promise<Certificate>;
  /** The summary's `incremental` part, comparing with the cache's reference run. */
  incrementalSummary?(indices: readonly number[], seconds: number): { [key: string]: JsonValue };
  close(): void;
}

type ModeOptions = Omit<CertifyDatasetOptions, 'incremental'>;

function checkGiven(name: string, given: number | undefined, cached: number, cache: string): void {
  if (given !== undefined && given !== cached) throw new ArqError(`${name}: incremental certification uses the IRS cache's ${name} = ${cached} (${cache}), got ${given}`);
}

/** Cohen CERTIFY of one image at the mode's n0, n and alpha; `record` keeps each estimation sample's class. */
async function certifyOne(options: ModeOptions, at: { n0: number; n: number; alpha: number }, image: Float32Array, idx: number, record: boolean): Promise<CertifyResult> {
  return certify(options.sampler, image, idx, {
    n0: at.n0, n: at.n, alpha: at.alpha, chunk: options.chunk, record, signal: options.signal, onSamples: (d) => options.onSamples?.(d, at.n0 + at.n),
  });
}

/** 'certify': CERTIFY of the sampler's classifier at the given n0, n, alpha; with `cache`, writing the IRS cache. */
function certifyMode(options: ModeOptions): ModeRun {
  const n0 = checkN0(options.n0 ?? CERTIFY_DEFAULTS.n0);
  const n = checkN(options.n ?? CERTIFY_DEFAULTS.n, n0);
  const alpha = checkFailureProbability(options.alpha ?? CERTIFY_DEFAULTS.alpha);
  const { cache } = options;
  let cacheWriter: IrsCacheWriter | null = null;
  const keep = (entry: IrsCacheEntry) => {
    if (cacheWriter && !cacheWriter.existing.has(entry.idx)) cacheWriter.append(entry);
  };
  return {
    mode: 'certify', n0, n, alpha, compared: {}, recorded: cache ? { cache } : {}, records: Boolean(cache), keep,
    checkImages: () => {},
    start(identity, finished) {
      if (!cache) return;
      if (existsSync(cache) && !options.resume && !options.overwrite) throw new ArqError(`IRS cache ${cache} exists: resume the run or overwrite it`);
      const settings: IrsCacheSettings = { ...identity, sigma: options.sampler.sigma, seed: options.identity.seed, n0, n, alpha, model: options.identity.model, data: options.dataset.name, engine: options.identity.engine };
      const writer = IrsCacheWriter.open(cache, settings, { resume: options.resume });
      cacheWriter = writer;
      const uncached = finished.filter((r) => !writer.existing.has(r.idx));
      if (uncached.length) throw new ArqError(`cannot resume: ${uncached.length} image(s) finished in ${options.out} are missing from the IRS cache ${cache} (first: ${uncached[0].idx}); start again without resume`);
    },
    samplesOf: () => n0 + n,
    async certifyImage(image, idx, label) {
      const r = await certifyOne(options, { n0, n, alpha }, image, idx, cacheWriter !== null);
      keep({ idx, label, classA: r.classA, pALower: r.pALower, prediction: r.prediction, radius: r.radius, seconds: r.seconds, predictions: r.predictions! });
      return r;
    },
    close: () => cacheWriter?.close(),
  };
}

/**
 * The IRS cache that certifying f wrote, checked against this run: the cache fixes n0, n and alpha (a different one
 * given is an error), and its sigma, seed and data must be this run's, or its noise would not be the noise f' sees.
 * Returns the cache, the parts of a ModeRun that both modes reading it share, and the reference run's timing.
 */
function referenceOf(options: ModeOptions, file: string) {
  const cache = readIrsCache(file);
  const cs = cache.settings;
  checkGiven('n0', options.n0, cs.n0, cache.path);
  checkGiven('n', options.n, cs.n, cache.path);
  checkGiven('alpha', options.alpha, cs.alpha, cache.path);
  const diff = settingsDifferences(cs, { sigma: options.sampler.sigma, seed: options.identity.seed, data: options.dataset.name });
  if (diff.length) throw new ArqError(`IRS cache ${cache.path} does not match this run: it was written with ${diff.join(', ')}`);
  const shared = {
    n0: cs.n0, n: cs.n, alpha: cs.alpha,
    compared: { reference: { model: cs.model, engine: cs.engine, policy: cs.policy ?? null } },
    recorded: { incremental_cache: cache.path },
    checkImages(indices: readonly number[], labels: Int32Array): void {
      const missing = indices.filter((i) => !cache.entries.has(i));
      if (missing.length) throw new ArqError(`IRS cache ${cache.path} has no record of ${missing.length} selected image(s) (first: ${missing[0]}); it holds ${cache.entries.size} images`);
      indices.forEach((idx, k) => {
        const label = cache.entries.get(idx)!.label;
        if (label !== labels[k]) throw new ArqError(`IRS cache ${cache.path}: image ${idx} has label ${label} there and ${labels[k]} in ${options.dataset.name}`);
      });
    },
    start: () => {},
    records: false,
    keep: () => {},
    close: () => {},
  };
  /** The reference run's time on these images, and this run's speed-up over it. */
  const timing = (indices: readonly number[], seconds: number): { [key: string]: JsonValue } => {
    const reference = indices.reduce((s, i) => s + cache.entries.get(i)!.seconds, 0);
    return { reference_seconds: reference, speedup: seconds > 0 ? reference / seconds : null };
  };
  return { cache, shared, timing };
}

/** 'from-scratch': CERTIFY of f' at the cache's n0, n and alpha on the cache's images, for comparison with IRS. */
function fromScratchMode(options: ModeOptions, incremental: IncrementalOptions): ModeRun {
  const { shared, timing } = referenceOf(options, incremental.cache);
  return {
    ...shared, mode: 'from-scratch',
    samplesOf: () => shared.n0 + shared.n,
    certifyImage: (image, idx) => certifyOne(options, shared, image, idx, false),
    incrementalSummary: timing,
  };
}

/** 'incremental': IRS of f' from the cache's record of f, with the branch, zeta and disagreement statistics. */
function incrementalMode(options: ModeOptions, incremental: IncrementalOptions): ModeRun {
  const { cache, shared, timing } = referenceOf(options, incremental.cache);
  const { n0, n, alpha } = shared;
  const np = integerInRange('np', incremental.np ?? defaultNp(n), 1, n);
  const gamma = numberInRange('gamma', incremental.gamma ?? IRS_DEFAULTS.gamma, 0, 1);
  const alphaZeta = checkFailureProbability(incremental.alphaZeta ?? IRS_DEFAULTS.alphaZeta, 'alphaZeta');
  const samplesOf = (idx: number): number => (cache.entries.get(idx)!.pALower <= 0.5 ? 0 : np);
  const stats = { images: 0, zeta: 0, disagreements: 0, drawn: 0, branches: { zeta: 0, estimate: 0, 'f-abstained': 0 } };
  return {
    ...shared, mode: 'incremental',
    compared: { ...shared.compared, np, gamma, alpha_zeta: alphaZeta },
    samplesOf,
    async certifyImage(image, idx) {
      const total = samplesOf(idx);
      const r = await certifyIncremental(options.sampler, image, idx, cache.entries.get(idx)!, {
        n0, np, alpha, alphaZeta, gamma, chunk: options.chunk, signal: options.signal, onSamples: (d) => options.onSamples?.(d, total),
      });
      stats.images++;
      stats.branches[r.branch]++;
      if (r.zeta !== null) stats.zeta += r.zeta;
      if (r.disagreements !== null) {
        stats.disagreements += r.disagreements;
        stats.drawn += r.samples;
      }
      return { ...r, irs: { branch: r.branch, zeta: r.zeta, disagreements: r.disagreements } };
    },
    incrementalSummary: (indices, seconds) => ({
      ...timing(indices, seconds),
      images_now: stats.images,
      branches: stats.branches,
      zeta_mean: stats.branches.zeta ? stats.zeta / stats.branches.zeta : null,
      disagreement_rate: stats.drawn ? stats.disagreements / stats.drawn : null,
    }),
  };
}

/**
 * Certifies every `skip`-th image of `dataset` (up to `max`) and writes FILE.tsv, FILE.settings.json and
 * FILE.summary.json. Each certificate holds with probability at least 1 - alpha (1 - (alpha + alphaZeta) in
 * incremental mode) over the noise. Rejects with the signal's reason when aborted; finished lines stay and
 * `resume` continues them.
 */
export async function certifyDataset(options: CertifyDatasetOptions): Promise<CertifyDatasetResult> {
  const { sampler, dataset, out, incremental } = options;
  const { skip, max } = checkSelection(options.skip ?? 1, options.max);
  const per = dataset.shape[0] * dataset.shape[1] * dataset.shape[2];
  if (per !== sampler.inputSize) throw new ArqError(`${dataset.name}: images of ${per} values do not fit the model's input of ${sampler.inputSize} values`);
  if (options.cache && incremental) throw new ArqError('cache and incremental are exclusive: a cache is written while certifying f, incremental certification reads one');
  if (options.resume && options.overwrite) throw new ArqError('resume and overwrite are exclusive');
  if (options.remote && incremental) throw new ArqError('remote certification (a queue) applies to plain certification: incremental certification runs locally');
  if (options.shard && (options.cache || incremental)) throw new ArqError('shard: applies to plain certification: an IRS cache and incremental certification cover whole runs');

  const run = !incremental ? certifyMode(options) : incremental.fromScratch ? fromScratchMode(options, incremental) : incrementalMode(options, incremental);
  const { dataset: selected, indices } = selectEvery(dataset, skip, max);
  run.checkImages(indices, selected.labels);
  const shard = options.shard ? shardSetting(indices.length, options.shard) : null;
  const start = shard?.start ?? 0;
  const end = shard?.end ?? indices.length;

  // Settings: `compared` must match on resume; the summary records them with the rest.
  const identity = Object.fromEntries(Object.entries(options.identity).filter(([, v]) => v !== undefined)) as { [key: string]: JsonValue };
  const compared: { [key: string]: JsonValue } = {
    mode: run.mode, sigma: sampler.sigma, n0: run.n0, n: run.n, alpha: run.alpha, skip, data: dataset.name, ...identity, ...run.compared,
    ...(shard ? { shard: { ...shard } } : {}),
  };
  const settings: { [key: string]: JsonValue } = { ...compared, max: max ?? null, ...run.recorded, ...(options.info ?? {}) };

  const settingsFile = openSettingsFile(out, options);
  const writer = ResultsWriter.open(out, { resume: options.resume });
  try {
    settingsFile.record(compared, settings, writer.existing.length);
    run.start(identity, writer.existing);
    const done = new Map<number, ResultRow>(writer.existing.map((r) => [r.idx, r]));
    const mine = indices.slice(start, end);
    const resumed = mine.filter((i) => done.has(i)).length;
    let finished = resumed;
    const record = (row: ResultRow, image: Pick<ImageResult, 'samples' | 'pALower' | 'irs'>) => {
      writer.append(row);
      done.set(row.idx, row);
      finished++;
      options.onImage?.(finished, mine.length, { ...row, ...image });
    };
    if (options.remote) {
      const pending = Array.from({ length: end - start }, (_, j) => start + j).filter((k) => !done.has(indices[k]));
      const work = { pending, images: indices.length, compared, n0: run.n0, n: run.n, alpha: run.alpha, skip, max, record: run.records, signal: options.signal };
      const keys = pending.map((k) => indices[k]);
      const next = await inKeyOrder(keys, pending.length ? options.remote(work) : [], (row) => row.idx, ({ pALower, classA, predictions, ...row }) => {
        if (run.records) {
          run.keep({ idx: row.idx, label: row.label, classA: classA!, pALower, prediction: row.predict, radius: row.radius, seconds: row.time, predictions: Uint8Array.from(predictions!) });
        }
        record(certificateRow(row.idx, row.label, { prediction: row.predict, radius: row.radius, seconds: row.time }), { samples: run.n0 + run.n, pALower });
      }, (row, j) => {
        const label = selected.labels[pending[j]];
        if (row.label !== label) throw new ArqError(`a worker certified image ${row.idx} with label ${row.label}, but it has label ${label} in ${dataset.name} here: producer and workers must read the same data`);
        if (run.records && (row.classA === undefined || row.predictions?.length !== run.n)) throw new ArqError(`a worker certified image ${row.idx} without the ${run.n} predictions the IRS cache records`);
      });
      if (next < pending.length) throw new ArqError(`the queue ended with ${pending.length - next} image(s) uncertified (first: ${indices[pending[next]]}); rerun with --resume`);
    }
    for (let k = start; k < end; k++) {
      const idx = indices[k];
      if (done.has(idx)) continue;
      const label = selected.labels[k];
      const { samples, pALower, irs, ...certificate } = await run.certifyImage(selected.images.subarray(k * per, (k + 1) * per), idx, label);
      record(certificateRow(idx, label, certificate), { samples, pALower, ...(irs ? { irs } : {}) });
    }

    const rows = mine.map((i) => done.get(i)!);
    const samples = mine.reduce((s, i) => s + run.samplesOf(i), 0);
    const summary = summarize(rows, { samples, settings, radii: options.radii });
    if (run.incrementalSummary) summary.incremental = run.incrementalSummary(mine, summary.seconds);
    const path = summaryPath(out);
    writeFileAtomic(path, formatSummary(summary));
    return { summary, rows, resumed, summaryPath: path };
  } finally {
    writer.close();
    run.close();
  }
}

export interface SmoothPredictDatasetOptions {
  sampler: Sampler;
  dataset: Dataset;
  /** Noise samples per image. */
  n: number;
  /** Level of PREDICT's binomial test. */
  alpha: number;
  skip?: number;
  max?: number;
  chunk?: number;
  /** Recorded in the result's settings. */
  info?: { [key: string]: JsonValue };
  /** After each image: images done, images selected, its index, label and prediction. */
  onImage?: (done: number, total: number, result: { idx: number; label: number; prediction: number; seconds: number }) => void;
  onSamples?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

export interface SmoothPredictDatasetResult {
  count: number;
  /** Fraction predicted correctly; abstentions count as wrong. */
  accuracy: number;
  abstain_rate: number;
  /** Per selected image: its class or -1 (abstain). */
  predictions: number[];
  /** Dataset indices of the selected images. */
  indices: number[];
  seconds: number;
  samples_per_second: number;
  settings: { [key: string]: JsonValue };
}

/**
 * Cohen PREDICT over every `skip`-th image (up to `max`): each prediction is the smoothed classifier's class or an
 * abstention with probability at least 1 - alpha.
 */
export async function smoothPredictDataset(options: SmoothPredictDatasetOptions): Promise<SmoothPredictDatasetResult> {
  const { sampler, dataset } = options;
  const { skip, max } = checkSelection(options.skip ?? 1, options.max);
  const n = checkN(options.n);
  const alpha = checkFailureProbability(options.alpha);
  const per = dataset.shape[0] * dataset.shape[1] * dataset.shape[2];
  if (per !== sampler.inputSize) throw new ArqError(`${dataset.name}: images of ${per} values do not fit the model's input of ${sampler.inputSize} values`);
  const { dataset: selected, indices } = selectEvery(dataset, skip, max);
  const predictions: number[] = [];
  let seconds = 0;
  let correct = 0;
  let abstained = 0;
  for (let k = 0; k < indices.length; k++) {
    const r = await predict(sampler, selected.images.subarray(k * per, (k + 1) * per), indices[k], {
      n, alpha, chunk: options.chunk, signal: options.signal,
      onSamples: (d) => options.onSamples?.(d, n),
    });
    predictions.push(r.prediction);
    seconds += r.seconds;
    if (r.prediction === ABSTAIN) abstained++;
    else if (r.prediction === selected.labels[k]) correct++;
    options.onImage?.(k + 1, indices.length, { idx: indices[k], label: selected.labels[k], prediction: r.prediction, seconds: r.seconds });
  }
  const count = indices.length;
  return {
    count,
    accuracy: count ? correct / count : 0,
    abstain_rate: count ? abstained / count : 0,
    predictions,
    indices,
    seconds,
    samples_per_second: seconds > 0 ? (count * n) / seconds : 0,
    settings: { sigma: sampler.sigma, n, alpha, skip, max: max ?? null, data: dataset.name, ...(options.info ?? {}) },
  };
}
