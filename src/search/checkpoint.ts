/**
 * What a search leaves in its directory so that a killed run resumes and loses nothing (search.md, Outputs):
 * - episodes.jsonl: one EpisodeRecord per line, appended and flushed as each episode ends;
 * - checkpoint.json: the settings, and per search the episodes done, the best episode and the agent's (or the
 *   random search's) full state, rewritten atomically after each episode's line.
 * An episode whose line was written but whose checkpoint was not (a kill in between) is dropped on resume and run
 * again; since everything is seeded, it comes out the same.
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { ArqError } from '../util/errors.js';
import { writeFileAtomic } from '../util/files.js';
import { settingsDifferences } from '../smoothing/irs-cache.js';
import type { JsonValue } from '../smoothing/results.js';
import type { EpisodeRecord, Rescoring, SearchName } from '../report/types.js';

export const CHECKPOINT_FORMAT = 'arq-search-checkpoint/1';

export interface SearchProgress {
  /** Episodes finished (their lines are in episodes.jsonl). */
  episodes: number;
  best: EpisodeRecord | null;
  /** The agent's or the random search's state after the last finished episode. */
  state: JsonValue;
}

export interface Checkpoint {
  format: typeof CHECKPOINT_FORMAT;
  /** The settings that shape the results (compared on resume). */
  settings: { [key: string]: JsonValue };
  searches: Partial<Record<SearchName, SearchProgress>>;
  /** Per finished search, the re-scoring of its top candidates (kept so that a resumed run does not redo it). */
  rescoring?: Partial<Record<SearchName, Rescoring>>;
}

export const checkpointPath = (dir: string): string => path.join(dir, 'checkpoint.json');
export const episodesPath = (dir: string): string => path.join(dir, 'episodes.jsonl');

export function readCheckpoint(dir: string): Checkpoint | null {
  const file = checkpointPath(dir);
  if (!existsSync(file)) return null;
  let value: Checkpoint;
  try {
    value = JSON.parse(readFileSync(file, 'utf8')) as Checkpoint;
  } catch (error) {
    throw new ArqError(`${file}: not a valid checkpoint (${(error as Error).message})`);
  }
  if (value?.format !== CHECKPOINT_FORMAT || typeof value.settings !== 'object' || typeof value.searches !== 'object') {
    throw new ArqError(`${file}: not an arq search checkpoint (format ${JSON.stringify(value?.format)})`);
  }
  const isObject = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (value.settings === null || value.searches === null) throw new ArqError(`${file}: not a valid checkpoint (settings and searches must be objects)`);
  for (const [name, progress] of Object.entries(value.searches)) {
    if (!isObject(progress) || !Number.isInteger(progress.episodes) || progress.episodes < 0 || !(progress.best === null || isObject(progress.best)) || !(progress.state === null || isObject(progress.state))) {
      throw new ArqError(`${file}: not a valid checkpoint (search ${name}: episodes, best and state are damaged)`);
    }
  }
  return value;
}

/**
 * Rejects resuming a checkpoint written with other settings, naming every difference, except in `free` settings
 * (which shape only what a resume redoes).
 */
export function checkResumable(checkpoint: Checkpoint, settings: { [key: string]: JsonValue }, dir: string, free: readonly string[] = []): void {
  const keys = [...new Set([...Object.keys(checkpoint.settings), ...Object.keys(settings)])].filter((key) => !free.includes(key));
  const diff = settingsDifferences(checkpoint.settings, settings, keys);
  if (diff.length) throw new ArqError(`cannot resume the search in ${dir}: it was started with different settings: ${diff.join(', ')}`);
}

export function writeCheckpoint(dir: string, checkpoint: Checkpoint): void {
  writeFileAtomic(checkpointPath(dir), `${JSON.stringify(checkpoint)}\n`);
}

/** episodes.jsonl, opened for appending after keeping only the episodes `checkpoint` counts. */
export class EpisodeLog {
  private constructor(private fd: number, readonly records: EpisodeRecord[]) {}

  static open(dir: string, checkpoint: Checkpoint | null): EpisodeLog {
    const file = episodesPath(dir);
    const kept: EpisodeRecord[] = [];
    if (checkpoint && existsSync(file)) {
      const lines = readFileSync(file, 'utf8').split('\n');
      lines.forEach((line, i) => {
        if (line.trim() === '') return;
        let record: EpisodeRecord;
        try {
          record = JSON.parse(line) as EpisodeRecord;
        } catch {
          if (i === lines.length - 1) return; // an interrupted final write
          throw new ArqError(`${file}: line ${i + 1} is not valid JSON`);
        }
        if (record.episode < (checkpoint.searches[record.search]?.episodes ?? 0)) kept.push(record);
      });
    }
    writeFileAtomic(file, kept.map((r) => `${JSON.stringify(r)}\n`).join(''));
    return new EpisodeLog(openSync(file, 'a'), kept);
  }

  append(record: EpisodeRecord): void {
    writeSync(this.fd, `${JSON.stringify(record)}\n`);
    fsyncSync(this.fd);
    this.records.push(record);
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}
