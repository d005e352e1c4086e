// Edges of search recovery and the knapsack that StrykerJS found unchecked: a checkpoint that is JSON null, null
// settings, zero episodes done; blank lines and lines of a search the checkpoint does not know in episodes.jsonl;
// closing the log twice; the knapsack's refusals of no layers and of a non-finite sensitivity.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CHECKPOINT_FORMAT, checkpointPath, EpisodeLog, episodesPath, readCheckpoint, type Checkpoint } from '../../src/search/checkpoint.js';
import { sensitivityKnapsack } from '../../src/search/knapsack.js';
import type { EpisodeRecord, SearchName } from '../../src/report/types.js';

const dir = mkdtempSync(path.join(tmpdir(), 'arq-checkpoint-edges-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = checkpointPath(dir);

const record = (search: SearchName, episode: number): EpisodeRecord => ({
  search, episode, warmup: false, actions: [0.5], policy: [{ name: 'l', wbits: 4, abits: 4 }], repair: { lowered: 0, bitops_removed_percent: 0 },
  bitops_percent: 1.5, reward: 0, reward_parts: {}, timings: { quantize: 0, finetune: 0, certify: 0, agent: 0, total: 0 },
});

describe('readCheckpoint edges', () => {
  it('refuses JSON null and null settings naming the file; zero episodes done is valid', () => {
    writeFileSync(file, 'null');
    expect(() => readCheckpoint(dir)).toThrow(`${file}: not an arq search checkpoint (format undefined)`);
    const good = { format: CHECKPOINT_FORMAT, settings: { seed: 0 }, searches: { arq: { episodes: 0, best: null, state: null } } };
    writeFileSync(file, JSON.stringify({ ...good, settings: null }));
    expect(() => readCheckpoint(dir)).toThrow(`${file}: not a valid checkpoint (settings and searches must be objects)`);
    writeFileSync(file, JSON.stringify(good));
    expect(readCheckpoint(dir)).toEqual(good);
  });
});

describe('EpisodeLog edges', () => {
  it('skips blank lines, drops lines of a search the checkpoint has not started, and closes twice', () => {
    const checkpoint: Checkpoint = { format: CHECKPOINT_FORMAT, settings: {}, searches: { arq: { episodes: 2, best: null, state: null } } };
    const lines = [record('arq', 0), record('random', 0), record('arq', 1)].map((r) => JSON.stringify(r));
    const logDir = mkdtempSync(path.join(dir, 'log-'));
    writeFileSync(episodesPath(logDir), `${lines[0]}\n\n${lines[1]}\n  \n${lines[2]}\n`);
    const opened = EpisodeLog.open(logDir, checkpoint);
    expect(opened.records.map((r) => [r.search, r.episode])).toEqual([['arq', 0], ['arq', 1]]);
    expect(readFileSync(episodesPath(logDir), 'utf8')).toBe(`${lines[0]}\n${lines[2]}\n`);
    opened.close();
    expect(() => opened.close()).not.toThrow();
  });
});

describe('sensitivityKnapsack refusals', () => {
  const layer = (weights: number[]) => ({ macs: 10, pinned: false, weights, activations: [0, 0, 0, 0, 0, 0, 0, 0, 0] });
  it('refuses no layers and a sensitivity that is not finite, naming the widths', () => {
    expect(() => sensitivityKnapsack([], 1e9, 2, 8)).toThrow(/^knapsack: no layers$/);
    const weights = [0, 0, 1, 1, NaN, 1, 1, 1, 1];
    expect(() => sensitivityKnapsack([layer(weights)], 1e9, 2, 8)).toThrow(/^knapsack: no finite sensitivity at W4A2$/);
  });
});
