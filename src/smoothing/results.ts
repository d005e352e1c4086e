/**
 * Certification results files and their summary.
 *
 * FILE.tsv (cli.md, smoothing.md; the layout of locuslab/smoothing's certify.py):
 *   idx<TAB>label<TAB>predict<TAB>radius<TAB>correct<TAB>time
 * one header line, then one line per image, each written and flushed to the OS as soon as it is known.
 * - idx: the image's index in the dataset (not its position in the skip/max selection);
 * - predict: the certified class, -1 for abstain; radius: the certified L2 radius (0 when abstaining), written
 *   with JavaScript's shortest round-trip decimal (so nothing is lost to rounding);
 * - correct: 1 if predict = label, else 0; time: seconds spent on the image, as a decimal number (Cohen writes
 *   h:mm:ss.ffffff; arq writes plain seconds).
 * A final line without its newline is an interrupted write: readers drop it, and resuming truncates it away.
 *
 * The settings that produced a TSV live beside it in FILE.settings.json (written before the first line, compared
 * on resume), and the summary in FILE.summary.json ("FILE" is the TSV path without its .tsv extension).
 */
import { readFileSync } from 'node:fs';
import { ArqError } from '../util/errors.js';
import { TsvAppender } from '../util/tsv-appender.js';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export const RESULT_COLUMNS = ['idx', 'label', 'predict', 'radius', 'correct', 'time'] as const;
export const RESULT_HEADER = RESULT_COLUMNS.join('\t');

/** Radii at which the summary always reports certified accuracy (keys String(r): "0", "0.25", ..., "2"). */
export const RADIUS_GRID: readonly number[] = [0, 0.25, 0.5, 0.75, 1, 1.25, 1.5, 1.75, 2];

/** One image's line of FILE.tsv. */
export interface ResultRow {
  idx: number;
  label: number;
  /** Certified class, -1 for abstain. */
  predict: number;
  radius: number;
  correct: boolean;
  /** Seconds spent on the image. */
  time: number;
}

/** The summary JSON (FILE.summary.json; field names fixed by cli.md). */
export interface CertifySummary {
  images: number;
  /** Average certified radius: the mean over images of the radius when certified correct, else 0. */
  acr: number;
  abstain_rate: number;
  /** Fraction of images certified correct with radius >= r, keyed by String(r). */
  certified_accuracy: Record<string, number>;
  /** Fraction of images whose (smoothed) prediction is the label; abstentions count as wrong. */
  clean_accuracy: number;
  /** Noise samples evaluated per second of certification time. */
  samples_per_second: number;
  /** Total certification time over the images (sum of the time column). */
  seconds: number;
  /** Every setting that shaped the result. */
  settings: { [key: string]: JsonValue };
  /** Incremental runs: statistics of IRS over the images certified by this invocation. */
  incremental?: { [key: string]: JsonValue };
}

/** FILE.summary.json for FILE.tsv (FILE.summary.json beside any other name: NAME.summary.json). */
export function summaryPath(tsvPath: string): string {
  return `${tsvPath.replace(/\.tsv$/i, '')}.summary.json`;
}

/** FILE.settings.json: the settings of the run that writes FILE.tsv (compared on resume). */
export function settingsPath(tsvPath: string): string {
  return `${tsvPath.replace(/\.tsv$/i, '')}.settings.json`;
}

/** The TSV line of a row (without its newline). */
export function formatResultRow(row: ResultRow): string {
  return [row.idx, row.label, row.predict, String(row.radius), row.correct ? 1 : 0, row.time.toFixed(4)].join('\t');
}

/** Parses one TSV line; `where` names it in errors. */
export function parseResultRow(line: string, where: string): ResultRow {
  const fields = line.split('\t');
  if (fields.length !== RESULT_COLUMNS.length) throw new ArqError(`${where}: expected ${RESULT_COLUMNS.length} tab-separated fields, got ${fields.length}`);
  const num = (i: number): number => {
    const text = fields[i];
    const value = Number(text);
    if (text.trim() === '' || !Number.isFinite(value)) throw new ArqError(`${where}: ${RESULT_COLUMNS[i]} is not a number: ${JSON.stringify(text)}`);
    return value;
  };
  const int = (i: number, min: number): number => {
    const value = num(i);
    if (!Number.isInteger(value) || value < min) throw new ArqError(`${where}: ${RESULT_COLUMNS[i]} must be an integer >= ${min}, got ${fields[i]}`);
    return value;
  };
  const row: ResultRow = { idx: int(0, 0), label: int(1, 0), predict: int(2, -1), radius: num(3), correct: false, time: num(5) };
  const correct = int(4, 0);
  if (correct > 1) throw new ArqError(`${where}: correct must be 0 or 1, got ${fields[4]}`);
  row.correct = correct === 1;
  if (row.radius < 0) throw new ArqError(`${where}: radius must be >= 0, got ${fields[3]}`);
  if (row.predict === -1 && row.radius !== 0) throw new ArqError(`${where}: an abstention (predict -1) must have radius 0, got ${fields[3]}`);
  if (row.correct !== (row.predict === row.label)) throw new ArqError(`${where}: correct ${correct} contradicts predict ${row.predict} and label ${row.label}`);
  if (row.time < 0) throw new ArqError(`${where}: time must be >= 0, got ${fields[5]}`);
  return row;
}

