// A damaged search checkpoint is an error naming the file (issue 13), before any search state is restored from it.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CHECKPOINT_FORMAT, checkpointPath, readCheckpoint } from '../../src/search/checkpoint.js';

const dir = mkdtempSync(path.join(tmpdir(), 'arq-checkpoint-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = checkpointPath(dir);

describe('readCheckpoint on damaged files', () => {
  it('names the file for truncated JSON, a foreign format, and damaged searches', () => {
    const good = { format: CHECKPOINT_FORMAT, settings: { seed: 0 }, searches: { arq: { episodes: 2, best: null, state: { format: 'x' } } } };
    writeFileSync(file, JSON.stringify(good));
    expect(readCheckpoint(dir)).toEqual(good);
    writeFileSync(file, JSON.stringify(good).slice(0, 40));
    expect(() => readCheckpoint(dir)).toThrow(new RegExp(`^${file}: not a valid checkpoint \\(`));
    writeFileSync(file, JSON.stringify({ ...good, format: 'other/1' }));
    expect(() => readCheckpoint(dir)).toThrow(`${file}: not an arq search checkpoint (format "other/1")`);
    for (const arq of [5, { ...good.searches.arq, episodes: -1 }, { ...good.searches.arq, state: 'garbage' }, { ...good.searches.arq, best: [1] }]) {
      writeFileSync(file, JSON.stringify({ ...good, searches: { arq } }));
      expect(() => readCheckpoint(dir)).toThrow(`${file}: not a valid checkpoint (search arq: episodes, best and state are damaged)`);
    }
    writeFileSync(file, JSON.stringify({ ...good, searches: null }));
    expect(() => readCheckpoint(dir)).toThrow(`${file}: not a valid checkpoint (settings and searches must be objects)`);
  });
});
