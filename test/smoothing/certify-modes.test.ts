// certifyDataset's three modes (smoothing/run.ts): each one's samples, summary and refusals, recomputed here from what
// onImage reports per image and from the IRS cache itself, so a mode that counts, sums or checks differently fails.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { makeDataset } from '../../src/data/index.js';
import { readIrsCache } from '../../src/smoothing/irs-cache.js';
import { certifyDataset, type CertifyDatasetOptions, type ImageResult } from '../../src/smoothing/run.js';
import { thresholdSampler } from '../support/plan-sampler.js';

const dir = mkdtempSync(path.join(tmpdir(), 'arq-modes-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const fresh = (name: string): string => path.join(dir, `${files++}-${name}`);

// Threshold classifier at 0.5: images far from it are certified, 0.45 and 0.55 sit near it, 0.3 / 0.7 in between, and
// f abstains on 0.5 itself (P = 1/2), where IRS draws nothing.
const xs = [-0.5, 1.5, 0.45, 0.55, 0.3, 0.7, 0, 0.5];
const dataset = makeDataset({ name: 'test:modes', shape: [1, 1, 1], images: Float32Array.from(xs), labels: Int32Array.from(xs.map((x) => (x < 0.5 ? 0 : 1))) });
const identity = { seed: 9, model: 'b'.repeat(64), engine: 'float', policy: null };
const reported = (into: ImageResult[]): Pick<CertifyDatasetOptions, 'onImage'> => ({ onImage: (_d, _t, image) => into.push(image) });
const samplesOf = (summary: { samples_per_second: number; seconds: number }): number => summary.samples_per_second * summary.seconds;

test('certify, incremental and from-scratch: samples, the incremental summary, the cache checks', async () => {
  const cache = fresh('f.irs');
  const fImages: ImageResult[] = [];
  const f = await certifyDataset({ sampler: thresholdSampler(0.5, 0.5, 9), dataset, out: fresh('f.tsv'), identity, n0: 20, n: 4000, alpha: 0.001, cache, ...reported(fImages) });
  expect(fImages.every((image) => image.samples === 4020 && image.irs === undefined)).toBe(true);
  expect(samplesOf(f.summary)).toBeCloseTo(8 * 4020, 3);
  expect(f.rows[7].predict).toBe(-1);
  expect(f.summary.incremental).toBeUndefined();
  expect(f.summary.settings).toMatchObject({ mode: 'certify', cache, n0: 20, n: 4000 });
  const entries = readIrsCache(cache).entries;
  expect([...entries.keys()]).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  const referenceSeconds = [...entries.values()].reduce((s, e) => s + e.seconds, 0);

  const fPrime = thresholdSampler(0.52, 0.5, 9);
  const intIdentity = { ...identity, engine: 'int', policy: 'w8a8' };
  const incImages: ImageResult[] = [];
  const inc = await certifyDataset({ sampler: fPrime, dataset, out: fresh('inc.tsv'), identity: intIdentity, incremental: { cache, np: 300, gamma: 0.9 }, ...reported(incImages) });
  // f's abstentions cost no samples, every other image np
  incImages.forEach((image) => expect(image.samples).toBe(entries.get(image.idx)!.pALower <= 0.5 ? 0 : 300));
  expect(samplesOf(inc.summary)).toBeCloseTo(incImages.reduce((s, image) => s + image.samples, 0), 3);
  const branches = { zeta: 0, estimate: 0, 'f-abstained': 0 };
  let zeta = 0;
  let disagreements = 0;
  let drawn = 0;
  for (const { irs, samples } of incImages) {
    branches[irs!.branch]++;
    if (irs!.zeta !== null) zeta += irs!.zeta;
    if (irs!.disagreements !== null) {
      disagreements += irs!.disagreements;
      drawn += samples;
    }
  }
  expect(branches.zeta).toBeGreaterThan(0);
  expect(branches['f-abstained']).toBe(1);
  expect(branches.estimate).toBeGreaterThan(0);
  expect(inc.summary.incremental).toEqual({
    reference_seconds: referenceSeconds,
    speedup: referenceSeconds / inc.summary.seconds,
    images_now: 8,
    branches,
    zeta_mean: zeta / branches.zeta,
    disagreement_rate: drawn ? disagreements / drawn : null,
  });
  expect(inc.summary.settings).toMatchObject({ mode: 'incremental', n0: 20, n: 4000, alpha: 0.001, np: 300, gamma: 0.9, alpha_zeta: 0.001, incremental_cache: cache, reference: { model: identity.model, engine: 'float', policy: null } });

  const scratchImages: ImageResult[] = [];
  const scratch = await certifyDataset({ sampler: fPrime, dataset, out: fresh('scratch.tsv'), identity: intIdentity, skip: 2, incremental: { cache, fromScratch: true }, ...reported(scratchImages) });
  expect(scratchImages.map((image) => [image.idx, image.samples, image.irs])).toEqual([[0, 4020, undefined], [2, 4020, undefined], [4, 4020, undefined], [6, 4020, undefined]]);
  const scratchReference = [0, 2, 4, 6].reduce((s, i) => s + entries.get(i)!.seconds, 0);
  expect(scratch.summary.incremental).toEqual({ reference_seconds: scratchReference, speedup: scratchReference / scratch.summary.seconds });
  expect(scratch.summary.settings).not.toHaveProperty('np');
  expect(scratch.summary.settings).toMatchObject({ mode: 'from-scratch', skip: 2, incremental_cache: cache });

  const relabelled = makeDataset({ name: 'test:modes', shape: [1, 1, 1], images: Float32Array.from(xs), labels: Int32Array.from(xs.map((x, i) => (i === 3 ? 0 : x < 0.5 ? 0 : 1))) });
  await expect(certifyDataset({ sampler: fPrime, dataset: relabelled, out: fresh('bad.tsv'), identity: intIdentity, incremental: { cache } }))
    .rejects.toThrow(`IRS cache ${cache}: image 3 has label 1 there and 0 in test:modes`);
  await expect(certifyDataset({ sampler: fPrime, dataset, out: fresh('bad.tsv'), identity: intIdentity, n0: 21, incremental: { cache } }))
    .rejects.toThrow(`n0: incremental certification uses the IRS cache's n0 = 20 (${cache}), got 21`);
});

test('certify mode: resuming with a cache that lacks finished images is refused; a resumed run completes both files', async () => {
  const out = fresh('r.tsv');
  const cache = fresh('r.irs');
  const base = { sampler: thresholdSampler(0.5, 0.5, 9), dataset, out, identity, n0: 10, n: 500, alpha: 0.01 };
  await certifyDataset({ ...base, max: 2 });
  await expect(certifyDataset({ ...base, cache, resume: true }))
    .rejects.toThrow(`cannot resume: 2 image(s) finished in ${out} are missing from the IRS cache ${cache} (first: 0); start again without resume`);
  const out2 = fresh('r2.tsv');
  const cache2 = fresh('r2.irs');
  await certifyDataset({ ...base, out: out2, cache: cache2, max: 3 });
  const resumed = await certifyDataset({ ...base, out: out2, cache: cache2, resume: true });
  expect(resumed.resumed).toBe(3);
  expect([...readIrsCache(cache2).entries.keys()]).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
});
