// The whole search (search.ts) on the tiny MLP fixture, fast enough to run for every mutant of search.ts: 40 images
// of 8x8 labelled by the float model itself, a few episodes, tens of samples. Every output is checked against what
// search.md defines, computed here from the run's own files where the test cannot know the numbers in advance
// (the float reference's summary and IRS cache, the checkpoint, the log), and the options, the directory rules and
// the resume against their documented behaviour. search.test.ts runs the same on the bundled model at toy sizes.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { writeNpySync } from '../../src/data/index.js';
import { FloatPlan } from '../../src/engine/float-plan.js';
import { policyCost } from '../../src/quant/cost.js';
import { makePolicy, policyKey, uniformPolicy } from '../../src/quant/policy.js';
import type { EpisodeRecord, LayerSensitivity, SearchReport } from '../../src/report/types.js';
import { readCheckpoint } from '../../src/search/checkpoint.js';
import { QuantizationEnvironment } from '../../src/search/environment.js';
import { floatSoft, imageScore } from '../../src/search/rewards.js';
import { search, type SearchOptions, type SearchStage } from '../../src/search/search.js';
import type { CandidateMeasurement } from '../../src/search/rewards.js';
import { SearchBench, type SearchRemoteFactory, type UnitRow } from '../../src/search/units.js';
import { readIrsCache } from '../../src/smoothing/irs-cache.js';
import type { RemoteRow } from '../../src/smoothing/run.js';
import { fixturePath, loadFixture } from '../support/fixtures.js';
import type * as TimeModule from '../../src/quant/time.js';

// The final table's timing (quant/time.ts, tested on its own) in one short round per plan instead of five of 100 ms:
// the search passes its batch and threads, which the report records.
vi.mock('../../src/quant/time.js', async (importOriginal) => {
  const actual = await importOriginal<typeof TimeModule>();
  return { ...actual, measureTimes: (...[graph, entries, options]: Parameters<typeof actual.measureTimes>) => actual.measureTimes(graph, entries, { ...options, repeats: 1, roundMs: 1 }) };
});

const model = loadFixture('tiny_mlp'); // input [1, 8, 8], two layers: MatMul (64x32) and Gemm (32x10)
const COUNT = 40;
const SIZE = 64;

