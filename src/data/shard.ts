/**
 * Static shards of a selection, for batch schedulers (Slurm arrays, Kubernetes Indexed Jobs): shard i of k
 * (0 <= i < k, as SLURM_ARRAY_TASK_ID from 0 and JOB_COMPLETION_INDEX number them) is one contiguous run of the
 * selection's positions, so k shards written in order and concatenated are the selection in order.
 */
import { integerInRange } from '../util/check.js';
import { ArqError } from '../util/errors.js';

/** Shard `index` of `count` (0 <= index < count). */
export interface Shard {
  /** 0 <= index < count. */
  readonly index: number;
  /** How many shards the selection is split into. */
  readonly count: number;
}

/** At most this many shards (a cap on a typo such as 0/1000000000, not on any real scheduler). */
export const MAX_SHARDS = 1_000_000;

/** Parses `i/k` (0 <= i < k <= MAX_SHARDS). */
export function parseShard(text: string): Shard {
  const match = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  if (!match) throw new ArqError(`shard: expected i/k with 0 <= i < k (e.g. 0/4), got ${JSON.stringify(text)}`);
  const count = integerInRange('shard count', Number(match[2]), 1, MAX_SHARDS);
  const index = Number(match[1]);
  if (index >= count) throw new ArqError(`shard: the index must be below the count (shards are numbered 0 to ${count - 1}), got ${text.trim()}`);
  return { index, count };
}

/** The positions [start, end) of shard `shard` in a selection of `total` images (sizes differ by at most one). */
export function shardRange(total: number, shard: Shard): { start: number; end: number } {
  return { start: Math.floor((shard.index * total) / shard.count), end: Math.floor(((shard.index + 1) * total) / shard.count) };
}

/** How a shard is recorded in its FILE.settings.json (compared on resume; read by `arq merge`). */
export interface ShardSetting {
  index: number;
  count: number;
  /** Its positions [start, end) in the selection of `images` images. */
  start: number;
  end: number;
  images: number;
}

export function shardSetting(total: number, shard: Shard): ShardSetting {
  return { index: shard.index, count: shard.count, ...shardRange(total, shard), images: total };
}
