/**
 * verify() over a dataset with results files, resumable like certifyDataset (smoothing/run.ts): FILE.settings.json
 * before the first image (compared on resume), one FILE.tsv line per image as soon as its group is done
 * (results.ts), FILE.summary.json at the end. A killed run keeps every complete line; `resume` skips those images.
 */
import { selectedIndices, shardSetting, type Shard } from '../data/index.js';
import { summaryPath, type JsonValue } from '../smoothing/results.js';
import { openSettingsFile } from '../smoothing/run-identity.js';
import { ArqError } from '../util/errors.js';
import { writeFileAtomic } from '../util/files.js';
import { rowOf, summarizeVerification, VerifyResultsWriter, type VerifyRow, type VerifySummary } from './results.js';
import { verify, verifySettings, type ImageVerification, type VerifyOptions } from './verify.js';

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
}

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
  const mine = new Set(shard ? indices.slice(shard.start, shard.end) : indices);
  const compared: { [key: string]: JsonValue } = { ...fixed, data: options.dataset.name, ...identity, ...(shard ? { shard: { ...shard } } : {}) };
  const settings: { [key: string]: JsonValue } = { ...compared, max, ...(options.info ?? {}) };

  const settingsFile = openSettingsFile(out, options);
  const writer = VerifyResultsWriter.open(out, resolved.eps, { resume: options.resume });
  try {
    settingsFile.record(compared, settings, writer.existing.length);
    const done = new Map<number, VerifyRow>(writer.existing.map((row) => [row.idx, row]));
    const run = await verify({
      ...options,
      exclude: new Set([...done.keys(), ...indices.filter((idx) => !mine.has(idx))]),
      onImage: (count, total, image) => {
        const row = rowOf(image);
        writer.append(row);
        done.set(row.idx, row);
        // progress within the shard: the images outside it count among verify()'s excluded ones
        options.onImage?.(count - (total - mine.size), mine.size, image);
      },
    });
    const rows = run.indices.filter((idx) => mine.has(idx)).map((idx) => done.get(idx)!);
    const summary = summarizeVerification(rows, resolved.eps, settings);
    const path = summaryPath(out);
    writeFileAtomic(path, `${JSON.stringify(summary, null, 2)}\n`);
    return { summary, rows, images: run.images, resumed: rows.length - run.images.length, summaryPath: path };
  } finally {
    writer.close();
  }
}
