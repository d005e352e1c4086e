/**
 * Verification results files and their summary (cli.md's `arq verify`).
 *
 * FILE.tsv: one header line, then one line per image, each written with one write as soon as the image is done:
 *   idx<TAB>label<TAB>predict<TAB><eps_1>...<eps_k><TAB>stage:<eps_1>...stage:<eps_k><TAB>time<TAB>splits
 * - predict: the integer plan's class of the clean image (an image it misclassifies is falsified at every radius);
 * - one outcome column per radius, named as the radius was given ("1/255"): verified, falsified or timeout;
 * - one stage column per radius: what decided it (verify.ts's STAGES);
 * - time: seconds spent on the image over all radii; splits: input splits of the branch and bound over all radii.
 * A final line without its newline is an interrupted write: readers drop it, and resuming truncates it away.
 * FILE.settings.json (compared on resume) and FILE.summary.json sit beside it, named as certify names them.
 */
import { readFileSync } from 'node:fs';
import type { JsonValue } from '../smoothing/results.js';
import { ArqError } from '../util/errors.js';
import { TsvAppender } from '../util/tsv-appender.js';
import { OUTCOMES, STAGES, type ImageVerification, type Outcome, type Stage } from './verify.js';

/** One image's line of FILE.tsv. */
export interface VerifyRow {
  readonly idx: number;
  readonly label: number;
  readonly predict: number;
  /** Per radius, in the order of the header. */
  readonly outcomes: readonly Outcome[];
  readonly stages: readonly Stage[];
  readonly time: number;
  readonly splits: number;
}

/** Counts per radius, as fractions of the images (cli.md), and which stage decided how many images. */
export interface RadiusSummary {
  verified: number;
  falsified: number;
  timeouts: number;
  decided_by: Record<Stage, number>;
}

/** FILE.summary.json (and `arq verify --json`). */
export interface VerifySummary {
  images: number;
  /** Fraction of images the integer plan classifies correctly (clean). */
  clean_accuracy: number;
  /** Per radius as given ("4/255"). */
  results: Record<string, RadiusSummary>;
  /** Total verification time (sum of the time column) and its mean per image. */
  seconds: number;
  seconds_per_image: number;
  /** Branch-and-bound input splits over all images and radii. */
  splits: number;
  settings: { [key: string]: JsonValue };
}

export function verifyHeader(eps: readonly string[]): string {
  return ['idx', 'label', 'predict', ...eps, ...eps.map((e) => `stage:${e}`), 'time', 'splits'].join('\t');
}

export function rowOf(image: ImageVerification): VerifyRow {
  return {
    idx: image.idx, label: image.label, predict: image.prediction,
    outcomes: image.results.map((r) => r.outcome), stages: image.results.map((r) => r.stage),
    time: Number(image.seconds.toFixed(4)), splits: image.splits,
  };
}

export function formatVerifyRow(row: VerifyRow): string {
  return [row.idx, row.label, row.predict, ...row.outcomes, ...row.stages, row.time.toFixed(4), row.splits].join('\t');
}

/** Parses one line of a file with `k` radii; `where` names it in errors. */
export function parseVerifyRow(line: string, k: number, where: string): VerifyRow {
  const fields = line.split('\t');
  if (fields.length !== 5 + 2 * k) throw new ArqError(`${where}: expected ${5 + 2 * k} tab-separated fields, got ${fields.length}`);
  const integer = (i: number, name: string, min: number) => {
    const value = Number(fields[i]);
    if (fields[i].trim() === '' || !Number.isInteger(value) || value < min) throw new ArqError(`${where}: ${name} must be an integer >= ${min}, got ${JSON.stringify(fields[i])}`);
    return value;
  };
  const oneOf = <T extends string>(i: number, choices: readonly T[], name: string): T => {
    if (!(choices as readonly string[]).includes(fields[i])) throw new ArqError(`${where}: ${name} must be one of ${choices.join(', ')}, got ${JSON.stringify(fields[i])}`);
    return fields[i] as T;
  };
  const time = Number(fields[3 + 2 * k]);
  if (fields[3 + 2 * k].trim() === '' || !(time >= 0)) throw new ArqError(`${where}: time must be a number >= 0, got ${JSON.stringify(fields[3 + 2 * k])}`);
  return {
    idx: integer(0, 'idx', 0), label: integer(1, 'label', 0), predict: integer(2, 'predict', 0),
    outcomes: Array.from({ length: k }, (_, j) => oneOf(3 + j, OUTCOMES, 'an outcome')),
    stages: Array.from({ length: k }, (_, j) => oneOf(3 + k + j, STAGES, 'a stage')),
    time, splits: integer(4 + 2 * k, 'splits', 0),
  };
}

