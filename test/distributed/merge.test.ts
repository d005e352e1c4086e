// Static shards (--shard i/k) and arq merge (distributed/merge.ts): shards certified by separate samplers with other
// batch and thread counts, merged, equal a single run row for row (counter-based noise: an image's result does not
// depend on which process ran it); merge refuses gaps, overlaps, unfinished shards and shards of another run.
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadDataset, makeDataset, parseShard, shardRange, type Dataset } from '../../src/data/index.js';
import { mergeShards } from '../../src/distributed/merge.js';
import { bundledModelPath, loadModel, type LoadedModel } from '../../src/onnx/model.js';
import { calibrate } from '../../src/quant/calibrate.js';
import { uniformPolicy } from '../../src/quant/policy.js';
import { runIdentity } from '../../src/smoothing/run-identity.js';
import { settingsPath, summaryPath } from '../../src/smoothing/results.js';
import { certifyDataset } from '../../src/smoothing/run.js';
import { createSampler } from '../../src/smoothing/sampler.js';
import { Random } from '../../src/util/random.js';
import { verifyDataset, type VerifyDatasetOptions } from '../../src/verify/run.js';
import { loadFixture } from '../support/fixtures.js';

const dir = mkdtempSync(path.join(tmpdir(), 'arq-merge-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string) => path.join(dir, name);

/** TSV lines without the time column (the only column that depends on the machine). */
function rowsWithoutTime(tsv: string): string[] {
  return readFileSync(tsv, 'utf8').split('\n').filter(Boolean).map((line) => line.split('\t').filter((_, i) => i !== 5).join('\t'));
}
const json = (p: string) => JSON.parse(readFileSync(p, 'utf8')) as { [key: string]: unknown };
const untimed = (summary: { [key: string]: unknown }) => ({ ...summary, seconds: 0, samples_per_second: 0 });

describe('shards', () => {
  test('parseShard takes i/k with 0 <= i < k; the k ranges tile the selection in order', () => {
    expect(parseShard('2/5')).toEqual({ index: 2, count: 5 });
    for (const bad of ['5/5', '-1/3', '1/0', 'a/3', '1', '']) expect(() => parseShard(bad)).toThrow(/shard/);
    for (const [total, count] of [[10, 3], [2, 5], [0, 2], [7, 7]]) {
      const ranges = Array.from({ length: count }, (_, index) => shardRange(total, { index, count }));
      expect(ranges[0].start).toBe(0);
      expect(ranges[count - 1].end).toBe(total);
      for (let i = 1; i < count; i++) expect(ranges[i].start).toBe(ranges[i - 1].end);
    }
  });
});

describe('certify --shard and merge', () => {
  let model: LoadedModel;
  let dataset: Dataset;
  const settings = { n0: 20, n: 400, alpha: 0.001, skip: 3, max: 10 };
  const run = async (out: string, extra: { shard?: { index: number; count: number }; seed?: number; threads?: number; batch?: number } = {}) => {
    const seed = extra.seed ?? 5;
    const batch = extra.batch ?? 100;
    const threads = extra.threads ?? 1;
    const sampler = await createSampler(model, 'float', { sigma: 0.25, seed, batch, threads });
    try {
      return await certifyDataset({ sampler, dataset, out, identity: runIdentity({ model, engine: 'float', seed }), info: { batch: 100, threads: 1 }, ...settings, shard: extra.shard });
    } finally {
      await sampler.close();
    }
  };

  beforeAll(async () => {
    model = await loadModel(bundledModelPath());
    dataset = await loadDataset('mnist', 'test', { limit: 30 });
    await run(file('single.tsv'));
    // each shard its own sampler, with other batch and thread counts: as on another machine
    for (let index = 0; index < 3; index++) await run(file(`s${index}.tsv`), { shard: { index, count: 3 }, threads: 1 + (index % 2), batch: 37 + index });
  });

  test('the merged shards equal the single run: TSV rows apart from time, settings, summary apart from timing', () => {
    // given out of order: merge orders them
    const merged = mergeShards([file('s2.tsv'), file('s0.tsv'), file('s1.tsv')], file('merged.tsv'));
    expect(merged).toMatchObject({ kind: 'certify', images: 10, shards: 3 });
    expect(rowsWithoutTime(file('merged.tsv'))).toEqual(rowsWithoutTime(file('single.tsv')));
    expect(readFileSync(settingsPath(file('merged.tsv')), 'utf8')).toBe(readFileSync(settingsPath(file('single.tsv')), 'utf8'));
    expect(untimed(json(summaryPath(file('merged.tsv'))))).toEqual(untimed(json(summaryPath(file('single.tsv')))));
    // each shard holds its own contiguous part of the selection (skip 3: images 0, 3, ..., 27)
    expect(rowsWithoutTime(file('s1.tsv')).slice(1).map((l) => Number(l.split('\t')[0]))).toEqual([9, 12, 15]);
    expect(json(settingsPath(file('s1.tsv'))).compared).toMatchObject({ shard: { index: 1, count: 3, start: 3, end: 6, images: 10 } });
  });

  test('a gap, an overlap, an unfinished shard and a shard of another run are refused, naming the files', async () => {
    expect(() => mergeShards([file('s0.tsv'), file('s2.tsv')], file('gap.tsv'))).toThrow('merge: gap: 1 of 3 shards missing (1/3)');
    copyFileSync(file('s0.tsv'), file('s0-again.tsv'));
    copyFileSync(settingsPath(file('s0.tsv')), settingsPath(file('s0-again.tsv')));
    expect(() => mergeShards([file('s0.tsv'), file('s1.tsv'), file('s2.tsv'), file('s0-again.tsv')], file('overlap.tsv')))
      .toThrow(`merge: overlap: ${file('s0.tsv')} and ${file('s0-again.tsv')} both hold shard 0/3 (selection positions 0 to 2)`);

    const cut = file('s1-cut.tsv');
    const lines = readFileSync(file('s1.tsv'), 'utf8').split('\n');
    writeFileSync(cut, `${lines.slice(0, -2).join('\n')}\n`);
    copyFileSync(settingsPath(file('s1.tsv')), settingsPath(cut));
    expect(() => mergeShards([file('s0.tsv'), cut, file('s2.tsv')], file('cut.tsv'))).toThrow(`merge: ${cut} holds 2 of the 3 images of shard 1/3 (selection positions 3 to 5): it is unfinished; complete it with --resume`);

    await run(file('other-seed.tsv'), { shard: { index: 1, count: 3 }, seed: 6 });
    expect(() => mergeShards([file('s0.tsv'), file('other-seed.tsv'), file('s2.tsv')], file('other.tsv'))).toThrow(`merge: ${file('other-seed.tsv')} and ${file('s0.tsv')} are not shards of one run: ${file('other-seed.tsv')} has seed 6 (in ${file('s0.tsv')}: 5)`);
    expect(() => mergeShards([file('single.tsv')], file('x.tsv'))).toThrow(`merge: ${file('single.tsv')} is not a shard: it was written without --shard i/k`);
  });

  test('shard applies to plain certification only', async () => {
    const sampler = await createSampler(model, 'float', { sigma: 0.25, seed: 5, batch: 100, threads: 1 });
    try {
      await expect(certifyDataset({ sampler, dataset, out: file('c.tsv'), identity: runIdentity({ model, engine: 'float', seed: 5 }), cache: file('c.irs'), shard: { index: 0, count: 2 } }))
        .rejects.toThrow('shard: applies to plain certification');
    } finally {
      await sampler.close();
    }
  });
});

describe('verify --shard and merge', () => {
  test('two shards merged equal the single run', async () => {
    const model = loadFixture('tiny_mlp');
    const random = Random.fromSeed(2);
    const data = makeDataset({ name: 'synthetic', shape: [1, 8, 8], images: Float32Array.from({ length: 32 * 64 }, () => random.uniform()), labels: Int32Array.from({ length: 32 }, () => random.integer(10)), classes: 10 });
    const calibration = await calibrate(model.graph, data, { sigma: 0, count: 32, seed: 0, threads: 2 });
    const policy = uniformPolicy(model.graph, model.sha256, 4, 4);
    const options = (out: string, extra: Partial<VerifyDatasetOptions> = {}): VerifyDatasetOptions => ({
      model, quantization: { policy, calibration }, dataset: data, eps: '1/255,0.05', timeout: 5, threads: 2, max: 7, out,
      identity: { model: model.sha256, policy: 'w4a4' }, ...extra,
    });
    await verifyDataset(options(file('v.tsv')));
    const done: number[] = [];
    await verifyDataset(options(file('v0.tsv'), { shard: { index: 0, count: 2 }, threads: 1, onImage: (d) => done.push(d) }));
    expect(done).toEqual([1, 2, 3]);
    await verifyDataset(options(file('v1.tsv'), { shard: { index: 1, count: 2 } }));
    expect(mergeShards([file('v0.tsv'), file('v1.tsv')], file('vm.tsv'))).toMatchObject({ kind: 'verify', images: 7, shards: 2 });
    const cells = (p: string) => readFileSync(p, 'utf8').split('\n').filter(Boolean).map((l) => l.split('\t').slice(0, -2).join('\t'));
    expect(cells(file('vm.tsv'))).toEqual(cells(file('v.tsv')));
    expect(readFileSync(settingsPath(file('vm.tsv')), 'utf8')).toBe(readFileSync(settingsPath(file('v.tsv')), 'utf8'));
  });
});
