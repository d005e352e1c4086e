/**
 * The IRS cache: what certifying f leaves for incremental certification of a modified f' (irs.ts).
 *
 * Format (UTF-8 JSON lines, one object per line, each line ending in "\n"):
 * - line 1, the header: {"format":"arq-irs-cache","version":1,"settings":{...}} where settings holds at least
 *   sigma, seed, n0, n, alpha, model (sha256 of f's file), data (dataset name) and engine (f's engine), plus any
 *   further settings of f's run;
 * - then one record per image, appended and flushed as the image is certified:
 *   {"idx":I,"label":L,"classA":C,"pALower":P,"prediction":C or -1,"radius":R,"seconds":S,
 *    "predictions":"<base64 of n bytes>","check":"<16 hex digits>"}
 *   idx is the dataset index (the noise's image index), classA the class f selected on its n0 selection samples,
 *   pALower f's one-sided (1 - alpha) Clopper-Pearson bound for it, prediction/radius f's certificate, and
 *   predictions f's class on estimation samples n0 .. n0+n-1, one byte each. check is the first 16 hex digits of
 *   the sha256 of the record's JSON text without the check field (JSON.stringify, keys in the order above).
 * A final line without its newline is an interrupted write: reading rejects it unless `allowTruncated` (used when
 * a cache is resumed, which cuts it away); any other bad line is reported as corruption with its line number.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, truncateSync, writeSync } from 'node:fs';
import { ArqError } from '../util/errors.js';
import type { JsonValue } from './results.js';

export const IRS_CACHE_FORMAT = 'arq-irs-cache';
export const IRS_CACHE_VERSION = 1;

/** Settings of the run of f that wrote a cache. */
export interface IrsCacheSettings {
  sigma: number;
  /** The noise seed (number, or decimal string for seeds beyond 2^53). */
  seed: number | string;
  n0: number;
  n: number;
  alpha: number;
  /** sha256 of f's model file. */
  model: string;
  /** Dataset name (Dataset.name). */
  data: string;
  /** f's engine. */
  engine: string;
  [key: string]: JsonValue;
}

/** One image's record. */
export interface IrsCacheEntry {
  idx: number;
  label: number;
  classA: number;
  pALower: number;
  /** f's certificate: class or -1, and radius. */
  prediction: number;
  radius: number;
  /** Seconds f's certification took. */
  seconds: number;
  /** f's class on estimation samples n0 .. n0+n-1. */
  predictions: Uint8Array;
}

export interface IrsCache {
  path: string;
  settings: IrsCacheSettings;
  /** Records by dataset index. */
  entries: Map<number, IrsCacheEntry>;
  /** True when a final partial record was dropped (only with allowTruncated). */
  truncated: boolean;
  /** Bytes of the header and complete records. */
  validBytes: number;
}

const REQUIRED: readonly [keyof IrsCacheSettings, 'number' | 'string' | 'seed'][] = [
  ['sigma', 'number'], ['seed', 'seed'], ['n0', 'number'], ['n', 'number'], ['alpha', 'number'],
  ['model', 'string'], ['data', 'string'], ['engine', 'string'],
];

