/**
 * Drivers over a dataset (the role of locuslab/smoothing's certify.py and predict.py): every `skip`-th image up to
 * `max` images, one results line per image as soon as it is known, resumable, with progress callbacks.
 *
 * certifyDataset runs in one of three modes:
 * - 'certify': Cohen CERTIFY of the sampler's classifier; with `cache`, also writes an IRS cache (irs-cache.ts);
 * - 'incremental': IRS (irs.ts) of the sampler's classifier f' from the cache that certifying f wrote;
 * - 'from-scratch': CERTIFY of f' at the cache's n0, n and alpha on the cache's images, for comparison with IRS.
 * It writes FILE.tsv (results.ts), FILE.settings.json before the first image, and FILE.summary.json at the end.
 */
import { existsSync } from 'node:fs';
import { writeFileAtomic } from '../util/files.js';
import type { Sampler } from './sampler.js';
import { ABSTAIN, CERTIFY_DEFAULTS, certify, predict, type CertifyResult } from './certify.js';
import { certifyIncremental, defaultNp, IRS_DEFAULTS, type IrsResult } from './irs.js';
import { IrsCacheWriter, readIrsCache, settingsDifferences, type IrsCache, type IrsCacheSettings } from './irs-cache.js';
import { formatSummary, ResultsWriter, summarize, summaryPath, type CertifySummary, type JsonValue, type ResultRow } from './results.js';
import { checkSelection, selectEvery, type Dataset } from '../data/index.js';
import { checkFailureProbability, checkN, checkN0 } from '../engine/settings.js';
import { openSettingsFile, type RunIdentity } from './run-identity.js';
import { ArqError } from '../util/errors.js';
import { integerInRange, numberInRange } from '../util/check.js';

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
  /** After each newly certified image: images done (resumed ones included), images selected, its result. */
  onImage?: (done: number, total: number, result: ImageResult) => void;
  /** After each chunk of samples: samples done for the current image, samples it needs. */
  onSamples?: (done: number, total: number) => void;
  /** Checked between chunks: an aborted run rejects, keeping every finished line. */
  signal?: AbortSignal;
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

function checkGiven(name: string, given: number | undefined, cached: number, cache: string): void {
  if (given !== undefined && given !== cached) throw new ArqError(`${name}: incremental certification uses the IRS cache's ${name} = ${cached} (${cache}), got ${given}`);
}

/**
 * Certifies every `skip`-th image of `dataset` (up to `max`) and writes FILE.tsv, FILE.settings.json and
 * FILE.summary.json. Each certificate holds with probability at least 1 - alpha (1 - (alpha + alphaZeta) in
 * incremental mode) over the noise. Rejects with the signal's reason when aborted; finished lines stay and
 * `resume` continues them.
 */
