/**
 * `arq merge`: the shards of one run (certify or verify with --shard i/k, data/shard.ts) joined into the files a
 * single run writes: FILE.tsv (rows in selection order), FILE.settings.json (without the shard) and FILE.summary.json.
 * Each shard's FILE.settings.json says which run and which positions of its selection it holds; shards of another
 * run, overlapping or missing shards and unfinished shards are refused, naming the files.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { ShardSetting } from '../data/index.js';
import { settingsDifferences } from '../smoothing/irs-cache.js';
import { formatResultRow, formatSummary, readResults, RESULT_HEADER, settingsPath, summarize, summaryPath, type JsonValue } from '../smoothing/results.js';
import { ArqError } from '../util/errors.js';
import { writeFileAtomic } from '../util/files.js';
import { formatVerifyRow, readVerifyResults, summarizeVerification, verifyHeader } from '../verify/results.js';

type Settings = { [key: string]: JsonValue };

/** One shard as its files describe it. */
interface ShardFile {
  readonly path: string;
  readonly shard: ShardSetting;
  /** Its compared and recorded settings without the shard: equal across the shards of one run. */
  readonly compared: Settings;
  readonly settings: Settings;
}

export interface MergeResult {
  readonly kind: 'certify' | 'verify';
  readonly images: number;
  readonly shards: number;
  readonly summaryPath: string;
}

function withoutShard(settings: Settings): Settings {
  return Object.fromEntries(Object.entries(settings).filter(([key]) => key !== 'shard'));
}

function isShardSetting(value: JsonValue | undefined): value is ShardSetting & Settings {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const { index, count, start, end, images } = value;
  const int = (x: JsonValue | undefined): x is number => typeof x === 'number' && Number.isInteger(x) && x >= 0;
  return int(index) && int(count) && int(start) && int(end) && int(images) && index < count && start <= end && end <= images;
}

function readShardFile(path: string): ShardFile {
  const sidecar = settingsPath(path);
  if (!existsSync(path)) throw new ArqError(`merge: ${path} does not exist`);
  if (!existsSync(sidecar)) throw new ArqError(`merge: ${sidecar} is missing: arq merge reads the settings file each shard writes beside its results`);
  let parsed: { compared?: unknown; settings?: unknown };
  try {
    parsed = JSON.parse(readFileSync(sidecar, 'utf8')) as typeof parsed;
  } catch (error) {
    throw new ArqError(`merge: ${sidecar} is not a valid settings file (${(error as Error).message})`);
  }
  const object = (x: unknown): x is Settings => typeof x === 'object' && x !== null && !Array.isArray(x);
  if (!object(parsed.compared) || !object(parsed.settings)) throw new ArqError(`merge: ${sidecar} is not a valid settings file (no compared or recorded settings)`);
  const shard = parsed.compared.shard;
  if (shard === undefined) throw new ArqError(`merge: ${path} is not a shard: it was written without --shard i/k`);
  if (!isShardSetting(shard)) throw new ArqError(`merge: ${sidecar} has an invalid shard record: ${JSON.stringify(shard)}`);
  return { path, shard, compared: withoutShard(parsed.compared), settings: withoutShard(parsed.settings) };
}

const span = (s: ShardSetting) => `shard ${s.index}/${s.count} (selection positions ${s.start} to ${s.end - 1})`;