const tempDir = () => mkdtempSync(path.join(tmpdir(), 'arq-search-tiny-'));
const outcome = (records: EpisodeRecord[]) => records.map(({ timings: _t, ...rest }) => rest);
const logOf = (dir: string): EpisodeRecord[] => readFileSync(path.join(dir, 'episodes.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as EpisodeRecord);
const json = <T>(file: string): T => JSON.parse(readFileSync(file, 'utf8')) as T;

let data: string;
let images: Float32Array;
let labels: Int32Array;
let TINY: Omit<SearchOptions, 'out'>;

/** A stopped run: throws from the first 'stage' event of `stage`, after the checks and the directory's preparation. */
async function stopAt(options: SearchOptions, stage: SearchStage = 'calibrate'): Promise<void> {
  const run = search(options);
  run.on('stage', (e) => {
    if (e.stage === stage) throw new Error(`stopped at ${stage}`);
  });
  await expect(run).rejects.toThrow(`stopped at ${stage}`);
}

/**
 * A search's remote that runs every unit here, on a SearchBench of its own (as a queue's worker would), recording
 * what it is asked: `certify SET POLICY PENDING`, `sensitivity LAYERS`, `measure SET KIND POLICIES`, `close`.
 */
const withoutPosition = (row: UnitRow) => {
  const { position: _p, ...rest } = row as UnitRow & { position: number };
  return rest;
};

function localRemote(calls: string[], references: Map<string, string>): SearchRemoteFactory {
  return async ({ model: m, setup, identity }) => {
    const bench = await SearchBench.open(m, setup, 1);
    expect(identity).toEqual(bench.identity);
    const text = (sha256: string) => Promise.resolve(references.get(sha256)!);
    return {
      certifier: ({ set, policy }) => async function* (work) {
        calls.push(`certify ${set} ${policy ? policyKey(policy) : 'float'} ${work.pending.length}`);
        const unit = { kind: 'certify', set, policy, n0: work.n0, n: work.n, alpha: work.alpha, skip: work.skip, max: work.max ?? null, record: work.record } as const;
        for (const p of work.pending) yield (await bench.run(unit, p, p + 1, text)) as RemoteRow[];
      },
      sensitivity: async (layers, _signal, onLayer) => {
        calls.push(`sensitivity ${layers}`);
        const rows = await bench.run({ kind: 'sensitivity' }, 0, layers, text);
        rows.forEach((_, k) => onLayer?.(k + 1, layers));
        return rows.map(withoutPosition) as LayerSensitivity[];
      },
      measure: async (unit, reference) => {
        calls.push(`measure ${unit.set} ${unit.measure} ${unit.policies.length}`);
        const sha256 = reference === null ? null : createHash('sha256').update(reference).digest('hex');
        if (sha256 !== null) references.set(sha256, reference!);
        const rows = await bench.run({ kind: 'measure', ...unit, reference: sha256 }, 0, unit.policies.length, text);
        return rows.map(withoutPosition) as CandidateMeasurement[];
      },
      close: () => {
        calls.push('close');
        return Promise.resolve();
      },
    };
  };
}

beforeAll(async () => {
  const dir = tempDir();
  images = Float32Array.from({ length: COUNT * SIZE }, (_, i) => ((i * 29 + Math.floor(i / SIZE) * 7) % 31) / 31);
  // Labels: the float model's own classes, except every fourth image from 2 on (wrong there), so that the float
  // model's clean accuracy is 3/4 on every 5th image and one of the three certified images (26) is wrong.
  const logits = await FloatPlan.build(model.graph).run(images, COUNT, 1);
  labels = Int32Array.from({ length: COUNT }, (_, k) => {
    const row = logits.subarray(k * 10, (k + 1) * 10);
    const argmax = row.indexOf(Math.max(...row));
    return k % 4 === 2 ? (argmax + 1) % 10 : argmax;
  });
  writeNpySync(path.join(dir, 'x.npy'), images, [COUNT, 1, 8, 8]);
  writeNpySync(path.join(dir, 'y.npy'), labels, [COUNT]);
  data = `npy:${path.join(dir, 'x.npy')},${path.join(dir, 'y.npy')}`;
  TINY = {
    model: fixturePath('tiny_mlp'), data, reward: 'arq-soft', pinEnds: false, budget: 0.03, episodes: 3, warmup: 2,
    valImages: 3, cleanImages: 8, testImages: 3, n0: 10, n: 60, np: 12, finalN: 80, calibrationCount: 8,
    sensitivityImages: 4, sensitivityCopies: 1, rescore: 2, sigma: 0.1, seed: 3, threads: 1, batch: 50,
  };
});

/** The settings TINY records (checkpoint and report). */
const tinySettings = () => ({
  model: model.sha256, data, val_data: data, sigma: 0.1, budget: 0.03, reward: 'arq-soft', episodes: 3, warmup: 2,
  baselines: ['haq', 'random', 'uniform', 'knapsack', 'w8a8'], val_images: 3, clean_images: 8, test_images: 3, n0: 10, n: 60,
  alpha: 0.001, np: 12, final_n: 80, finetune_steps: 0, lambda: 0.1, min_bits: 2, max_bits: 8, pin_ends: false,
  calibration_count: 8, rescore: 2, sensitivity_images: 4, sensitivity_copies: 1, seed: 3,
});

describe('search on the tiny MLP', () => {
  let first: { dir: string; report: SearchReport };

  it('takes the documented defaults, and an option given as undefined takes its default', async () => {
    // the default budget (the W4A4 point) with both ends pinned at 8 bits: more than two 8-bit layers cost
    await expect(search({ model: TINY.model, data, out: tempDir() })).rejects.toThrow('budget 1.5625% of float BitOps cannot be met: the lowest policy with the first and last layers pinned at 8 bits costs 6.2500%');
    const dir = tempDir();
    await stopAt({ model: TINY.model, data, out: dir, budget: 0.1, episodes: undefined, pinEnds: undefined });
    expect(readCheckpoint(dir)!.settings).toEqual({
      model: model.sha256, data, val_data: data, sigma: 0.25, budget: 0.1, reward: 'arq', episodes: 120, warmup: 20,
      baselines: ['haq', 'random', 'uniform', 'knapsack', 'w8a8'], val_images: 200, clean_images: 2000, test_images: 200, n0: 100, n: 10_000,
      alpha: 0.001, np: 25, final_n: 10_000, finetune_steps: 0, lambda: 0.1, min_bits: 2, max_bits: 8, pin_ends: true,
      calibration_count: 256, rescore: 8, sensitivity_images: 64, sensitivity_copies: 4, seed: 0, local_search: 50,
    });
    // repeated baselines count once; parallel is recorded only above 1
    const other = tempDir();
    await stopAt({ ...TINY, out: other, baselines: ['uniform', 'haq', 'uniform'], parallel: 3 });
    expect(readCheckpoint(other)!.settings).toEqual({ ...tinySettings(), baselines: ['uniform', 'haq'], parallel: 3 });
    // so is local_search (a search without it keeps the settings and checkpoints it had)
    const local = tempDir();
    await stopAt({ ...TINY, out: local, localSearch: 1 });
    expect(readCheckpoint(local)!.settings).toEqual({ ...tinySettings(), local_search: 1 });
  });

  it('refuses each bad option by its name before any file is written', async () => {
    const cases: [Partial<SearchOptions>, string][] = [
      [{ episodes: 0 }, 'episodes: expected an integer in [1, 100000], got 0'],
      [{ warmup: 4 }, 'warmup: expected an integer in [0, 3], got 4'],
      [{ baselines: ['best' as never] }, 'baselines: expected one of haq, random, uniform, knapsack, w8a8, got "best"'],
      [{ budget: 0 }, 'budget: expected a number in (0, 1], got 0'],
      [{ budget: 1.5 }, 'budget: expected a number in (0, 1], got 1.5'],
      [{ reward: 'best' as never }, 'reward: expected one of arq, arq-acc, haq, arq-soft, got "best"'],
      [{ valImages: 0 }, 'valImages: expected an integer in [1, 1000000], got 0'],
      [{ cleanImages: 0 }, 'cleanImages: expected an integer in [1, 10000000], got 0'],
      [{ testImages: 0 }, 'testImages: expected an integer in [1, 10000000], got 0'],
      [{ np: 61 }, 'np: expected an integer in [1, 60], got 61'],
      [{ finalN: 0 }, 'finalN: expected an integer in [1, 10000000], got 0'],
      [{ finetuneSteps: -1 }, 'finetuneSteps: expected an integer in [0, 10000000], got -1'],
      [{ lambda: 0 }, 'lambda: expected a number in (0, 1000000], got 0'],
      [{ calibrationCount: 0 }, 'calibrationCount: expected an integer in [1, 1000000], got 0'],
      [{ rescore: -1 }, 'rescore: expected an integer in [0, 1000], got -1'],
      [{ sensitivityImages: 0 }, 'sensitivityImages: expected an integer in [1, 1000000], got 0'],
      [{ sensitivityCopies: 0 }, 'sensitivityCopies: expected an integer in [1, 1000000], got 0'],
      [{ parallel: 0 }, 'parallel: expected an integer in [1, 4096], got 0'],
      [{ localSearch: 2 }, 'localSearch: expected an integer in [0, 1], got 2'],
      [{ localSearch: -1 }, 'localSearch: expected an integer in [0, 1], got -1'],
      [{ warmup: 0, localSearch: 3 }, 'localSearch: expected an integer in [0, 2], got 3'],
    ];
    for (const [options, message] of cases) {
      const dir = path.join(tempDir(), 'out');
      await expect(search({ ...TINY, ...options, out: dir }), message).rejects.toThrow(message);
      expect(existsSync(dir)).toBe(false);
    }
    // a budget below the cheapest policy: refused before the data is read
    await expect(search({ ...TINY, data: 'npy:/nonexistent/x.npy,/nonexistent/y.npy', budget: 0.001, out: tempDir() })).rejects.toThrow(/cannot be met/);
    // bad data: refused before the directory holds a checkpoint
    const dir = tempDir();
    await expect(search({ ...TINY, data: 'npy:/nonexistent/x.npy,/nonexistent/y.npy', out: dir })).rejects.toThrow(/nonexistent/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('replaces every output of a search with overwrite, and nothing else; resume and overwrite exclude each other', async () => {
    const OUTPUTS = ['checkpoint.json', 'episodes.jsonl', 'sensitivity.json', 'report.json', 'report.html', 'best-policy.json', 'best-policy.qdq.onnx', 'float-val.tsv', 'float-val.settings.json', 'float-val.summary.json', 'float-val.irs', 'float-fresh.tsv', 'float-fresh.settings.json', 'float-fresh.summary.json', 'float-fresh.irs'];
    const dir = tempDir();
    for (const file of [...OUTPUTS, 'notes.txt']) writeFileSync(path.join(dir, file), 'old\n');
    mkdirSync(path.join(dir, 'final'));
    writeFileSync(path.join(dir, 'final', 'arq.tsv'), 'old\n');
    await expect(search({ ...TINY, out: dir, resume: true, overwrite: true })).rejects.toThrow('resume and overwrite are exclusive');
    expect(readFileSync(path.join(dir, 'checkpoint.json'), 'utf8')).toBe('old\n');
    await stopAt({ ...TINY, out: dir, overwrite: true });
    // only the fresh checkpoint and the file that is no output are left
    expect(readdirSync(dir).sort()).toEqual(['checkpoint.json', 'notes.txt']);
    expect(readCheckpoint(dir)).toEqual({ format: 'arq-search-checkpoint/1', settings: tinySettings(), searches: {} });
    // a directory with only a log holds a search too
    const logOnly = tempDir();
    writeFileSync(path.join(logOnly, 'episodes.jsonl'), '');
    await expect(search({ ...TINY, out: logOnly })).rejects.toThrow(`${logOnly} holds a search`);
  });

  it('runs every search and baseline and writes what search.md says, each figure from its own source', async () => {
    const dir = tempDir();
    const stages: string[] = [];
    const progress = new Map<string, number[]>();
    const bests: [string, number][] = [];
    const finals: string[] = [];
    const t0 = performance.now();
    const run = search({ ...TINY, out: dir });
    run.on('stage', ({ stage }) => stages.push(stage));
    run.on('progress', ({ stage, done }) => progress.set(stage, [...(progress.get(stage) ?? []), done]));
    run.on('episode', ({ record, best }) => bests.push([`${record.search}${record.episode}`, best.reward]));
    run.on('final', ({ key, entry }) => finals.push(`${key}:${entry.label}`));
    const { report, policy, files } = await run;
    first = { dir, report };
    expect(stages).toEqual(['calibrate', 'sensitivity', 'float-validation', 'search-arq', 'search-haq', 'search-random', 'float-fresh', 'rescore', 'final-float', 'final-arq', 'final-haq', 'final-random', 'final-uniform', 'final-knapsack', 'final-w8a8', 'speed', 'report']);
    expect(progress.get('sensitivity')).toEqual([1, 2]);
    expect(progress.get('float-validation')).toEqual([1, 2, 3]);
    for (const s of ['arq', 'haq', 'random']) expect(progress.get(`search-${s}`)).toEqual([1, 2, 3]);
    expect(progress.get('rescore')).toEqual([1, 2, 3]);

    // the report's header and settings
    expect(report).toMatchObject({ format: 'arq-search-report/1', model: { path: TINY.model, sha256: model.sha256 }, data, sigma: 0.1, budget: 0.03, reward: 'arq-soft' });
    expect(Date.parse(report.created)).toBeGreaterThan(Date.now() - 600_000);
    expect(report.settings).toEqual({ ...tinySettings(), threads: 1, batch: 50, val_data_name: data });
    expect(readCheckpoint(dir)!.settings).toEqual(tinySettings());
    expect(report.rules).toEqual({ budget: 0.03, min_bits: 2, max_bits: 8, pin_ends: false });
    const env = new QuantizationEnvironment(model.graph, { budget: 0.03, pinEnds: false });
    expect(report.layers).toEqual(env.layers.map((l) => ({ name: l.name, op: l.op, macs: l.macs, params: l.params })));
    expect(Object.keys(report.timings).sort()).toEqual(['calibrate', 'final', 'float-validation', 'rescore', 'search-arq', 'search-haq', 'search-random', 'sensitivity', 'speed', 'total']);
    for (const t of Object.values(report.timings)) expect(t).toBeGreaterThan(0);
    expect(report.timings.total).toBeGreaterThanOrEqual(report.timings['search-arq'] + report.timings.final);
    expect(report.timings.total).toBeLessThanOrEqual((performance.now() - t0) / 1000);
    expect(json(path.join(dir, 'sensitivity.json'))).toEqual(report.sensitivity);
    expect(report.sensitivity!.layers.map((l) => l.name)).toEqual(['/MatMul', '/fc/Gemm']);

    // the episodes: the log, each search's seed its own, the warm-up flags, the cost of each policy, the best so far
    const records = logOf(dir);
    expect(report.episodes).toEqual(records);
    expect(records.map((r) => `${r.search}${r.episode}${r.warmup ? 'w' : ''}`)).toEqual(['arq0w', 'arq1w', 'arq2', 'haq0w', 'haq1w', 'haq2', 'random0', 'random1', 'random2']);
    for (const r of records) {
      expect(r.bitops_percent).toBe(policyCost(model.graph, makePolicy(model.sha256, r.policy)).bitopsPercent);
      expect(r.bitops_percent).toBeLessThanOrEqual(100 * 0.03 * (1 + 1e-9));
      expect(r.actions).toHaveLength(4);
      expect(r.repair.lowered === 0 ? r.repair.bitops_removed_percent === 0 : r.repair.bitops_removed_percent > 0).toBe(true);
      expect(r.timings.total).toBeGreaterThanOrEqual(r.timings.agent);
    }
    const random = records.filter((r) => r.search === 'random').map((r) => r.actions);
    const arq = records.filter((r) => r.search === 'arq');
    expect(random).not.toEqual(arq.map((r) => r.actions));
    expect(random.slice(2)).not.toEqual(records.filter((r) => r.search === 'haq').slice(2).map((r) => r.actions));
    const checkpoint = readCheckpoint(dir)!;
    for (const name of ['arq', 'haq', 'random'] as const) {
      const mine = records.filter((r) => r.search === name);
      let best = mine[0];
      for (const r of mine) {
        if (r.reward > best.reward) best = r;
        expect(bests.find(([k]) => k === `${name}${r.episode}`)![1]).toBe(best.reward);
      }
      // the first of equal rewards stays the best
      expect(checkpoint.searches[name]).toEqual({ episodes: 3, best, state: null });
      const repaired = mine.filter((r) => r.repair.lowered > 0);
      expect(report.repair![name]).toEqual({
        episodes: 3, repaired: repaired.length, lowered: repaired.reduce((s, r) => s + r.repair.lowered, 0),
        mean_bitops_removed_percent: repaired.length ? repaired.reduce((s, r) => s + r.repair.bitops_removed_percent, 0) / repaired.length : 0,
      });
    }
    // the warm-up seeds: the knapsack's policy, then the widest uniform one (W5A6 here)
    for (const name of ['arq', 'haq'] as const) {
      const mine = records.filter((r) => r.search === name);
      expect(mine[0].policy).toEqual(report.knapsack!.policy);
      expect(mine[1].policy).toEqual(report.uniform!.policy);
    }

    // the float reference: its summary and IRS cache give every float part of the rewards
    const summary = json<{ acr: number; clean_accuracy: number }>(path.join(dir, 'float-val.summary.json'));
    const cache = readIrsCache(path.join(dir, 'float-val.irs')).entries;
    const val = [0, 13, 26]; // every floor(40 / 3)-th image
    expect([...cache.keys()].sort((a, b) => a - b)).toEqual(val);
    const score = val.reduce((s, idx) => {
      const e = cache.get(idx)!;
      return s + imageScore(e.prediction === labels[idx] ? e.radius : 0, floatSoft(e, labels[idx], 12, 0.1));
    }, 0) / 3;
    const cleanFloat = 6 / 8; // images 0, 5, ..., 35: 10 and 30 are labelled wrong
    for (const r of arq) {
      expect(r.reward_parts).toMatchObject({ acr_float: summary.acr, smoothed_accuracy_float: summary.clean_accuracy, score_float: score });
      expect(r.reward).toBeCloseTo(0.1 * (r.reward_parts.score! - score), 12);
    }
    expect(summary.clean_accuracy).toBeGreaterThan(0);
    for (const r of records.filter((x) => x.search === 'haq')) expect(r.reward_parts.clean_accuracy_float).toBe(cleanFloat);
    expect(existsSync(path.join(dir, 'float-fresh.irs'))).toBe(true);

    // re-scoring of each search, its winners in the final table and in best-policy.json
    expect(Object.keys(report.rescoring!).sort()).toEqual(['arq', 'haq', 'random']);
    expect(checkpoint.rescoring).toEqual(report.rescoring);
    const winner = (name: 'arq' | 'haq' | 'random') => records.find((r) => r.search === name && r.episode === report.rescoring![name]!.winner_episode)!;
    expect(policy).toEqual(makePolicy(model.sha256, winner('arq').policy));
    expect(json(files.policy)).toEqual(policy);
    expect(files).toEqual({ report: path.join(dir, 'report.json'), html: path.join(dir, 'report.html'), policy: path.join(dir, 'best-policy.json'), qdq: path.join(dir, 'best-policy.qdq.onnx'), episodes: path.join(dir, 'episodes.jsonl') });
    for (const file of Object.values(files)) expect(existsSync(file)).toBe(true);
    expect(json(files.report)).toEqual(JSON.parse(JSON.stringify(report)));

    // the final table: every entry with its policy, label, BitOps and results; a repeated policy's results copied
    expect(finals).toEqual(['float:float', 'arq:ARQ', 'haq:HAQ', 'random:random search', 'uniform:uniform W5A6', 'knapsack:sensitivity knapsack', 'w8a8:W8A8']);
    const w8a8 = uniformPolicy(model.graph, model.sha256, 8, 8).layers;
    const expected = {
      float: null, arq: winner('arq').policy, haq: winner('haq').policy, random: winner('random').policy,
      uniform: env.named(env.layers.map((): [number, number] => [5, 6])), knapsack: records[0].policy, w8a8,
    };
    for (const [key, p] of Object.entries(expected) as [keyof typeof expected, typeof w8a8 | null][]) {
      const entry = report[key]!;
      expect(entry.policy).toEqual(p);
      expect(entry.bitops_percent).toBe(p ? policyCost(model.graph, makePolicy(model.sha256, p)).bitopsPercent : 100);
      expect(entry.results).toBe(`final/${key}.tsv`);
      expect(entry.certified_radii).toHaveLength(3);
      expect(entry.time!.engine).toBe(key === 'float' ? 'float' : 'int');
      // Cohen's CERTIFY with the final n on every 13th test image, its batch and threads recorded
      const results = json<{ settings: Record<string, unknown> }>(path.join(dir, entry.results.replace(/\.tsv$/, '.settings.json'))).settings;
      expect(results).toMatchObject({ mode: 'certify', n0: 10, n: 80, alpha: 0.001, skip: 13, max: 3, seed: 3, sigma: 0.1, batch: 50, threads: 1, engine: key === 'float' ? 'float' : 'int' });
      const firstSame = (Object.keys(expected) as (keyof typeof expected)[]).find((k) => JSON.stringify(expected[k]) === JSON.stringify(p))!;
      if (firstSame !== key) expect(readFileSync(path.join(dir, entry.results), 'utf8')).toBe(readFileSync(path.join(dir, report[firstSame]!.results), 'utf8'));
    }
    // image 26 is labelled wrong: no radius; 0 and 13 certified by the float model
    expect(report.float!.certified_radii.map((r) => r !== null)).toEqual([true, true, false]);
    expect(progress.get('final-float')).toEqual([1, 2, 3]);
    expect(report.time).toMatchObject({ engine: 'int', batch: 50, threads: 1 });
    expect(report.time!.w8a8).toEqual(report.w8a8!.time);
  }, 120_000);

  it('resumes a killed search to the same episodes and numbers, without measuring again what it kept', async () => {
    const dir = tempDir();
    const controller = new AbortController();
    const killed = search({ ...TINY, out: dir, signal: controller.signal });
    killed.on('episode', ({ record }) => {
      if (record.search === 'haq' && record.episode === 1) controller.abort(new Error('killed'));
    });
    await expect(killed).rejects.toThrow('killed');
    const checkpoint = readCheckpoint(dir)!;
    expect(checkpoint.searches.arq).toMatchObject({ episodes: 3, state: null });
    expect(checkpoint.searches.haq!.episodes).toBe(2);
    expect(checkpoint.searches.haq!.state).not.toBeNull();
    expect(checkpoint.searches.random).toBeUndefined();
    await expect(search({ ...TINY, out: dir })).rejects.toThrow(`${dir} holds a search: continue it with --resume, replace it with --overwrite, or choose another --out`);
    await expect(search({ ...TINY, out: dir, resume: true, sigma: 0.5 })).rejects.toThrow(`cannot resume the search in ${dir}: it was started with different settings: sigma`);

    const stages: string[] = [];
    const progress: string[] = [];
    const resumed = search({ ...TINY, out: dir, resume: true });
    resumed.on('stage', ({ stage }) => stages.push(stage));
    resumed.on('progress', ({ stage }) => progress.push(stage));
    const { report } = await resumed;
    // the sensitivity table read back, the float reference's finished certification not redone
    expect(stages.slice(0, 4)).toEqual(['calibrate', 'float-validation', 'search-arq', 'search-haq']);
    expect(progress).not.toContain('float-validation');
    expect(progress.filter((s) => s === 'search-arq')).toEqual([]);
    expect(outcome(report.episodes)).toEqual(outcome(first.report.episodes));
    expect(outcome(logOf(dir))).toEqual(outcome(first.report.episodes));
    for (const key of ['float', 'arq', 'haq', 'random', 'uniform', 'knapsack', 'w8a8'] as const) {
      expect(report[key]!.certified_radii).toEqual(first.report[key]!.certified_radii);
    }
    expect(report.rescoring).toEqual(first.report.rescoring);
  }, 120_000);

  it('spends the agents\' last episodes on local search around their best policy, and resumes it exactly', async () => {
    const options = { ...TINY, episodes: 5, localSearch: 2, rescore: 0 };
    const straight = await search({ ...options, out: tempDir() });
    const records = straight.report.episodes;
    for (const name of ['arq', 'haq'] as const) {
      const mine = records.filter((r) => r.search === name);
      expect(mine.map((r) => r.local_search ?? false)).toEqual([false, false, false, true, true]);
      // each local episode: an unmeasured policy with a width one bit above the best policy before it
      for (const record of mine.slice(3)) {
        const before = mine.filter((r) => r.episode < record.episode);
        const best = before.reduce((b, r) => (r.reward > b.reward ? r : b));
        expect(before.map((r) => policyKey(r.policy))).not.toContain(policyKey(record.policy));
        expect(record.policy.some((l, i) => l.wbits === best.policy[i].wbits + 1 || l.abits === best.policy[i].abits + 1)).toBe(true);
        expect(record.bitops_percent).toBeLessThanOrEqual(100 * 0.03 * (1 + 1e-9));
      }
    }
    expect(records.filter((r) => r.search === 'random').some((r) => r.local_search)).toBe(false);

    // Without warm-up and in groups of two, the agent's one episode is rewarded before the local search starts.
    const grouped = await search({ ...options, episodes: 3, warmup: 0, localSearch: 2, parallel: 2, baselines: [], out: tempDir() });
    expect(grouped.report.episodes.map((r) => r.local_search ?? false)).toEqual([false, true, true]);

    const dir = tempDir();
    const controller = new AbortController();
    const killed = search({ ...options, out: dir, signal: controller.signal });
    killed.on('episode', ({ record }) => {
      if (record.search === 'arq' && record.episode === 3) controller.abort(new Error('killed'));
    });
    await expect(killed).rejects.toThrow('killed');
    expect(readCheckpoint(dir)!.searches.arq!.episodes).toBe(4);
    const { report } = await search({ ...options, out: dir, resume: true });
    expect(outcome(report.episodes)).toEqual(outcome(records));
  }, 120_000);

  it('gives a local search\'s numbers when its units run remotely, and sends the remote what it needs', async () => {
    const dir = tempDir();
    const calls: string[] = [];
    const references = new Map<string, string>();
    const progress: string[] = [];
    const run = search({ ...TINY, out: dir, remote: localRemote(calls, references) });
    run.on('progress', ({ stage, done }) => progress.push(`${stage}${done}`));
    const { report } = await run;
    expect(outcome(report.episodes)).toEqual(outcome(first.report.episodes));
    expect({ ...report.sensitivity, seconds: 0 }).toEqual({ ...first.report.sensitivity, seconds: 0 });
    expect(report.rescoring).toEqual(first.report.rescoring);
    for (const key of ['float', 'arq', 'haq', 'random', 'uniform', 'knapsack', 'w8a8'] as const) {
      expect(report[key]!.certified_radii).toEqual(first.report[key]!.certified_radii);
    }
    expect(progress.filter((p) => p.startsWith('sensitivity'))).toEqual(['sensitivity1', 'sensitivity2']);
    // the float references' IRS caches, as written in the directory, travel with the measurements
    expect([...references.values()].sort()).toEqual([readFileSync(path.join(dir, 'float-fresh.irs'), 'utf8'), readFileSync(path.join(dir, 'float-val.irs'), 'utf8')].sort());
    // Measurements in groups: the agents' warm-up (two episodes) at once, then one per update; random search's three
    // at once (a remote takes at least 16 independent proposals together); a policy measured before is not sent.
    expect(calls.filter((c) => c.startsWith('measure val'))).toEqual(['measure val irs 2', 'measure val irs 1', 'measure val clean 2', 'measure val clean 1', 'measure val irs 3']);
    expect(calls.filter((c) => c.startsWith('measure fresh'))).toEqual(['measure fresh irs 2', 'measure fresh clean 2', 'measure fresh irs 2']);
    expect(calls.slice(0, 2)).toEqual(['sensitivity 2', 'certify val float 3']);
    expect(calls).toContain('certify fresh float 3');
    // the final table's policies, each certified once (a repeated one copies the results of the first)
    const finals = ['float', 'arq', 'haq', 'random', 'uniform', 'knapsack', 'w8a8'].map((k) => report[k as 'float']!.policy);
    const distinct = [...new Set(finals.map((p) => (p ? policyKey(p) : 'float')))];
    expect(calls.filter((c) => c.startsWith('certify test'))).toEqual(distinct.map((k) => `certify test ${k} 3`));
    expect(calls.at(-1)).toBe('close');
    expect(calls.filter((c) => c === 'close')).toHaveLength(1);
  }, 120_000);

  it('without re-scoring, each search\'s best search-time reward wins and no fresh reference is certified', async () => {
    // a directory without a checkpoint or log holds no search: a stale final results file there is replaced
    const dir = tempDir();
    mkdirSync(path.join(dir, 'final'));
    writeFileSync(path.join(dir, 'final', 'float.tsv'), 'stale\n');
    const { report, policy } = await search({ ...TINY, out: dir, rescore: 0, baselines: [] });
    expect(readFileSync(path.join(dir, 'final', 'float.tsv'), 'utf8')).not.toContain('stale');
    expect(report.float!.certified_radii.map((r) => r !== null)).toEqual([true, true, false]);
    expect(report.rescoring).toBeUndefined();
    expect(existsSync(path.join(dir, 'float-fresh.tsv'))).toBe(false);
    const best = report.episodes.reduce((a, b) => (b.reward > a.reward ? b : a));
    expect(policy.layers).toEqual(best.policy);
    expect(Object.keys(report).filter((k) => ['float', 'arq', 'haq', 'random', 'uniform', 'knapsack', 'w8a8'].includes(k))).toEqual(['float', 'arq']);
    expect(report.repair).toEqual({ arq: { episodes: 3, repaired: 0, lowered: 0, mean_bitops_removed_percent: 0 } });
  }, 120_000);
});