export async function certifyDataset(options: CertifyDatasetOptions): Promise<CertifyDatasetResult> {
  const { sampler, dataset, out } = options;
  const { skip, max } = checkSelection(options.skip ?? 1, options.max);
  const per = dataset.shape[0] * dataset.shape[1] * dataset.shape[2];
  if (per !== sampler.inputSize) throw new ArqError(`${dataset.name}: images of ${per} values do not fit the model's input of ${sampler.inputSize} values`);
  if (options.cache && options.incremental) throw new ArqError('cache and incremental are exclusive: a cache is written while certifying f, incremental certification reads one');
  if (options.resume && options.overwrite) throw new ArqError('resume and overwrite are exclusive');

  const mode: Mode = options.incremental ? (options.incremental.fromScratch ? 'from-scratch' : 'incremental') : 'certify';
  let cache: IrsCache | null = null;
  let n0: number, n: number, alpha: number;
  const { seed } = options.identity;
  if (options.incremental) {
    cache = readIrsCache(options.incremental.cache);
    const cs = cache.settings;
    checkGiven('n0', options.n0, cs.n0, cache.path);
    checkGiven('n', options.n, cs.n, cache.path);
    checkGiven('alpha', options.alpha, cs.alpha, cache.path);
    const diff = settingsDifferences(cs, { sigma: sampler.sigma, seed, data: dataset.name });
    if (diff.length) throw new ArqError(`IRS cache ${cache.path} does not match this run: it was written with ${diff.join(', ')}`);
    ({ n0, n, alpha } = cs);
  } else {
    n0 = checkN0(options.n0 ?? CERTIFY_DEFAULTS.n0);
    n = checkN(options.n ?? CERTIFY_DEFAULTS.n, n0);
    alpha = checkFailureProbability(options.alpha ?? CERTIFY_DEFAULTS.alpha);
  }
  const irs = options.incremental && mode === 'incremental'
    ? {
      np: integerInRange('np', options.incremental.np ?? defaultNp(n), 1, n),
      gamma: numberInRange('gamma', options.incremental.gamma ?? IRS_DEFAULTS.gamma, 0, 1),
      alphaZeta: checkFailureProbability(options.incremental.alphaZeta ?? IRS_DEFAULTS.alphaZeta, 'alphaZeta'),
    }
    : null;

  const { dataset: selected, indices } = selectEvery(dataset, skip, max);
  if (cache) {
    const missing = indices.filter((i) => !cache.entries.has(i));
    if (missing.length) throw new ArqError(`IRS cache ${cache.path} has no record of ${missing.length} selected image(s) (first: ${missing[0]}); it holds ${cache.entries.size} images`);
    indices.forEach((idx, k) => {
      const label = cache.entries.get(idx)!.label;
      if (label !== selected.labels[k]) throw new ArqError(`IRS cache ${cache.path}: image ${idx} has label ${label} there and ${selected.labels[k]} in ${dataset.name}`);
    });
  }

  // Settings: `compared` must match on resume; the summary records them with the rest.
  const identity = Object.fromEntries(Object.entries(options.identity).filter(([, v]) => v !== undefined)) as { [key: string]: JsonValue };
  const compared: { [key: string]: JsonValue } = { mode, sigma: sampler.sigma, n0, n, alpha, skip, data: dataset.name, ...identity };
  if (cache) compared.reference = { model: cache.settings.model, engine: cache.settings.engine, policy: cache.settings.policy ?? null };
  if (irs) Object.assign(compared, { np: irs.np, gamma: irs.gamma, alpha_zeta: irs.alphaZeta });
  const settings: { [key: string]: JsonValue } = { ...compared, max: max ?? null, ...(options.cache ? { cache: options.cache } : {}), ...(cache ? { incremental_cache: cache.path } : {}), ...(options.info ?? {}) };

  const settingsFile = openSettingsFile(out, options);
  const writer = ResultsWriter.open(out, { resume: options.resume });
  let cacheWriter: IrsCacheWriter | null = null;
  try {
    settingsFile.record(compared, settings, writer.existing.length);
    if (options.cache) {
      if (existsSync(options.cache) && !options.resume && !options.overwrite) throw new ArqError(`IRS cache ${options.cache} exists: resume the run or overwrite it`);
      const cacheSettings: IrsCacheSettings = { ...identity, sigma: sampler.sigma, seed, n0, n, alpha, model: options.identity.model, data: dataset.name, engine: options.identity.engine };
      cacheWriter = IrsCacheWriter.open(options.cache, cacheSettings, { resume: options.resume });
      const uncached = writer.existing.filter((r) => !cacheWriter!.existing.has(r.idx));
      if (uncached.length) throw new ArqError(`cannot resume: ${uncached.length} image(s) finished in ${out} are missing from the IRS cache ${options.cache} (first: ${uncached[0].idx}); start again without resume`);
    }

    const done = new Map<number, ResultRow>(writer.existing.map((r) => [r.idx, r]));
    const resumed = indices.filter((i) => done.has(i)).length;
    const samplesOf = (idx: number): number => {
      if (mode !== 'incremental') return n0 + n;
      return cache!.entries.get(idx)!.pALower <= 0.5 ? 0 : irs!.np;
    };
    const stats = { images: 0, zeta: 0, disagreements: 0, drawn: 0, branches: { zeta: 0, estimate: 0, 'f-abstained': 0 } };
    let finished = resumed;
    for (let k = 0; k < indices.length; k++) {
      const idx = indices[k];
      if (done.has(idx)) continue;
      const image = selected.images.subarray(k * per, (k + 1) * per);
      const label = selected.labels[k];
      let prediction: number, radius: number, seconds: number, samples: number, pALower: number;
      let irsInfo: ImageResult['irs'];
      if (mode === 'incremental') {
        const total = samplesOf(idx);
        const r = await certifyIncremental(sampler, image, idx, cache!.entries.get(idx)!, {
          n0, np: irs!.np, alpha, alphaZeta: irs!.alphaZeta, gamma: irs!.gamma, chunk: options.chunk, signal: options.signal,
          onSamples: (d) => options.onSamples?.(d, total),
        });
        ({ prediction, radius, seconds, samples, pALower } = r);
        irsInfo = { branch: r.branch, zeta: r.zeta, disagreements: r.disagreements };
        stats.images++;
        stats.branches[r.branch]++;
        if (r.zeta !== null) stats.zeta += r.zeta;
        if (r.disagreements !== null) { stats.disagreements += r.disagreements; stats.drawn += r.samples; }
      } else {
        const r: CertifyResult = await certify(sampler, image, idx, {
          n0, n, alpha, chunk: options.chunk, record: cacheWriter !== null, signal: options.signal,
          onSamples: (d) => options.onSamples?.(d, n0 + n),
        });
        ({ prediction, radius, seconds, samples, pALower } = r);
        if (cacheWriter && !cacheWriter.existing.has(idx)) {
          cacheWriter.append({ idx, label, classA: r.classA, pALower: r.pALower, prediction, radius, seconds, predictions: r.predictions! });
        }
      }
      // time as written to the file (4 decimals), so returned rows equal the file's
      const row: ResultRow = { idx, label, predict: prediction, radius, correct: prediction !== ABSTAIN && prediction === label, time: Number(seconds.toFixed(4)) };
      writer.append(row);
      done.set(idx, row);
      finished++;
      options.onImage?.(finished, indices.length, { ...row, samples, pALower, ...(irsInfo ? { irs: irsInfo } : {}) });
    }

    const rows = indices.map((i) => done.get(i)!);
    const samples = indices.reduce((s, i) => s + samplesOf(i), 0);
    const summary = summarize(rows, { samples, settings, radii: options.radii });
    if (cache) {
      const fSeconds = indices.reduce((s, i) => s + cache.entries.get(i)!.seconds, 0);
      summary.incremental = {
        reference_seconds: fSeconds,
        speedup: summary.seconds > 0 ? fSeconds / summary.seconds : null,
        ...(irs ? {
          images_now: stats.images,
          branches: stats.branches,
          zeta_mean: stats.branches.zeta ? stats.zeta / stats.branches.zeta : null,
          disagreement_rate: stats.drawn ? stats.disagreements / stats.drawn : null,
        } : {}),
      };
    }
    const path = summaryPath(out);
    writeFileAtomic(path, formatSummary(summary));
    return { summary, rows, resumed, summaryPath: path };
  } finally {
    writer.close();
    cacheWriter?.close();
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