/** Throws unless `files` are every shard of one run, once each; returns them in shard order. */
function checkShards(files: readonly ShardFile[]): ShardFile[] {
  const [first] = files;
  for (const other of files.slice(1)) {
    const keys = [...new Set([...Object.keys(first.compared), ...Object.keys(other.compared)])];
    const diff = settingsDifferences(other.compared, first.compared, keys).map((d) => d.replace(' (now ', ` (in ${first.path}: `));
    if (diff.length) throw new ArqError(`merge: ${other.path} and ${first.path} are not shards of one run: ${other.path} has ${diff.join(', ')}`);
    if (other.shard.count !== first.shard.count || other.shard.images !== first.shard.images) {
      throw new ArqError(`merge: ${other.path} is one of ${other.shard.count} shards of ${other.shard.images} images, ${first.path} one of ${first.shard.count} shards of ${first.shard.images}: not shards of one run`);
    }
  }
  const sorted = [...files].sort((a, b) => a.shard.index - b.shard.index);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].shard.index === sorted[i - 1].shard.index) throw new ArqError(`merge: overlap: ${sorted[i - 1].path} and ${sorted[i].path} both hold ${span(sorted[i].shard)}`);
  }
  const have = new Set(sorted.map((f) => f.shard.index));
  const missing = Array.from({ length: first.shard.count }, (_, i) => i).filter((i) => !have.has(i));
  if (missing.length) {
    throw new ArqError(`merge: gap: ${missing.length} of ${first.shard.count} shards missing (${missing.slice(0, 8).map((i) => `${i}/${first.shard.count}`).join(', ')}${missing.length > 8 ? ', ...' : ''}): run them with --shard and merge all ${first.shard.count}`);
  }
  return sorted;
}

/**
 * Checks that a shard's rows are exactly its images in selection order (the selection takes every skip-th image,
 * so position p is image p * skip) and returns them.
 */
function shardRows<R extends { idx: number }>(file: ShardFile, rows: readonly R[], partial: boolean): R[] {
  const { start, end } = file.shard;
  const skip = file.compared.skip as number;
  const expected = end - start;
  if (partial || rows.length < expected) throw new ArqError(`merge: ${file.path} holds ${rows.length} of the ${expected} images of ${span(file.shard)}: it is unfinished; complete it with --resume`);
  if (rows.length > expected) throw new ArqError(`merge: ${file.path} holds ${rows.length} images, more than the ${expected} of ${span(file.shard)}`);
  rows.forEach((row, j) => {
    if (row.idx !== (start + j) * skip) throw new ArqError(`merge: ${file.path}: line ${j + 2} is image ${row.idx}, expected image ${(start + j) * skip} of ${span(file.shard)}`);
  });
  return [...rows];
}

/**
 * Merges the shards `inputs` (their TSV paths) of one run into `out`, writing the TSV, its settings and its summary
 * as a single run would. The caller checks that `out` may be written.
 */
export function mergeShards(inputs: readonly string[], out: string): MergeResult {
  if (inputs.length === 0) throw new ArqError('merge: give the shards\' results files');
  const files = checkShards(inputs.map(readShardFile));
  const { compared, settings } = files[0];
  const sidecar = `${JSON.stringify({ compared, settings }, null, 2)}\n`;
  if (Array.isArray(compared.eps)) {
    const eps = compared.eps.map(String);
    const rows = files.flatMap((f) => {
      const read = readVerifyResults(f.path, eps, 'not a shard of this verification: ');
      return shardRows(f, read.rows, read.partial);
    });
    writeFileAtomic(out, `${[verifyHeader(eps), ...rows.map(formatVerifyRow)].join('\n')}\n`);
    writeFileAtomic(settingsPath(out), sidecar);
    writeFileAtomic(summaryPath(out), `${JSON.stringify(summarizeVerification(rows, eps, settings), null, 2)}\n`);
    return { kind: 'verify', images: rows.length, shards: files.length, summaryPath: summaryPath(out) };
  }
  if (compared.mode !== 'certify') throw new ArqError(`merge: ${files[0].path} is neither a certification nor a verification (settings mode ${JSON.stringify(compared.mode ?? null)})`);
  const rows = files.flatMap((f) => {
    const read = readResults(f.path);
    return shardRows(f, read.rows, read.partial);
  });
  const samples = rows.length * ((compared.n0 as number) + (compared.n as number));
  writeFileAtomic(out, `${[RESULT_HEADER, ...rows.map(formatResultRow)].join('\n')}\n`);
  writeFileAtomic(settingsPath(out), sidecar);
  writeFileAtomic(summaryPath(out), formatSummary(summarize(rows, { samples, settings })));
  return { kind: 'certify', images: rows.length, shards: files.length, summaryPath: summaryPath(out) };
}
