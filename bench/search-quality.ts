/**
 * Does the search find what a careful engineer would (issue 15)? Two resumable experiments, every result kept in
 * --out so that a rerun continues where a kill stopped it:
 *
 * - fidelity: without the agent, --policies feasible policies (random budget-relative actions, as random search
 *   draws them) plus the best uniform policy and the sensitivity knapsack are scored by every search-time reward
 *   (`arq`, `arq-acc`, `haq`, `arq-soft`) and certified in full (CERTIFY, --final-n) on --test-images test images,
 *   all with the same noise. Per reward: Spearman correlation with the test ACR and the regret of its top pick
 *   (best test ACR minus the pick's), each with a 95% bootstrap interval (policies resampled for Spearman; test
 *   images resampled for regret).
 *
 *     npm run bench -- search-quality fidelity --model models/mnist-cnn-s025.onnx --policies 20 --out runs/fidelity-cnn
 *
 * - end-to-end: `search()` per --budgets x --seeds (each in its own directory, resumed), then per budget the
 *   paired bootstrap 95% interval of ARQ's test ACR minus each baseline's (the same test images and noise for all
 *   entries of a run; images resampled within each seed, differences averaged over the seeds).
 *
 *     npm run bench -- search-quality end-to-end --model models/mnist-cnn-s025.onnx --budgets 0.015625,0.012 --seeds 0,1,2 --out runs/e2e-cnn
 *
 *   Rerun with `--final-finetune-steps S` on the same --out: the searches are kept and only their final numbers are
 *   redone with every final policy fine-tuned (summary.qatS.json beside summary.json).
 *
 * Both print a table and write summary.json in --out. `--threads T` sets the native threads (default: every hardware
 * thread); on a shared machine run them under `nice`.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadModel } from '../src/onnx/model.js';
import { loadDataset, trainingSpec } from '../src/data/index.js';
import { calibrate } from '../src/quant/calibrate.js';
import type { LayerBits } from '../src/engine/int-plan.js';
import { makePolicy } from '../src/quant/policy.js';
import { policyCost } from '../src/quant/cost.js';
import { cpuInfo } from '../src/native.js';
import { QuantizationEnvironment } from '../src/search/environment.js';
import { measureSensitivity, sensitivityCosts } from '../src/search/sensitivity.js';
import { sensitivityKnapsack } from '../src/search/knapsack.js';
import { CandidateBuilder } from '../src/search/candidate.js';
import { RewardFunction } from '../src/search/rewards.js';
import { certifyFinal } from '../src/search/final.js';
import { floatReference, search, type BaselineName } from '../src/search/search.js';
import { defaultNp } from '../src/smoothing/irs.js';
import { REWARD_NAMES, type FinalKey, type RewardName, type SearchReport } from '../src/report/types.js';
import { Random } from '../src/util/random.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    model: { type: 'string', default: 'models/mnist-cnn-s025.onnx' },
    data: { type: 'string', default: 'mnist' },
    sigma: { type: 'string', default: '0.25' },
    budget: { type: 'string', default: '0.015625' },
    budgets: { type: 'string', default: '0.015625,0.012' },
    seeds: { type: 'string', default: '0,1,2' },
    policies: { type: 'string', default: '60' },
    episodes: { type: 'string', default: '60' },
    'val-images': { type: 'string', default: '50' },
    'test-images': { type: 'string', default: '100' },
    n: { type: 'string', default: '4000' },
    np: { type: 'string' },
    'final-n': { type: 'string', default: '2000' },
    'finetune-steps': { type: 'string', default: '0' },
    'final-finetune-steps': { type: 'string', default: '0' },
    'local-search': { type: 'string' },
    reward: { type: 'string', default: 'arq' },
    bootstrap: { type: 'string', default: '2000' },
    threads: { type: 'string' },
    out: { type: 'string', default: 'runs/search-quality' },
  },
});

const threads = values.threads ? Number(values.threads) : cpuInfo().threads;
const num = (key: keyof typeof values) => Number(values[key]);
const out = values.out;
mkdirSync(out, { recursive: true });

/** Average ranks (ties share their mean rank). */
function ranks(xs: readonly number[]): number[] {
  const order = xs.map((x, i) => [x, i] as const).sort((a, b) => a[0] - b[0]);
  const r = new Array<number>(xs.length);
  for (let i = 0; i < order.length;) {
    let j = i;
    while (j + 1 < order.length && order[j + 1][0] === order[i][0]) j++;
    for (let k = i; k <= j; k++) r[order[k][1]] = (i + j) / 2 + 1;
    i = j + 1;
  }
  return r;
}

