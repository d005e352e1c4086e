/**
 * verify() over a dataset with results files, resumable like certifyDataset (smoothing/run.ts): FILE.settings.json
 * before the first image (compared on resume), one FILE.tsv line per image as soon as its group is done
 * (results.ts), FILE.summary.json at the end. A killed run keeps every complete line; `resume` skips those images.
 */
import { existsSync } from 'node:fs';
import { settingsDifferences } from '../smoothing/irs-cache.js';
import { settingsPath, summaryPath, type JsonValue } from '../smoothing/results.js';
import { readSettingsSidecar } from '../smoothing/run.js';
import { ArqError } from '../util/errors.js';
import { writeFileAtomic } from '../util/files.js';
import { rowOf, summarizeVerification, VerifyResultsWriter, type VerifyRow, type VerifySummary } from './results.js';
import { verify, verifySettings, type ImageVerification, type VerifyOptions } from './verify.js';

export interface VerifyDatasetOptions extends Omit<VerifyOptions, 'exclude'> {
  /** FILE.tsv; FILE.settings.json and FILE.summary.json go beside it. */
  readonly out: string;
  /** Who made the results (model sha256, policy, calibration settings): recorded and compared on resume. */
  readonly identity: { model: string; policy: string; [key: string]: JsonValue | undefined };
  /** Recorded in the summary's settings but not compared on resume (threads). */
  readonly info?: { [key: string]: JsonValue };
  /** Continue an existing FILE.tsv: finished images are skipped; its settings must equal this run's. */
  readonly resume?: boolean;
  /** Replace an existing FILE.tsv (without this or resume, an existing file is an error). */
  readonly overwrite?: boolean;
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
  const compared: { [key: string]: JsonValue } = { ...fixed, data: options.dataset.name, ...identity };
  const settings: { [key: string]: JsonValue } = { ...compared, max, ...(options.info ?? {}) };

  const sidecar = settingsPath(out);
  const exists = existsSync(out);
  if (exists && !options.resume && !options.overwrite) throw new ArqError(`${out} exists: resume it or overwrite it`);
  const previous = options.resume && exists ? readSettingsSidecar(sidecar) : null;
  const writer = VerifyResultsWriter.open(out, resolved.eps, { resume: options.resume });
  try {
    if (options.resume && writer.existing.length) {
      if (!previous) throw new ArqError(`cannot resume ${out}: its settings file ${sidecar} is missing`);
      const keys = [...new Set([...Object.keys(previous.compared), ...Object.keys(compared)])];
      const diff = settingsDifferences(previous.compared, compared, keys);
      if (diff.length) throw new ArqError(`cannot resume ${out}: it was written with different settings: ${diff.join(', ')}`);
    }
    writeFileAtomic(sidecar, `${JSON.stringify({ compared, settings }, null, 2)}\n`);
    const done = new Map<number, VerifyRow>(writer.existing.map((row) => [row.idx, row]));
    const run = await verify({
      ...options,
      exclude: new Set(done.keys()),
      onImage: (count, total, image) => {
        const row = rowOf(image);
        writer.append(row);
        done.set(row.idx, row);
        options.onImage?.(count, total, image);
      },
    });
    const rows = run.indices.map((idx) => done.get(idx)!);
    const summary = summarizeVerification(rows, resolved.eps, settings);
    const path = summaryPath(out);
    writeFileAtomic(path, `${JSON.stringify(summary, null, 2)}\n`);
    return { summary, rows, images: run.images, resumed: rows.length - run.images.length, summaryPath: path };
  } finally {
    writer.close();
  }
}
