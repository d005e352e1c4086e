// certifyDataset's refusals of options that do not go together (smoothing/run.ts), each by its own message and
// before any file is written, and the settings an IRS cache fixes: a base classifier given as a list
// (scripted-sampler.ts) keeps every run here to a few hundred samples. Then smoothPredictDataset over a selection, on
// a base classifier whose classes follow the image.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { makeDataset } from '../../src/data/index.js';
import { readIrsCache } from '../../src/smoothing/irs-cache.js';
import { certifyDataset, smoothPredictDataset, type CertifyDatasetOptions, type ImageResult, type RemoteCertifier } from '../../src/smoothing/run.js';
import type { Sampler } from '../../src/smoothing/sampler.js';
import { scriptedSampler } from '../support/scripted-sampler.js';

const dir = mkdtempSync(path.join(tmpdir(), 'arq-run-options-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const fresh = (name: string): string => path.join(dir, `${files++}-${name}`);

const dataset = makeDataset({ name: 'test:options', shape: [1, 1, 1], images: Float32Array.from([0, 1, 2]), labels: Int32Array.from([0, 0, 1]) });
const identity = { seed: 4, model: 'd'.repeat(64), engine: 'float', policy: null };
/** Every sample is class 0: CERTIFY certifies class 0 on every image. */
const base = (out: string): CertifyDatasetOptions => ({ sampler: scriptedSampler(2, () => 0), dataset, out, identity, n0: 10, n: 100, alpha: 0.01 });

describe('certifyDataset refuses options that exclude each other, before writing anything', () => {
  const remote = async function* () {};
  // Inside the scratch folder: a mutant that lets an option through must not write into the working directory.
  const c = path.join(dir, 'c.irs');
  test.each<[string, Partial<CertifyDatasetOptions>, string]>([
    ['cache and incremental', { cache: c, incremental: { cache: c } }, 'cache and incremental are exclusive'],
    ['resume and overwrite', { resume: true, overwrite: true }, 'resume and overwrite are exclusive'],
    ['remote and incremental', { remote, incremental: { cache: c } }, 'remote certification (a queue) applies to plain certification'],
    ['shard and cache', { shard: { index: 0, count: 2 }, cache: c }, 'shard: applies to plain certification'],
    ['shard and incremental', { shard: { index: 0, count: 2 }, incremental: { cache: c } }, 'shard: applies to plain certification'],
  ])('%s', async (_, extra, message) => {
    const out = fresh('x.tsv');
    await expect(certifyDataset({ ...base(out), ...extra })).rejects.toThrow(message);
    expect(existsSync(out)).toBe(false);
  });
});

describe('an IRS cache fixes n0, n and alpha, and is kept unless overwritten', () => {
  test('an alpha other than the cache\'s is refused by name; a given value equal to the cache\'s is accepted', async () => {
    const cache = fresh('f.irs');
    await certifyDataset({ ...base(fresh('f.tsv')), cache });
    const incremental = { ...base(fresh('inc.tsv')), n0: undefined, n: undefined, alpha: undefined, incremental: { cache } };
    await expect(certifyDataset({ ...incremental, alpha: 0.02 })).rejects.toThrow(`alpha: incremental certification uses the IRS cache's alpha = 0.01 (${cache}), got 0.02`);
    await expect(certifyDataset({ ...incremental, incremental: { cache, np: 101 } })).rejects.toThrow('np: expected an integer in [1, 100], got 101');
    await expect(certifyDataset({ ...incremental, incremental: { cache, gamma: 2 } })).rejects.toThrow('gamma: expected a number in [0, 1], got 2');
    await expect(certifyDataset({ ...incremental, incremental: { cache, alphaZeta: 0 } })).rejects.toThrow(/^alphaZeta: /);
    const same = await certifyDataset({ ...incremental, n0: 10, n: 100, alpha: 0.01 });
    expect(same.summary.settings).toMatchObject({ mode: 'incremental', n0: 10, n: 100, alpha: 0.01 });
  });

  test('an existing cache is refused without resume or overwrite, and replaced with overwrite', async () => {
    const cache = fresh('f.irs');
    await certifyDataset({ ...base(fresh('a.tsv')), max: 1, cache });
    await expect(certifyDataset({ ...base(fresh('b.tsv')), cache })).rejects.toThrow(`IRS cache ${cache} exists: resume the run or overwrite it`);
    await certifyDataset({ ...base(fresh('c.tsv')), cache, overwrite: true });
    expect([...readIrsCache(cache).entries.keys()]).toEqual([0, 1, 2]);
  });
});

describe('smoothPredictDataset', () => {
  /** Images of 2 x 2 values [9, 9, 9, x]: every sample is class x, or alternates 0, 1 when x < 0 (PREDICT abstains). */
  const pixelSampler: Sampler = {
    classes: 3, inputSize: 4, sigma: 0.25,
    sample: async (image, _index, first, count) => {
      const counts = new Uint32Array(3);
      for (let k = first; k < first + count; k++) counts[image[3] < 0 ? k % 2 : image[3]]++;
      return { counts, predictions: null };
    },
    close: async () => {},
  };
  const images = makeDataset({ name: 'test:pixels', shape: [1, 2, 2], images: Float32Array.from([2, -1, 1, 0, 1].flatMap((x) => [9, 9, 9, x])), labels: Int32Array.from([2, 0, 0, 0, 1]) });

  test('every skip-th image up to max: predictions, accuracy with abstentions wrong, timing and settings', async () => {
    const seen: unknown[] = [];
    const samples: [number, number][] = [];
    const seconds: number[] = [];
    const r = await smoothPredictDataset({
      sampler: pixelSampler, dataset: images, n: 50, alpha: 0.01, skip: 2, max: 2, chunk: 20, info: { engine: 'scripted' },
      onImage: (done, total, image) => {
        seen.push([done, total, image.idx, image.label, image.prediction]);
        seconds.push(image.seconds);
      },
      onSamples: (done, total) => samples.push([done, total]),
    });
    // Images 0 and 2 (every second, at most two): 2 (label 2, correct) and 1 (label 0, wrong).
    expect(r.indices).toEqual([0, 2]);
    expect(r.predictions).toEqual([2, 1]);
    expect(seen).toEqual([[1, 2, 0, 2, 2], [2, 2, 2, 0, 1]]);
    expect(samples).toEqual([[20, 50], [40, 50], [50, 50], [20, 50], [40, 50], [50, 50]]);
    expect(r).toMatchObject({ count: 2, accuracy: 0.5, abstain_rate: 0 });
    expect(r.settings).toEqual({ sigma: 0.25, n: 50, alpha: 0.01, skip: 2, max: 2, data: 'test:pixels', engine: 'scripted' });
    expect(r.seconds).toBe(seconds[0] + seconds[1]);
    expect(r.samples_per_second).toBeCloseTo(r.seconds > 0 ? 100 / r.seconds : 0, 6);

    const all = await smoothPredictDataset({ sampler: pixelSampler, dataset: images, n: 50, alpha: 0.01 });
    expect(all.predictions).toEqual([2, -1, 1, 0, 1]);
    // Correct: images 0, 3, 4; image 1 abstains (wrong), image 2 predicts 1 against label 0.
    expect(all).toMatchObject({ count: 5, accuracy: 0.6, abstain_rate: 0.2 });
    expect(all.settings).toEqual({ sigma: 0.25, n: 50, alpha: 0.01, skip: 1, max: null, data: 'test:pixels' });
  });

  test('bad settings are refused by name', async () => {
    const options = { sampler: pixelSampler, dataset: images, n: 50, alpha: 0.01 };
    await expect(smoothPredictDataset({ ...options, sampler: { ...pixelSampler, inputSize: 2 } })).rejects.toThrow("test:pixels: images of 4 values do not fit the model's input of 2 values");
    await expect(smoothPredictDataset({ ...options, n: 0 })).rejects.toThrow(/^n: /);
    await expect(smoothPredictDataset({ ...options, alpha: 1 })).rejects.toThrow(/alpha/);
    await expect(smoothPredictDataset({ ...options, skip: 0 })).rejects.toThrow(/skip/);
  });
});

describe('certifyDataset: what each mode reports and records', () => {
  test('onSamples totals, the samples behind the summary, info recorded, the reference policy', async () => {
    const cache = fresh('p.irs');
    const totals = new Set<number>();
    const onSamples = (_done: number, total: number): void => { totals.add(total); };
    const f = await certifyDataset({ ...base(fresh('f.tsv')), identity: { ...identity, policy: 'w4a4' }, cache, onSamples, info: { threads: 3 } });
    expect([...totals]).toEqual([110]);
    expect(f.summary.settings).toMatchObject({ threads: 3, cache });
    totals.clear();
    const inc = await certifyDataset({ ...base(fresh('inc.tsv')), n0: undefined, n: undefined, alpha: undefined, incremental: { cache, np: 7 }, onSamples });
    expect([...totals]).toEqual([7]);
    expect(inc.summary.settings).toMatchObject({ reference: { model: identity.model, engine: 'float', policy: 'w4a4' } });
    totals.clear();
    const scratch = await certifyDataset({ ...base(fresh('s.tsv')), n0: undefined, n: undefined, alpha: undefined, incremental: { cache, fromScratch: true }, onSamples });
    expect([...totals]).toEqual([110]);
    // samples_per_second * seconds: 110 samples for each of the 3 images.
    if (scratch.summary.seconds > 0) expect(scratch.summary.samples_per_second * scratch.summary.seconds).toBeCloseTo(330, 6);
    await expect(certifyDataset({ ...base(fresh('x.tsv')), sampler: scriptedSampler(2, () => 0, 0.3), identity: { ...identity, seed: 5 }, n0: undefined, n: undefined, alpha: undefined, incremental: { cache } }))
      .rejects.toThrow(`IRS cache ${cache} does not match this run: it was written with sigma 0.5 (now 0.3), seed 4 (now 5)`);
  });

  test('a shard certifies its part of the selection only', async () => {
    const part = await certifyDataset({ ...base(fresh('shard.tsv')), shard: { index: 1, count: 2 } });
    // Positions [floor(3/2), 3) of the three images.
    expect(part.rows.map((r) => r.idx)).toEqual([1, 2]);
    expect(part.summary.settings).toMatchObject({ shard: { index: 1, count: 2, start: 1, end: 3, images: 3 } });
  });

  test('rows from a remote certifier are written as they came, with their pALower and the samples of n0 + n', async () => {
    const images: ImageResult[] = [];
    const remote: RemoteCertifier = async function* (work) {
      yield work.pending.map((k) => ({ idx: k, label: dataset.labels[k], predict: 0, radius: 0.125, correct: dataset.labels[k] === 0, time: 0.5, pALower: 0.75 }));
    };
    const out = fresh('remote.tsv');
    const r = await certifyDataset({ ...base(out), remote, onImage: (_d, _t, image) => images.push(image) });
    expect(r.rows.map((row) => [row.idx, row.radius, row.time])).toEqual([[0, 0.125, 0.5], [1, 0.125, 0.5], [2, 0.125, 0.5]]);
    expect(images.map((image) => [image.samples, image.pALower])).toEqual([[110, 0.75], [110, 0.75], [110, 0.75]]);
    const asked: number[][] = [];
    const shard = await certifyDataset({ ...base(fresh('remote-shard.tsv')), shard: { index: 1, count: 2 }, remote: (work) => { asked.push([...work.pending]); return remote(work); } });
    expect(asked).toEqual([[1, 2]]);
    expect(shard.rows.map((row) => row.idx)).toEqual([1, 2]);
  });
});