function pearson(x: readonly number[], y: readonly number[]): number {
  const mx = x.reduce((s, v) => s + v, 0) / x.length;
  const my = y.reduce((s, v) => s + v, 0) / y.length;
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < x.length; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) ** 2;
    syy += (y[i] - my) ** 2;
  }
  return sxx > 0 && syy > 0 ? sxy / Math.sqrt(sxx * syy) : 0;
}

const spearman = (x: readonly number[], y: readonly number[]) => pearson(ranks(x), ranks(y));

/** 2.5% and 97.5% quantiles of `draws` bootstrap replicates of `stat`. */
function interval(draws: number, stat: (random: Random) => number): [number, number] {
  const random = Random.fromSeed(12345);
  const values_ = Array.from({ length: draws }, () => stat(random)).sort((a, b) => a - b);
  return [values_[Math.floor(0.025 * draws)], values_[Math.min(draws - 1, Math.floor(0.975 * draws))]];
}

const resample = (n: number, random: Random) => Array.from({ length: n }, () => random.integer(n));
const meanOf = (xs: readonly number[]) => xs.reduce((s, v) => s + v, 0) / xs.length;
const fmt = (x: number, d = 3) => x.toFixed(d);

interface FidelityRow {
  label: string;
  policy: LayerBits[];
  bitops_percent: number;
  rewards: Record<RewardName, number>;
  /** Test radii, 0 when wrong or abstained. */
  radii: number[];
  acr: number;
}