function digest(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

function encodeRecord(entry: IrsCacheEntry): string {
  const body = JSON.stringify({
    idx: entry.idx, label: entry.label, classA: entry.classA, pALower: entry.pALower, prediction: entry.prediction,
    radius: entry.radius, seconds: entry.seconds, predictions: Buffer.from(entry.predictions.buffer, entry.predictions.byteOffset, entry.predictions.byteLength).toString('base64'),
  });
  return `${body.slice(0, -1)},"check":"${digest(body)}"}`;
}

function checkSettings(value: unknown, where: string): IrsCacheSettings {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ArqError(`${where}: the header has no settings object`);
  const s = value as Record<string, unknown>;
  for (const [key, type] of REQUIRED) {
    const v = s[key];
    const ok = type === 'seed' ? typeof v === 'number' || typeof v === 'string' : typeof v === type;
    if (!ok) throw new ArqError(`${where}: header setting ${key} is missing or not a ${type === 'seed' ? 'number or string' : type}`);
  }
  if (!Number.isInteger(s.n) || (s.n as number) < 1) throw new ArqError(`${where}: header setting n must be a positive integer, got ${String(s.n)}`);
  if (!Number.isInteger(s.n0) || (s.n0 as number) < 0) throw new ArqError(`${where}: header setting n0 must be a non-negative integer, got ${String(s.n0)}`);
  return s as IrsCacheSettings;
}

function decodeRecord(line: string, settings: IrsCacheSettings, where: string): IrsCacheEntry {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    throw new ArqError(`${where}: corrupted record (not valid JSON)`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new ArqError(`${where}: corrupted record (not an object)`);
  const { check, ...rest } = parsed as Record<string, unknown>;
  if (typeof check !== 'string' || digest(JSON.stringify(rest)) !== check) throw new ArqError(`${where}: corrupted record (checksum mismatch)`);
  const r = rest as Record<string, unknown>;
  const int = (key: string, min: number, max: number): number => {
    const v = r[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new ArqError(`${where}: ${key} must be an integer in [${min}, ${max}], got ${String(v)}`);
    return v;
  };
  const num = (key: string, min: number, max: number): number => {
    const v = r[key];
    if (typeof v !== 'number' || !(v >= min && v <= max)) throw new ArqError(`${where}: ${key} must be a number in [${min}, ${max}], got ${String(v)}`);
    return v;
  };
  if (typeof r.predictions !== 'string') throw new ArqError(`${where}: predictions must be a base64 string`);
  const bytes = Buffer.from(r.predictions, 'base64');
  if (bytes.length !== settings.n) throw new ArqError(`${where}: ${bytes.length} recorded predictions, the header says n = ${settings.n}`);
  return {
    idx: int('idx', 0, 2 ** 32 - 1), label: int('label', 0, Number.MAX_SAFE_INTEGER), classA: int('classA', 0, 255),
    pALower: num('pALower', 0, 1), prediction: int('prediction', -1, 255), radius: num('radius', 0, Infinity),
    seconds: num('seconds', 0, Infinity), predictions: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length),
  };
}

/**
 * Reads and validates a cache. Throws an ArqError naming the file and line on a bad header, a corrupted record, a
 * duplicate image, or (unless `allowTruncated`) a truncated final record.
 */
export function readIrsCache(path: string, options: { allowTruncated?: boolean } = {}): IrsCache {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ArqError(`cannot read IRS cache ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  return parseIrsCache(text, path, options);
}

/** A cache from its text (a file's, or bytes that travelled elsewhere), `path` naming it in errors; as readIrsCache. */
export function parseIrsCache(text: string, path: string, options: { allowTruncated?: boolean } = {}): IrsCache {
  const end = text.lastIndexOf('\n') + 1;
  const truncated = end < text.length;
  const lines = text.slice(0, end).split('\n');
  lines.pop();
  if (lines.length === 0) throw new ArqError(`IRS cache ${path} has no complete header line${text.length === 0 ? ' (empty file)' : ' (truncated)'}`);
  let header: unknown;
  try {
    header = JSON.parse(lines[0]);
  } catch {
    throw new ArqError(`${path}: not an IRS cache (line 1 is not a JSON header)`);
  }
  const h = header as Record<string, unknown> | null;
  if (typeof h !== 'object' || h === null || h.format !== IRS_CACHE_FORMAT) throw new ArqError(`${path}: not an IRS cache (expected format "${IRS_CACHE_FORMAT}" in the header)`);
  if (h.version !== IRS_CACHE_VERSION) throw new ArqError(`${path}: IRS cache version ${String(h.version)} is not supported (expected ${IRS_CACHE_VERSION})`);
  const settings = checkSettings(h.settings, path);
  if (truncated && !options.allowTruncated) {
    throw new ArqError(`${path}: the last record (line ${lines.length + 1}) is truncated: the run writing the cache was interrupted; resume it to complete the cache`);
  }
  const entries = new Map<number, IrsCacheEntry>();
  for (let i = 1; i < lines.length; i++) {
    const entry = decodeRecord(lines[i], settings, `${path} line ${i + 1}`);
    if (entries.has(entry.idx)) throw new ArqError(`${path} line ${i + 1}: image ${entry.idx} appears twice`);
    entries.set(entry.idx, entry);
  }
  return { path, settings, entries, truncated, validBytes: Buffer.byteLength(text.slice(0, end)) };
}

/** Settings that must agree between a cache and a run that uses it; returns a message per difference. */
export function settingsDifferences(actual: { [key: string]: JsonValue | undefined }, expected: { [key: string]: JsonValue | undefined }, keys: readonly string[] = Object.keys(expected)): string[] {
  const out: string[] = [];
  for (const key of keys) {
    const a = JSON.stringify(actual[key] ?? null);
    const e = JSON.stringify(expected[key] ?? null);
    if (a !== e) out.push(`${key} ${a} (now ${e})`);
  }
  return out;
}

/**
 * Throws unless the cache was written with the given settings (compared as JSON): e.g. for incremental
 * certification sigma, seed, n0 and data must agree, or the cached noise would not be the noise f' sees.
 */
export function checkIrsCacheSettings(cache: IrsCache, expected: Partial<IrsCacheSettings>): void {
  const diff = settingsDifferences(cache.settings, expected);
  if (diff.length) throw new ArqError(`IRS cache ${cache.path} was written with different settings: ${diff.join(', ')}`);
}

/** Appends records to a cache, one write (one flush to the OS) per image. */
export class IrsCacheWriter {
  private constructor(private fd: number | null, readonly path: string, readonly settings: IrsCacheSettings, readonly existing: ReadonlySet<number>) {}

  /**
   * Creates (or replaces) a cache with its header; with `resume` and an existing file, checks that its settings
   * equal `settings`, cuts away a truncated final record and appends after the complete ones (`existing` lists
   * the images already there).
   */
  static open(path: string, settings: IrsCacheSettings, options: { resume?: boolean } = {}): IrsCacheWriter {
    checkSettings(settings, 'IRS cache settings');
    if (options.resume && existsSync(path) && readFileSync(path).includes(10)) {
      const cache = readIrsCache(path, { allowTruncated: true });
      const diff = settingsDifferences(cache.settings, settings, [...new Set([...Object.keys(cache.settings), ...Object.keys(settings)])]);
      if (diff.length) throw new ArqError(`cannot resume IRS cache ${path}: it was written with different settings: ${diff.join(', ')}`);
      truncateSync(path, cache.validBytes);
      return new IrsCacheWriter(openSync(path, 'a'), path, cache.settings, new Set(cache.entries.keys()));
    }
    let fd: number;
    try {
      fd = openSync(path, 'w');
    } catch (error) {
      throw new ArqError(`cannot write IRS cache ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
    writeSync(fd, `${JSON.stringify({ format: IRS_CACHE_FORMAT, version: IRS_CACHE_VERSION, settings })}\n`);
    return new IrsCacheWriter(fd, path, settings, new Set());
  }

  append(entry: IrsCacheEntry): void {
    if (this.fd === null) throw new ArqError(`IRS cache ${this.path} is closed`);
    if (entry.predictions.length !== this.settings.n) throw new ArqError(`IRS cache: image ${entry.idx} has ${entry.predictions.length} predictions, expected n = ${this.settings.n}`);
    writeSync(this.fd, `${encodeRecord(entry)}\n`);
  }

  close(): void {
    if (this.fd === null) return;
    fsyncSync(this.fd);
    closeSync(this.fd);
    this.fd = null;
  }
}
