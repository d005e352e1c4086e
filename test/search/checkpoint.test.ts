// Search directory recovery: which episode lines a resumed search keeps, and what it refuses.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkpointPath, checkResumable, EpisodeLog, episodesPath, readCheckpoint, writeCheckpoint, type Checkpoint } from '../../src/search/checkpoint.js';
import type { EpisodeRecord, SearchName } from '../../src/report/types.js';

const tempDir = () => mkdtempSync(path.join(tmpdir(), 'arq-checkpoint-'));

const record = (search: SearchName, episode: number): EpisodeRecord => ({
  search, episode, warmup: false, actions: [0.5, 0.5], policy: [{ name: 'l', wbits: 4, abits: 4 }], repair: { lowered: 0, bitops_removed_percent: 0 },
  bitops_percent: 1.5, reward: 1 - episode / 100, reward_parts: {}, timings: { quantize: 0, finetune: 0, certify: 0, agent: 0, total: 0 },
});

const checkpoint = (done: Partial<Record<SearchName, number>>): Checkpoint => ({
  format: 'arq-search-checkpoint/1', settings: { sigma: 0.25 },
  searches: Object.fromEntries(Object.entries(done).map(([name, episodes]) => [name, { episodes, best: null, state: null }])),
});

const lines = (records: EpisodeRecord[]) => records.map((r) => `${JSON.stringify(r)}\n`).join('');
const onDisk = (dir: string) => readFileSync(episodesPath(dir), 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as EpisodeRecord);

describe('EpisodeLog.open', () => {
  it('keeps exactly the episodes the checkpoint counts, per search, and drops the lines past it', () => {
    const dir = tempDir();
    const written = [record('arq', 0), record('arq', 1), record('arq', 2), record('haq', 0), record('haq', 1)];
    writeFileSync(episodesPath(dir), lines(written));
    const log = EpisodeLog.open(dir, checkpoint({ arq: 2, haq: 1 }));
    const kept = [record('arq', 0), record('arq', 1), record('haq', 0)];
    expect(log.records).toEqual(kept);
    expect(onDisk(dir)).toEqual(kept);
    log.append(record('haq', 1));
    log.close();
    expect(onDisk(dir)).toEqual([...kept, record('haq', 1)]);
  });

  it('drops a truncated last line (a kill mid-write) but rejects a corrupt line before it, naming the line', () => {
    const dir = tempDir();
    writeFileSync(episodesPath(dir), `${lines([record('arq', 0), record('arq', 1)])}{"search":"arq","epi`);
    const log = EpisodeLog.open(dir, checkpoint({ arq: 2 }));
    log.close();
    expect(log.records).toEqual([record('arq', 0), record('arq', 1)]);
    writeFileSync(episodesPath(dir), `${lines([record('arq', 0)])}not json\n${lines([record('arq', 1)])}`);
    expect(() => EpisodeLog.open(dir, checkpoint({ arq: 2 }))).toThrow(/episodes\.jsonl: line 2 is not valid JSON/);
  });

  it('starts empty without a checkpoint (a fresh search), whatever the file held', () => {
    const dir = tempDir();
    writeFileSync(episodesPath(dir), lines([record('arq', 0)]));
    const log = EpisodeLog.open(dir, null);
    log.close();
    expect(log.records).toEqual([]);
    expect(readFileSync(episodesPath(dir), 'utf8')).toBe('');
  });
});

describe('checkpoint.json', () => {
  it('round-trips, and rejects a corrupt or foreign file with its path', () => {
    const dir = tempDir();
    expect(readCheckpoint(dir)).toBeNull();
    const value = checkpoint({ arq: 3 });
    writeCheckpoint(dir, value);
    expect(readCheckpoint(dir)).toEqual(value);
    writeFileSync(checkpointPath(dir), '{"format": "arq-search-checkpoint/1", "sett');
    expect(() => readCheckpoint(dir)).toThrow(new RegExp(`${checkpointPath(dir).replace(/[/.]/g, '\\$&')}: not a valid checkpoint`));
    writeFileSync(checkpointPath(dir), '{"format": "something-else"}');
    expect(() => readCheckpoint(dir)).toThrow(/not an arq search checkpoint \(format "something-else"\)/);
  });

  it('refuses to resume with different settings, naming each difference', () => {
    expect(() => checkResumable(checkpoint({}), { sigma: 0.5 }, '/runs/x')).toThrow(/cannot resume the search in \/runs\/x: .*sigma/);
    expect(() => checkResumable(checkpoint({}), { sigma: 0.25 }, '/runs/x')).not.toThrow();
  });
});