async function fidelity(): Promise<void> {
  const model = await loadModel(values.model);
  const sigma = num('sigma');
  const budget = num('budget');
  const n = num('n');
  const np = values.np ? Number(values.np) : defaultNp(n);
  const [val, test] = await Promise.all([loadDataset(trainingSpec(values.data), 'train'), loadDataset(values.data, 'test')]);
  const calibration = await calibrate(model.graph, val, { sigma, count: 256, seed: 0, threads });
  const sensitivity = await measureSensitivity(model.graph, calibration, val, { sigma, seed: 0, images: 64, copies: 4, minBits: 2, maxBits: 8, threads });
  const env = new QuantizationEnvironment(model.graph, { budget, sensitivity: sensitivityCosts(sensitivity) });
  const options = { valImages: num('val-images'), cleanImages: 2000, sigma, batch: 400, threads, out, resume: true, n0: 100, n, alpha: 0.001, np, signal: undefined };
  const reference = await floatReference(options, model, { stem: 'float-val', dataset: val, seed: 0, stage: 'float-validation' });
  const candidates = new CandidateBuilder(model.graph, calibration, { steps: num('finetune-steps'), train: val, sigma, seed: 0, threads });
  const rewards = Object.fromEntries(REWARD_NAMES.map((r) => [r, new RewardFunction(candidates, reference, { reward: r, lambda: 0.1, sigma, seed: 0, np, threads })])) as Record<RewardName, RewardFunction>;

  const random = Random.fromSeed(7);
  const policies: { label: string; layers: LayerBits[] }[] = [];
  const uniform = env.bestUniform()!;
  policies.push({ label: `uniform W${uniform.wbits}A${uniform.abits}`, layers: env.forced(env.layers.map((_, i) => (env.pinned(i) ? [8, 8] : [uniform.wbits, uniform.abits]))).layers });
  const knapsack = sensitivityKnapsack(env.layers.map((l, i) => ({ macs: l.macs, pinned: env.pinned(i), ...sensitivityCosts(sensitivity)[i] })), env.budgetBitops, 2, 8)!;
  policies.push({ label: 'knapsack', layers: env.named(knapsack) });
  for (let k = 0; k < num('policies'); k++) {
    const run = env.episode();
    while (!run.done) run.act(random.uniform());
    policies.push({ label: `random ${k}`, layers: run.finish().layers });
  }

  const file = path.join(out, 'fidelity.jsonl');
  const done = new Map<string, FidelityRow>();
  if (existsSync(file)) for (const line of readFileSync(file, 'utf8').split('\n').filter(Boolean)) { const row = JSON.parse(line) as FidelityRow; done.set(row.label, row); }
  const testCount = num('test-images');
  const skip = Math.floor(test.count / testCount);
  for (const [k, { label, layers }] of policies.entries()) {
    if (done.has(label)) continue;
    const policy = makePolicy(model.sha256, layers);
    const scored = {} as Record<RewardName, number>;
    for (const r of REWARD_NAMES) scored[r] = (await rewards[r].evaluate(policy)).reward;
    const entry = await certifyFinal(`fidelity-${k}`, label, policy, 0, {
      dir: out, model, candidates, calibration: calibration.settings, test, skip, max: testCount, sigma, seed: 0, n0: 100, n: num('final-n'), alpha: 0.001,
      batch: 400, threads, resume: false,
    });
    const row: FidelityRow = { label, policy: layers, bitops_percent: policyCost(model.graph, policy).bitopsPercent, rewards: scored, radii: entry.certified_radii.map((r) => r ?? 0), acr: entry.acr };
    appendFileSync(file, `${JSON.stringify(row)}\n`);
    done.set(label, row);
    console.error(`${k + 1}/${policies.length} ${label}: test ACR ${fmt(row.acr)}, rewards ${REWARD_NAMES.map((r) => `${r} ${scored[r].toExponential(3)}`).join(', ')}`);
  }

  const rows = policies.map((p) => done.get(p.label)!);
  const draws = num('bootstrap');
  const acr = rows.map((r) => r.acr);
  const summary: Record<string, unknown> = { model: values.model, budget, policies: rows.length, test_images: testCount, final_n: num('final-n'), val_images: num('val-images'), n, np };
  console.log(`reward fidelity on ${values.model} at ${(100 * budget).toFixed(4)}% BitOps: ${rows.length} policies, ${testCount} test images (CERTIFY n = ${num('final-n')}), rewards on ${num('val-images')} validation images (n_p = ${np})`);
  console.log('reward     Spearman  95% CI            minus haq  95% CI (paired)  top pick                regret  95% CI');
  for (const r of REWARD_NAMES) {
    const score = rows.map((row) => row.rewards[r]);
    const rho = spearman(score, acr);
    const rhoCi = interval(draws, (rand) => { const idx = resample(rows.length, rand); return spearman(idx.map((i) => score[i]), idx.map((i) => acr[i])); });
    const pick = score.indexOf(Math.max(...score));
    const regret = Math.max(...acr) - acr[pick];
    const regretCi = interval(draws, (rand) => {
      const idx = resample(testCount, rand);
      const boot = rows.map((row) => meanOf(idx.map((i) => row.radii[i])));
      return Math.max(...boot) - boot[pick];
    });
    // Paired with haq's: the same resampled policies for both rewards.
    const haqScore = rows.map((row) => row.rewards.haq);
    const overHaq = rho - spearman(haqScore, acr);
    const overHaqCi = interval(draws, (rand) => {
      const idx = resample(rows.length, rand);
      const truth = idx.map((i) => acr[i]);
      return spearman(idx.map((i) => score[i]), truth) - spearman(idx.map((i) => haqScore[i]), truth);
    });
    summary[r] = { spearman: rho, spearman_ci: rhoCi, spearman_minus_haq: overHaq, spearman_minus_haq_ci: overHaqCi, top_pick: rows[pick].label, regret, regret_ci: regretCi };
    console.log(`${r.padEnd(9)}  ${fmt(rho).padStart(8)}  [${fmt(rhoCi[0])}, ${fmt(rhoCi[1])}]  ${fmt(overHaq, 3).padStart(7)} [${fmt(overHaqCi[0])}, ${fmt(overHaqCi[1])}]  ${rows[pick].label.padEnd(22)}  ${fmt(regret).padStart(6)}  [${fmt(regretCi[0])}, ${fmt(regretCi[1])}]`);
  }
  const best = rows[acr.indexOf(Math.max(...acr))];
  console.log(`best test ACR ${fmt(best.acr)} (${best.label}); uniform ${fmt(rows[0].acr)}, knapsack ${fmt(rows[1].acr)}; median ${fmt([...acr].sort((a, b) => a - b)[Math.floor(acr.length / 2)])}`);
  writeFileSync(path.join(out, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
}

async function endToEnd(): Promise<void> {
  const budgets = values.budgets.split(',').map(Number);
  const seeds = values.seeds.split(',').map(Number);
  const baselines: BaselineName[] = ['haq', 'random', 'uniform', 'knapsack'];
  const reports = new Map<string, SearchReport>();
  for (const budget of budgets) {
    for (const seed of seeds) {
      const dir = path.join(out, `budget-${budget}-seed-${seed}`);
      const resume = existsSync(path.join(dir, 'checkpoint.json'));
      const t0 = performance.now();
      const { report } = await search({
        model: values.model, data: values.data, sigma: num('sigma'), budget, seed, episodes: num('episodes'), warmup: Math.min(20, Math.floor(num('episodes') / 3)),
        valImages: num('val-images'), testImages: num('test-images'), n: num('n'), np: values.np ? Number(values.np) : undefined, finalN: num('final-n'),
        finetuneSteps: num('finetune-steps'), finalFinetuneSteps: num('final-finetune-steps'), localSearch: values['local-search'] === undefined ? undefined : Number(values['local-search']),
        reward: values.reward as RewardName, baselines, out: dir, resume, threads,
      });
      console.error(`budget ${budget} seed ${seed}: ${((performance.now() - t0) / 1000).toFixed(0)} s`);
      reports.set(`${budget}/${seed}`, report);
    }
  }
  const draws = num('bootstrap');
  const qat = num('final-finetune-steps');
  const summary: Record<string, unknown> = { model: values.model, budgets, seeds, episodes: num('episodes'), test_images: num('test-images'), final_n: num('final-n'), final_finetune_steps: qat };
  const keys: FinalKey[] = ['arq', 'haq', 'random', 'uniform', 'knapsack'];
  for (const budget of budgets) {
    const runs = seeds.map((s) => reports.get(`${budget}/${s}`)!);
    const radii = (r: SearchReport, k: FinalKey) => r[k]!.certified_radii.map((x) => x ?? 0);
    console.log(`\n${values.model} at ${(100 * budget).toFixed(4)}% BitOps, seeds ${seeds.join(',')}: test ACR (mean over seeds; % of float)`);
    const floatAcr = meanOf(runs.map((r) => r.float!.acr));
    const line: Record<string, unknown> = { float: floatAcr };
    for (const k of keys) {
      const acrs = runs.map((r) => r[k]!.acr);
      line[k] = { acr: acrs, bitops: runs.map((r) => r[k]!.bitops_percent) };
      console.log(`  ${k.padEnd(9)} ${fmt(meanOf(acrs))} (${fmt((100 * meanOf(acrs)) / floatAcr, 1)}%)  per seed ${acrs.map((a) => fmt(a)).join(' ')}`);
    }
    for (const k of keys.slice(1)) {
      const diff = meanOf(runs.map((r) => r.arq!.acr - r[k]!.acr));
      const ci = interval(draws, (rand) => meanOf(runs.map((r) => {
        const a = radii(r, 'arq');
        const b = radii(r, k);
        const idx = resample(a.length, rand);
        return meanOf(idx.map((i) => a[i] - b[i]));
      })));
      line[`arq_minus_${k}`] = { mean: diff, ci };
      console.log(`  ARQ - ${k.padEnd(9)} ${diff >= 0 ? '+' : ''}${fmt(diff, 4)}  95% CI [${fmt(ci[0], 4)}, ${fmt(ci[1], 4)}]${ci[0] > 0 ? '  ARQ above' : ci[1] < 0 ? '  ARQ below' : ''}`);
    }
    summary[String(budget)] = line;
  }
  // The same searches' final numbers with and without their final fine-tune sit side by side.
  writeFileSync(path.join(out, qat > 0 ? `summary.qat${qat}.json` : 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
}

const mode = positionals[0];
if (mode === 'fidelity') await fidelity();
else if (mode === 'end-to-end') await endToEnd();
else {
  console.error('usage: npm run bench -- search-quality <fidelity|end-to-end> [options] (see bench/search-quality.ts)');
  process.exit(1);
}
