// The whole search on the bundled model at toy sizes: outputs, reproducibility from the seed, resume after a kill.
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { search, type SearchOptions } from '../../src/search/search.js';
import { bundledModelPath } from '../../src/onnx/model.js';
import { policyCost } from '../../src/quant/cost.js';
import { loadModel } from '../../src/onnx/model.js';
import { POLICY_FORMAT, validatePolicy } from '../../src/quant/policy.js';
import type { EpisodeRecord, SearchReport } from '../../src/report/types.js';
import { QuantizationEnvironment } from '../../src/search/environment.js';

const TOY: Omit<SearchOptions, 'out'> = {
  model: bundledModelPath(), data: 'mnist', episodes: 6, warmup: 3, valImages: 6, cleanImages: 200, testImages: 6,
  n0: 50, n: 400, np: 40, finalN: 400, calibrationCount: 32, seed: 7, threads: 2,
};

const tempDir = () => mkdtempSync(path.join(tmpdir(), 'arq-search-'));
const episodes = (dir: string): EpisodeRecord[] => readFileSync(path.join(dir, 'episodes.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as EpisodeRecord);
/** What must be identical between runs: everything but the timings. */
const outcome = (records: EpisodeRecord[]) => records.map(({ timings: _t, ...rest }) => rest);

describe('search', () => {
  let first: { dir: string; report: SearchReport };

  it('runs ARQ and every baseline and writes the documented outputs', async () => {
    const dir = tempDir();
    const stages: string[] = [];
    const run = search({ ...TOY, out: dir });
    run.on('stage', ({ stage }) => stages.push(stage));
    const { report, policy, files } = await run;
    first = { dir, report };
    expect(stages).toEqual(['calibrate', 'sensitivity', 'float-validation', 'search-arq', 'search-haq', 'search-random', 'float-fresh', 'rescore', 'final-float', 'final-arq', 'final-haq', 'final-random', 'final-uniform', 'final-knapsack', 'final-w8a8', 'speed', 'report']);
    for (const file of Object.values(files)) expect(existsSync(file)).toBe(true);
    expect(existsSync(path.join(dir, 'checkpoint.json'))).toBe(true);

    const model = await loadModel(TOY.model);
    const json = JSON.parse(readFileSync(files.report, 'utf8')) as SearchReport;
    for (const key of ['float', 'arq', 'haq', 'random', 'uniform', 'knapsack', 'w8a8'] as const) {
      const entry = json[key]!;
      expect(Object.keys(entry)).toEqual(expect.arrayContaining(['policy', 'bitops_percent', 'acr', 'certified_accuracy', 'clean_accuracy']));
      expect(entry.certified_radii).toHaveLength(6);
      expect(existsSync(path.join(dir, entry.results))).toBe(true);
    }
    expect(json.float!.bitops_percent).toBe(100);
    // Like-for-like: every budgeted entry obeys the same rules (8-bit ends, budget), the uniform one is the widest
    // uniform choice for the other layers under them (not W4A4: with 8-bit ends, W4A4 elsewhere exceeds the budget).
    const env = new QuantizationEnvironment(model.graph, { budget: 0.015625 });
    const uniform = env.bestUniform()!;
    expect(json.uniform!.label).toBe(`uniform W${uniform.wbits}A${uniform.abits}`);
    expect(json.rules).toEqual({ budget: 0.015625, min_bits: 2, max_bits: 8, pin_ends: true });
    for (const key of ['arq', 'haq', 'random', 'uniform', 'knapsack'] as const) {
      const entry = json[key]!;
      expect(entry.bitops_percent).toBeLessThanOrEqual(100 * 0.015625 * (1 + 1e-9));
      expect(entry.policy![0]).toMatchObject({ wbits: 8, abits: 8 });
      expect(entry.policy!.at(-1)).toMatchObject({ wbits: 8, abits: 8 });
    }
    // Sensitivity measured once, every layer at every width; the knapsack and the uniform policy seed the agents' warm-up.
    expect(json.sensitivity!.layers.map((l) => l.name)).toEqual(env.layers.map((l) => l.name));
    expect(json.sensitivity!.bits).toEqual([2, 3, 4, 5, 6, 7, 8]);
    expect(existsSync(path.join(dir, 'sensitivity.json'))).toBe(true);
    for (const search of ['arq', 'haq'] as const) {
      const warm = json.episodes.filter((r) => r.search === search);
      expect(warm[0].policy).toEqual(json.knapsack!.policy);
      expect(warm[1].policy).toEqual(json.uniform!.policy);
    }
    // The agents act within the budget: the repair never had to act, and the report says so per search.
    expect(json.repair).toEqual(Object.fromEntries(['arq', 'haq', 'random'].map((s) => [s, { episodes: 6, repaired: 0, lowered: 0, mean_bitops_removed_percent: 0 }])));
    expect(json.w8a8!.bitops_percent).toBeCloseTo(6.25, 10);
    // Every episode's policy fits the budget, and the ARQ winner is the best-rewarded ARQ episode.
    const records = episodes(dir);
    expect(records.map((r) => `${r.search}${r.episode}`)).toEqual(['arq', 'haq', 'random'].flatMap((s) => [0, 1, 2, 3, 4, 5].map((e) => `${s}${e}`)));
    for (const r of records) expect(r.bitops_percent).toBeLessThanOrEqual(100 * 0.015625 * (1 + 1e-9));
    const arq = records.filter((r) => r.search === 'arq');
    // The winner: of the top candidates by search-time reward (distinct policies), the best on fresh images and noise.
    for (const search of ['arq', 'haq', 'random'] as const) {
      const rescoring = json.rescoring![search]!;
      const mine = records.filter((r) => r.search === search);
      const rewards = rescoring.candidates.map((c) => c.reward);
      expect(rewards).toEqual([...rewards].sort((a, b) => b - a));
      expect(rewards[0]).toBe(Math.max(...mine.map((r) => r.reward)));
      expect(new Set(rescoring.candidates.map((c) => JSON.stringify(mine[c.episode].policy))).size).toBe(rescoring.candidates.length);
      const winner = rescoring.candidates.find((c) => c.episode === rescoring.winner_episode)!;
      expect(winner.fresh_reward).toBe(Math.max(...rescoring.candidates.map((c) => c.fresh_reward)));
      expect(json[search]!.policy).toEqual(mine[winner.episode].policy);
      expect(rescoring.within).toBeGreaterThanOrEqual(0);
    }
    const best = arq[json.rescoring!.arq!.winner_episode];
    expect(policy.layers).toEqual(best.policy);
    expect(policyCost(model.graph, policy).bitopsPercent).toBeCloseTo(json.arq!.bitops_percent, 10);
    validatePolicy(JSON.parse(readFileSync(files.policy, 'utf8')), model.graph, model.sha256);
    expect(policy.format).toBe(POLICY_FORMAT);
    // Rewards: arq episodes carry ACRs, haq episodes clean accuracies; warm-up flags follow --warmup.
    expect(arq.every((r) => typeof r.reward_parts.acr === 'number' && r.reward_parts.acr_float === arq[0].reward_parts.acr_float)).toBe(true);
    for (const r of arq) expect(r.reward).toBeCloseTo(0.1 * (r.reward_parts.acr! - r.reward_parts.acr_float!), 12);
    expect(records.filter((r) => r.search === 'haq').every((r) => typeof r.reward_parts.clean_accuracy === 'number')).toBe(true);
    expect(arq.map((r) => r.warmup)).toEqual([true, true, true, false, false, false]);
    expect(existsSync(path.join(dir, 'report.html'))).toBe(true);
    // The final table's time per image, measured once at the end on the search's batch and threads: every entry,
    // each ratio the quotient of its time and W8A8's, equal policies one measurement (W8A8's own entry is the reference).
    expect(json.time).toMatchObject({ engine: 'int', batch: 400, threads: 2, repeats: 5 });
    for (const key of ['float', 'arq', 'haq', 'random', 'uniform', 'knapsack', 'w8a8'] as const) {
      const time = json[key]!.time!;
      expect(time.engine).toBe(key === 'float' ? 'float' : 'int');
      expect(Number.isFinite(time.seconds_per_image) && time.seconds_per_image > 0).toBe(true);
      expect(time.time_vs_w8a8).toBe(time.seconds_per_image / json.time!.w8a8.seconds_per_image);
      for (const other of ['arq', 'haq', 'random', 'uniform', 'knapsack'] as const) {
        if (JSON.stringify(json[other]!.policy) === JSON.stringify(json[key]!.policy)) expect(json[other]!.time).toEqual(time);
      }
    }
    expect(json.w8a8!.time).toEqual(json.time!.w8a8);
    expect(readFileSync(files.html, 'utf8')).toContain('<th>time / image</th><th>time vs W8A8</th>');
  }, 120_000);

  it('gives the same episodes and final numbers for the same seed, whatever the thread count', async () => {
    const dir = tempDir();
    const { report } = await search({ ...TOY, out: dir, threads: 1, baselines: ['uniform'] });
    const arqOnly = (records: EpisodeRecord[]) => outcome(records.filter((r) => r.search === 'arq'));
    expect(arqOnly(report.episodes)).toEqual(arqOnly(first.report.episodes));
    expect(report.arq!.certified_radii).toEqual(first.report.arq!.certified_radii);
    expect(report.float!.acr).toBe(first.report.float!.acr);
  }, 120_000);

  it('certifies a policy once in the final table: an entry whose policy an earlier one holds gets the same results without sampling', async () => {
    // Two warm-up episodes per agent: the knapsack and the uniform policy, so ARQ's and HAQ's winners are among them.
    const dir = tempDir();
    const sampled = new Map<string, number>();
    const run = search({ ...TOY, out: dir, episodes: 2, warmup: 2, baselines: ['haq', 'uniform', 'knapsack'] });
    run.on('progress', ({ stage }) => sampled.set(stage, (sampled.get(stage) ?? 0) + 1));
    const { report } = await run;
    const keys = ['arq', 'haq', 'uniform', 'knapsack'] as const;
    const firstWith = (key: (typeof keys)[number]) => keys.find((k) => JSON.stringify(report[k]!.policy) === JSON.stringify(report[key]!.policy))!;
    const repeats = keys.filter((k) => firstWith(k) !== k);
    expect(repeats.length).toBeGreaterThanOrEqual(2); // four entries, two policies
    for (const key of keys) {
      const results = readFileSync(path.join(dir, report[key]!.results), 'utf8');
      if (repeats.includes(key)) {
        expect(sampled.get(`final-${key}`)).toBeUndefined();
        expect(results).toBe(readFileSync(path.join(dir, report[firstWith(key)]!.results), 'utf8'));
        expect(report[key]!.certified_radii).toEqual(report[firstWith(key)]!.certified_radii);
      } else {
        expect(sampled.get(`final-${key}`)).toBe(TOY.testImages);
      }
    }
    // The same numbers as certifying each policy on its own (the first run certified every entry).
    for (const key of ['uniform', 'knapsack'] as const) expect(report[key]!.certified_radii).toEqual(first.report[key]!.certified_radii);
  }, 120_000);

  it('resumes a killed search and loses nothing', async () => {
    const dir = tempDir();
    const controller = new AbortController();
    const killed = search({ ...TOY, out: dir, signal: controller.signal });
    killed.on('episode', ({ record }) => {
      if (record.search === 'haq' && record.episode === 3) controller.abort(new Error('killed'));
    });
    await expect(killed).rejects.toThrow('killed');
    expect(episodes(dir).filter((r) => r.search === 'haq')).toHaveLength(4);
    await expect(search({ ...TOY, out: dir })).rejects.toThrow(/holds a search: continue it with --resume/);
    const { report } = await search({ ...TOY, out: dir, resume: true });
    expect(outcome(report.episodes)).toEqual(outcome(first.report.episodes));
    expect(outcome(episodes(dir))).toEqual(outcome(first.report.episodes));
    expect(report.arq!.certified_radii).toEqual(first.report.arq!.certified_radii);
    await expect(search({ ...TOY, out: dir, resume: true, sigma: 0.5 })).rejects.toThrow(/different settings: sigma/);
  }, 180_000);

  it('fine-tunes each candidate with QAT when asked, and certifies the winner as it was rewarded', async () => {
    const dir = tempDir();
    const { report } = await search({ ...TOY, out: dir, episodes: 2, warmup: 1, baselines: [], finetuneSteps: 2 });
    expect(report.settings.finetune_steps).toBe(2);
    for (const r of report.episodes) expect(r.timings.finetune).toBeGreaterThan(0);
    const { report: again } = await search({ ...TOY, out: tempDir(), episodes: 2, warmup: 1, baselines: [], finetuneSteps: 2 });
    expect(outcome(again.episodes)).toEqual(outcome(report.episodes));
    expect(again.arq!.certified_radii).toEqual(report.arq!.certified_radii);
  }, 120_000);

  it('resumes the final certifications where a kill left them, and --overwrite replaces a search', async () => {
    const dir = tempDir();
    const controller = new AbortController();
    const killed = search({ ...TOY, out: dir, signal: controller.signal });
    killed.on('final', ({ key }) => {
      if (key === 'arq') controller.abort(new Error('killed'));
    });
    await expect(killed).rejects.toThrow('killed');
    const floatResults = path.join(dir, 'final', 'float.tsv');
    const before = readFileSync(floatResults, 'utf8');
    const { report } = await search({ ...TOY, out: dir, resume: true });
    expect(readFileSync(floatResults, 'utf8')).toBe(before); // finished, so kept as it was (timings included)
    for (const key of ['float', 'arq', 'haq', 'random', 'uniform', 'knapsack', 'w8a8'] as const) {
      expect(report[key]!.certified_radii).toEqual(first.report[key]!.certified_radii);
    }
    const { report: replaced } = await search({ ...TOY, out: dir, overwrite: true, episodes: 2, warmup: 1, baselines: [] });
    expect(episodes(dir).map((r) => `${r.search}${r.episode}`)).toEqual(['arq0', 'arq1']);
    expect(replaced.uniform).toBeUndefined();
    expect(existsSync(path.join(dir, 'final', 'uniform.tsv'))).toBe(false);
    await expect(search({ ...TOY, out: dir, overwrite: true, resume: true })).rejects.toThrow(/resume and overwrite are exclusive/);
  }, 240_000);

  it('without re-scoring, the best search-time reward wins', async () => {
    const { report, policy } = await search({ ...TOY, out: tempDir(), episodes: 3, warmup: 1, baselines: [], rescore: 0 });
    const best = report.episodes.reduce((a, b) => (b.reward > a.reward ? b : a));
    expect(policy.layers).toEqual(best.policy);
    expect(report.rescoring).toBeUndefined();
  }, 120_000);

  it('rejects bad options before any work', async () => {
    await expect(search({ ...TOY, out: tempDir(), budget: 0.001 })).rejects.toThrow(/cannot be met/);
    await expect(search({ ...TOY, out: tempDir(), episodes: 0 })).rejects.toThrow(/episodes/);
    await expect(search({ ...TOY, out: tempDir(), reward: 'best' as never })).rejects.toThrow(/reward: expected one of arq, arq-acc, haq/);
    const dir = tempDir();
    await expect(search({ ...TOY, out: dir, data: 'npy:/nonexistent/x.npy,/nonexistent/y.npy' })).rejects.toThrow(/nonexistent/);
    expect(existsSync(path.join(dir, 'checkpoint.json'))).toBe(false);
  });
});