export interface ResultsFile {
  rows: ResultRow[];
  /** True when the file ended in a partial line (an interrupted write), which was dropped. */
  partial: boolean;
  /** Length in bytes of the header and complete lines: where a resumed run appends. */
  validBytes: number;
}

/**
 * Reads FILE.tsv: checks the header and every complete line, drops a final partial line (an interrupted write).
 * An empty file or one holding only part of the header reads as no rows. Duplicate indices are an error.
 */
export function readResults(path: string): ResultsFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ArqError(`cannot read results ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const end = text.lastIndexOf('\n') + 1;
  const partial = end < text.length;
  const lines = text.slice(0, end).split('\n');
  lines.pop();
  if (lines.length === 0) {
    if (partial && !RESULT_HEADER.startsWith(text)) throw new ArqError(`${path}: not an arq results file (expected the header ${JSON.stringify(RESULT_HEADER)})`);
    return { rows: [], partial, validBytes: 0 };
  }
  if (lines[0] !== RESULT_HEADER) throw new ArqError(`${path}: not an arq results file: line 1 is ${JSON.stringify(lines[0].slice(0, 80))}, expected ${JSON.stringify(RESULT_HEADER)}`);
  const rows: ResultRow[] = [];
  const seen = new Set<number>();
  for (let i = 1; i < lines.length; i++) {
    const row = parseResultRow(lines[i], `${path} line ${i + 1}`);
    if (seen.has(row.idx)) throw new ArqError(`${path} line ${i + 1}: image ${row.idx} appears twice`);
    seen.add(row.idx);
    rows.push(row);
  }
  return { rows, partial, validBytes: Buffer.byteLength(text.slice(0, end)) };
}

/** FILE.tsv of certification rows, appended one line at a time (resumable: see TsvAppender.open). */
export type ResultsWriter = TsvAppender<ResultRow>;
export const ResultsWriter = {
  open: (path: string, options: { resume?: boolean } = {}): ResultsWriter =>
    TsvAppender.open(path, { header: RESULT_HEADER, format: formatResultRow, read: readResults }, options),
};

/** Fraction of rows certified correct with radius >= r. */
export function certifiedAccuracy(rows: readonly Pick<ResultRow, 'correct' | 'radius'>[], radius: number): number {
  if (rows.length === 0) return 0;
  let hits = 0;
  for (const row of rows) if (row.correct && row.radius >= radius) hits++;
  return hits / rows.length;
}

/** Average certified radius: mean over rows of the radius when certified correct, else 0. */
export function averageCertifiedRadius(rows: readonly Pick<ResultRow, 'correct' | 'radius'>[]): number {
  if (rows.length === 0) return 0;
  let sum = 0;
  for (const row of rows) if (row.correct) sum += row.radius;
  return sum / rows.length;
}

/** The radius grid plus `extra` radii, ascending without repeats. */
export function summaryRadii(extra: readonly number[] = []): number[] {
  for (const r of extra) if (typeof r !== 'number' || !Number.isFinite(r) || r < 0) throw new ArqError(`radii: expected finite numbers >= 0, got ${r}`);
  return [...new Set([...RADIUS_GRID, ...extra])].sort((a, b) => a - b);
}

/**
 * The summary JSON of a set of rows. `samples` is the number of noise samples behind them (for samples_per_second);
 * `seconds` defaults to the sum of the rows' times.
 */
export function summarize(
  rows: readonly ResultRow[],
  options: { samples: number; settings: { [key: string]: JsonValue }; seconds?: number; radii?: readonly number[] },
): CertifySummary {
  const images = rows.length;
  const seconds = options.seconds ?? rows.reduce((s, r) => s + r.time, 0);
  const certified: Record<string, number> = {};
  for (const r of summaryRadii(options.radii)) certified[String(r)] = certifiedAccuracy(rows, r);
  return {
    images,
    acr: averageCertifiedRadius(rows),
    abstain_rate: images === 0 ? 0 : rows.filter((r) => r.predict === -1).length / images,
    certified_accuracy: certified,
    clean_accuracy: images === 0 ? 0 : rows.filter((r) => r.correct).length / images,
    samples_per_second: seconds > 0 ? options.samples / seconds : 0,
    seconds,
    settings: options.settings,
  };
}

/**
 * The summary as JSON text (2-space indent, final newline) with certified_accuracy in ascending radius order
 * (JSON.stringify alone would put the integer keys "0", "1", "2" first).
 */
export function formatSummary(summary: CertifySummary): string {
  const marker = '\u0000certified_accuracy\u0000';
  const text = JSON.stringify({ ...summary, certified_accuracy: marker }, null, 2);
  const entries = Object.entries(summary.certified_accuracy).sort(([a], [b]) => Number(a) - Number(b));
  const curve = entries.length ? `{\n${entries.map(([r, v]) => `    ${JSON.stringify(r)}: ${JSON.stringify(v)}`).join(',\n')}\n  }` : '{}';
  return `${text.replace(JSON.stringify(marker), curve)}\n`;
}
