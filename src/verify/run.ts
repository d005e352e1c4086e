/**
 * verify() over a dataset with results files, resumable like certifyDataset (smoothing/run.ts): FILE.settings.json
 * before the first image (compared on resume), one FILE.tsv line per image as soon as its group is done
 * (results.ts), FILE.summary.json at the end. A killed run keeps every complete line; `resume` skips those images.
 * With `remote` (src/distributed: BullMQ workers) the pending images are verified elsewhere and written here, in
 * selection order, as a local run writes them.
 */
import { selectedIndices, shardSetting, type Shard } from '../data/index.js';
import { summaryPath, type JsonValue } from '../smoothing/results.js';
import { openSettingsFile } from '../smoothing/run-identity.js';
import { ArqError } from '../util/errors.js';
import { writeFileAtomic } from '../util/files.js';
import { inKeyOrder } from '../util/in-order.js';
import { rowOf, summarizeVerification, VerifyResultsWriter, type VerifyRow, type VerifySummary } from './results.js';
import { verify, verifySettings, type ImageVerification, type VerifyOptions, type VerifySettings } from './verify.js';

export interface VerifyDatasetOptions extends Omit<VerifyOptions, 'exclude'> {
  /** FILE.tsv; FILE.settings.json and FILE.summary.json go beside it. */
  readonly out: string;
  /** Who made the results (model sha256, policy, calibration settings): recorded and compared on resume. */
  readonly identity: { model: string; policy: string | null; [key: string]: JsonValue | undefined };
  /** Recorded in the summary's settings but not compared on resume (threads). */
  readonly info?: { [key: string]: JsonValue };
  /** Continue an existing FILE.tsv: finished images are skipped; its settings must equal this run's. */
  readonly resume?: boolean;
  /** Replace an existing FILE.tsv (without this or resume, an existing file is an error). */
  readonly overwrite?: boolean;
  /** Only this shard of the selection (data/shard.ts), recorded in the settings for `arq merge`. */
  readonly shard?: Shard;
  /**
   * Verify the pending images elsewhere (src/distributed: BullMQ workers) instead of here. Images may arrive in any
   * order and more than once: each is written once, in selection order, and the verifier is read to its end (its
   * clean-up).
   */
  readonly remote?: RemoteVerifier;
}

/** What a remote verifier is asked to verify (VerifyDatasetOptions.remote). */
export interface RemoteVerifyWork {
  /** Positions in the selection still to verify, ascending. */
  readonly pending: readonly number[];
  /** Size of the selection. */
  readonly images: number;
  /** The run's compared settings (its identity on the queue). */
  readonly compared: { readonly [key: string]: JsonValue };
  /** The run's settings, checked, with their defaults: radii, timeout, seed, attack, selection. */
  readonly settings: VerifySettings;
  /** The run's abort signal: a stopped run stops waiting. */
  readonly signal?: AbortSignal;
}

/** Verifies RemoteVerifyWork elsewhere, yielding images (counterexamples included) as they come. */
export type RemoteVerifier = (work: RemoteVerifyWork) => AsyncIterable<readonly ImageVerification[]>;

export interface VerifyDatasetResult {
  readonly summary: VerifySummary;
  /** Rows of the selected images in selection order (resumed ones included). */
  readonly rows: VerifyRow[];
  /** Images verified by this call, with their counterexamples. */
  readonly images: ImageVerification[];
  /** Images taken from an existing file. */
  readonly resumed: number;
  readonly summaryPath: string;
}

export async function verifyDataset(options: VerifyDatasetOptions): Promise<VerifyDatasetResult> {
  const { out } = options;
  if (options.resume && options.overwrite) throw new ArqError('resume and overwrite are exclusive');
  const resolved = verifySettings(options);
  const { max, ...fixed } = resolved;
  const identity = Object.fromEntries(Object.entries(options.identity).filter(([, v]) => v !== undefined)) as { [key: string]: JsonValue };
  const indices = selectedIndices(options.dataset.count, resolved.skip, max ?? undefined);
  const shard = options.shard ? shardSetting(indices.length, options.shard) : null;
  const start = shard?.start ?? 0;
  const end = shard?.end ?? indices.length;
  const mine = new Set(indices.slice(start, end));
  const compared: { [key: string]: JsonValue } = { ...fixed, data: options.dataset.name, ...identity, ...(shard ? { shard: { ...shard } } : {}) };
  const settings: { [key: string]: JsonValue } = { ...compared, max, ...(options.info ?? {}) };

  const settingsFile = openSettingsFile(out, options);
  const writer = VerifyResultsWriter.open(out, resolved.eps, { resume: options.resume });
  try {
    settingsFile.record(compared, settings, writer.existing.length);
    const done = new Map<number, VerifyRow>(writer.existing.map((row) => [row.idx, row]));
    const images: ImageVerification[] = [];
    const resumed = [...mine].filter((idx) => done.has(idx)).length;
    const record = (image: ImageVerification) => {
      const row = rowOf(image);
      writer.append(row);
      done.set(row.idx, row);
      images.push(image);
      options.onImage?.(resumed + images.length, mine.size, image);
    };
    if (options.remote) {
      const pending = Array.from({ length: end - start }, (_, j) => start + j).filter((k) => !done.has(indices[k]));
      const work = { pending, images: indices.length, compared, settings: resolved, signal: options.signal };
      const next = await inKeyOrder(pending.map((k) => indices[k]), pending.length ? options.remote(work) : [], (image) => image.idx, record, (image) => {
        const label = options.dataset.labels[image.idx];
        if (image.label !== label) throw new ArqError(`a worker verified image ${image.idx} with label ${image.label}, but it has label ${label} in ${options.dataset.name} here: producer and workers must read the same data`);
      });
      if (next < pending.length) throw new ArqError(`the queue ended with ${pending.length - next} image(s) unverified (first: ${indices[pending[next]]}); rerun with --resume`);
    } else {
      await verify({ ...options, exclude: new Set(indices.filter((idx) => done.has(idx) || !mine.has(idx))), onImage: (_, __, image) => record(image) });
    }
    const rows = indices.filter((idx) => mine.has(idx)).map((idx) => done.get(idx)!);
    const summary = summarizeVerification(rows, resolved.eps, settings);
    const path = summaryPath(out);
    writeFileAtomic(path, `${JSON.stringify(summary, null, 2)}\n`);
    return { summary, rows, images, resumed, summaryPath: path };
  } finally {
    writer.close();
  }
}