/**
 * Reads a verification FILE.tsv of the radii `eps`: its header must be theirs; a final partial line (an interrupted
 * write) is dropped; `validBytes` is the length of the header and complete lines. `context` prefixes the header error.
 */
export function readVerifyResults(path: string, eps: readonly string[], context = ''): { rows: VerifyRow[]; partial: boolean; validBytes: number } {
  const header = verifyHeader(eps);
  const text = readFileSync(path, 'utf8');
  const end = text.lastIndexOf('\n') + 1;
  const lines = text.slice(0, end).split('\n');
  lines.pop();
  if (lines.length === 0) return { rows: [], partial: end < text.length, validBytes: 0 };
  if (lines[0] !== header) throw new ArqError(`${path}: ${context}line 1 is ${JSON.stringify(lines[0].slice(0, 120))}, expected ${JSON.stringify(header)}`);
  const seen = new Set<number>();
  const rows = lines.slice(1).map((line, i) => {
    const row = parseVerifyRow(line, eps.length, `${path} line ${i + 2}`);
    if (seen.has(row.idx)) throw new ArqError(`${path} line ${i + 2}: image ${row.idx} appears twice`);
    seen.add(row.idx);
    return row;
  });
  return { rows, partial: end < text.length, validBytes: Buffer.byteLength(text.slice(0, end)) };
}

/** FILE.tsv of verification rows at the radii `eps`, appended one line at a time (resumable: see TsvAppender.open). */
export type VerifyResultsWriter = TsvAppender<VerifyRow>;
export const VerifyResultsWriter = {
  open: (path: string, eps: readonly string[], options: { resume?: boolean } = {}): VerifyResultsWriter =>
    TsvAppender.open(path, { header: verifyHeader(eps), format: formatVerifyRow, read: (file) => readVerifyResults(file, eps, 'cannot resume: ') }, options),
};

/** The summary of rows verified at the radii `eps` (the rows' column order). */
export function summarizeVerification(rows: readonly VerifyRow[], eps: readonly string[], settings: { [key: string]: JsonValue }): VerifySummary {
  const images = rows.length;
  const fraction = (count: number) => (images === 0 ? 0 : count / images);
  const results: Record<string, RadiusSummary> = {};
  eps.forEach((e, j) => {
    const decided = Object.fromEntries(STAGES.map((s) => [s, rows.filter((r) => r.stages[j] === s).length])) as Record<Stage, number>;
    results[e] = {
      verified: fraction(rows.filter((r) => r.outcomes[j] === 'verified').length),
      falsified: fraction(rows.filter((r) => r.outcomes[j] === 'falsified').length),
      timeouts: fraction(rows.filter((r) => r.outcomes[j] === 'timeout').length),
      decided_by: decided,
    };
  });
  const seconds = rows.reduce((s, r) => s + r.time, 0);
  return {
    images,
    clean_accuracy: fraction(rows.filter((r) => r.predict === r.label).length),
    results,
    seconds,
    seconds_per_image: images === 0 ? 0 : seconds / images,
    splits: rows.reduce((s, r) => s + r.splits, 0),
    settings,
  };
}
