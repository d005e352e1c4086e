// --parallel K (episodes proposed per agent update) on the bundled model at toy sizes: a search killed between groups
// resumes to the uninterrupted search's episodes, K is part of the settings a resume compares, and K = 1 leaves the
// settings (and so the checkpoints of earlier searches) as they were.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { search, type SearchOptions } from '../../src/search/search.js';
import { bundledModelPath } from '../../src/onnx/model.js';
import type { EpisodeRecord } from '../../src/report/types.js';

const TOY: Omit<SearchOptions, 'out'> = {
  model: bundledModelPath(), data: 'mnist', reward: 'arq-soft', episodes: 6, warmup: 2, valImages: 6, cleanImages: 100, testImages: 4,
  n0: 20, n: 300, np: 30, finalN: 200, calibrationCount: 16, sensitivityImages: 8, sensitivityCopies: 2, rescore: 2, baselines: ['uniform'], seed: 5, threads: 2,
};

const tempDir = () => mkdtempSync(path.join(tmpdir(), 'arq-parallel-'));
const episodes = (dir: string): EpisodeRecord[] => readFileSync(path.join(dir, 'episodes.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as EpisodeRecord);
const outcome = (records: EpisodeRecord[]) => records.map(({ timings: _t, ...rest }) => rest);

describe('search --parallel', () => {
  it('resumes a search killed between groups of two episodes to the uninterrupted search\'s episodes', async () => {
    const whole = await search({ ...TOY, parallel: 2, out: tempDir() });
    expect(whole.report.settings.parallel).toBe(2);
    const dir = tempDir();
    const controller = new AbortController();
    const killed = search({ ...TOY, parallel: 2, out: dir, signal: controller.signal });
    killed.on('episode', ({ record }) => {
      if (record.episode === 3) controller.abort(new Error('killed'));
    });
    await expect(killed).rejects.toThrow('killed');
    expect(episodes(dir)).toHaveLength(4);
    await expect(search({ ...TOY, out: dir, resume: true })).rejects.toThrow(/different settings: parallel/);
    const { report } = await search({ ...TOY, parallel: 2, out: dir, resume: true });
    expect(outcome(report.episodes)).toEqual(outcome(whole.report.episodes));
    expect(report.arq!.certified_radii).toEqual(whole.report.arq!.certified_radii);

    // one episode per update: settings without `parallel`; the same warm-up and first episode after it (no update
    // precedes them), other proposals later
    const { report: single } = await search({ ...TOY, out: tempDir() });
    expect(single.settings).not.toHaveProperty('parallel');
    expect(single.episodes.slice(0, 3).map((r) => r.actions)).toEqual(whole.report.episodes.slice(0, 3).map((r) => r.actions));
    expect(single.episodes.map((r) => r.actions)).not.toEqual(whole.report.episodes.map((r) => r.actions));
  }, 240_000);
});
