/**
 * The ARQ search end to end (search.md, docs/search-design.md): calibrate once, measure every layer's sensitivity
 * once, certify the float model once on the validation subset (which fills the IRS cache), run the searches (the DDPG
 * agent with the chosen reward, the same agent with HAQ's reward, random search with the same episode count), then
 * certify the float model, every winner and the baselines (best uniform policy and sensitivity knapsack under the
 * same rules, W8A8) in full on the test subset, and write report.json, report.html and best-policy.json.
 *
 * Validation images come from the training split (the test split is used only for the final numbers); a model trained
 * on all of it, as the bundled default is, sees optimistic validation figures, which is why final numbers never come
 * from the search. Everything is seeded: the same seed gives the same episodes, whatever the thread count.
 */
import { EventEmitter } from 'node:events';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { trainingSpec, type Dataset } from '../data/index.js';
import { loadModel, type LoadedModel } from '../onnx/model.js';
import { FloatPlan } from '../engine/float-plan.js';
import type { Calibration } from '../quant/calibrate.js';
import type { LayerBits } from '../engine/int-plan.js';
import { makePolicy, policyKey, savePolicy, uniformPolicy, type Policy } from '../quant/policy.js';
import { policyCost } from '../quant/cost.js';
import { intPlanSpec } from '../engine/int-plan.js';
import { exportQdq } from '../onnx/qdq.js';
import { certifyDataset, type RemoteCertifier } from '../smoothing/run.js';
import { runIdentity } from '../smoothing/run-identity.js';
import { readIrsCache } from '../smoothing/irs-cache.js';
import type { JsonValue } from '../smoothing/results.js';
import { cpuInfo } from '../native.js';
import { ArqError } from '../util/errors.js';
import { integerInRange, numberInRange, oneOf } from '../util/check.js';
import { writeReport } from '../report/index.js';
import { QuantizationEnvironment, searchLayers, type SensitivityCosts } from './environment.js';
import { measureSensitivity, sensitivityCosts } from './sensitivity.js';
import { sensitivityKnapsack } from './knapsack.js';
import { rescore } from './rescore.js';
import { writeFileAtomic } from '../util/files.js';
import { cleanAccuracy, DEFAULT_LAMBDA, floatSoft, imageScore, measureKindOf, RewardFunction, type FloatReference, type RemoteMeasurer, type RewardOptions } from './rewards.js';
import { checkResumable, EpisodeLog, readCheckpoint, writeCheckpoint, type Checkpoint } from './checkpoint.js';
import { certifyFinal, copyFinalResults, type FinalSettings } from './final.js';
import type { CandidateBuilder } from './candidate.js';
import { createExplorer } from './explorers.js';
import { FINAL_KEYS, REWARD_NAMES, SEARCH_NAMES, type EpisodeRecord, type FinalEntry, type FinalKey, type FinalTimes, type RepairSummary, type RewardName, type SearchName, type SearchReport, type SensitivityTable } from '../report/types.js';
import { measureTimes } from '../quant/time.js';
import { checkBatch, checkFailureProbability, checkN, checkN0, checkSeed, checkSigma, checkThreads, offsetSeed } from '../engine/settings.js';
import { searchCandidates, searchData, searchIdentity, searchSet, setSampler, spread, type SearchRemote, type SearchRemoteFactory, type SearchSetup } from './units.js';

/** Baselines certified beside ARQ's winner (HAQ and random search also need their searches to run). */
export const BASELINES = ['haq', 'random', 'uniform', 'knapsack', 'w8a8'] as const;
export type BaselineName = (typeof BASELINES)[number];

export interface SearchOptions {
  /** The float ONNX model. */
  model: string;
  /** Data spec; the test split gives the final numbers. Default 'mnist'. */
  data?: string;
  /** Validation data spec (default: the training split of `data`). */
  valData?: string;
  /** Noise level the smoothed classifier is certified at. Default 0.25. */
  sigma?: number;
  /** BitOps budget as a fraction of the float BitOps. Default 0.015625 (the W4A4 point). */
  budget?: number;
  reward?: RewardName;
  /** Episodes per search (the agent's warm-up included). Default 120. */
  episodes?: number;
  /** Warm-up episodes of uniform random actions. Default 20. */
  warmup?: number;
  /**
   * The last episodes of the ARQ and HAQ searches spent on local search around the best policy so far instead of
   * agent episodes (the same number of reward evaluations; random search unchanged). Default: half of the episodes
   * after the warm-up (rounded down); 0 for none.
   */
  localSearch?: number;
  /** Baselines beside ARQ. Default all. */
  baselines?: readonly BaselineName[];
  /** Validation images certified by the float model and by IRS for every candidate. Default 200. */
  valImages?: number;
  /** Validation images of the clean-accuracy (`haq`) reward. Default 2000. */
  cleanImages?: number;
  /** Test images of the final certification. Default 200. */
  testImages?: number;
  /** CERTIFY of the float model on the validation subset: n0, n, alpha. Defaults 100, 10,000, 0.001. */
  n0?: number;
  n?: number;
  alpha?: number;
  /**
   * IRS samples per candidate and image. Default SEARCH_NP (at most n): the search spends its candidates' samples on
   * more images rather than more samples per image, which ranks policies better (docs/search-design.md).
   */
  np?: number;
  /** Estimation samples of the final CERTIFY on the test subset. Default 10,000. */
  finalN?: number;
  /** QAT steps (batches of 128 noisy validation-split images) before each candidate's reward and final CERTIFY. Default 0. */
  finetuneSteps?: number;
  /**
   * QAT steps of each policy of the final numbers (every winner and baseline, HAQ's protocol: search, then fine-tune
   * the result), from the model, instead of the search's own fine-tune; the float entry is not fine-tuned. Default 0.
   * A finished or killed search resumes with another value: only its final numbers are redone (in other files).
   */
  finalFinetuneSteps?: number;
  lambda?: number;
  minBits?: number;
  maxBits?: number;
  /** Keep the first and last layers at maxBits. Default true. */
  pinEnds?: boolean;
  calibrationCount?: number;
  /** Top candidates of each search re-scored on fresh validation images and noise to choose its winner (0: none). Default 8. */
  rescore?: number;
  /** Validation images, and noisy copies of each, of the layer-sensitivity measurement. Defaults 64 and 4. */
  sensitivityImages?: number;
  sensitivityCopies?: number;
  seed?: number;
  threads?: number;
  batch?: number;
  /**
   * Agent episodes proposed per policy update (default 1): the actor proposes this many policies from one state,
   * their rewards are measured together (at once on a queue), then the agent learns from each in turn.
   */
  parallel?: number;
  /** Runs the search's units on a queue's workers (the CLI's --queue); the numbers are those of a local run. */
  remote?: SearchRemoteFactory;
  /** Output directory. */
  out: string;
  /** Continue a killed search in `out`. */
  resume?: boolean;
  /** Replace a search in `out`. */
  overwrite?: boolean;
  signal?: AbortSignal;
}

/** A stage of the run, for progress displays. */
export type SearchStage = 'calibrate' | 'sensitivity' | 'float-validation' | 'float-fresh' | 'rescore' | `search-${SearchName}` | `qat-${FinalKey}` | `final-${FinalKey}` | 'speed' | 'report';

export interface SearchEvents {
  stage: [{ stage: SearchStage; total: number }];
  progress: [{ stage: SearchStage; done: number; total: number }];
  episode: [{ record: EpisodeRecord; best: EpisodeRecord }];
  final: [{ key: FinalKey; entry: FinalEntry }];
}

export interface SearchResult {
  report: SearchReport;
  /** The ARQ winner, as an arq-policy/1 file's content. */
  policy: Policy;
  /** qdq: the winner's quantized model (ONNX QDQ, its grids and codes exactly the certified plan's). */
  files: { report: string; html: string; policy: string; qdq: string; episodes: string };
}

/**
 * A running search: an EventEmitter of progress ('stage', 'progress', 'episode', 'final') that is also awaitable
 * (`await search(options)` gives the SearchResult).
 */
export class SearchRun extends EventEmitter<SearchEvents> implements PromiseLike<SearchResult> {
  readonly done: Promise<SearchResult>;

  constructor(options: SearchOptions) {
    super();
    // Started on the next tick so that listeners attached right after search() see every event.
    this.done = new Promise<void>((resolve) => setImmediate(resolve)).then(() => runSearch(options, this));
  }

  then<A = SearchResult, B = never>(onFulfilled?: ((value: SearchResult) => A | PromiseLike<A>) | null, onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null): Promise<A | B> {
    return this.done.then(onFulfilled, onRejected);
  }
}

/** Starts an ARQ search; await the result, or listen to its progress events. */
export function search(options: SearchOptions): SearchRun {
  return new SearchRun(options);
}

/**
 * IRS samples per candidate and image by default. Measured by reward fidelity (README, "Search quality"): 200 images at
 * 25 samples rank policies better than 50 at 100 or 200, at the same or lower cost per candidate.
 */
export const SEARCH_NP = 25;

const SEARCH_DEFAULTS = {
  data: 'mnist', sigma: 0.25, budget: 0.015625, reward: 'arq' as RewardName, episodes: 120, warmup: 20,
  valImages: 200, cleanImages: 2000, testImages: 200, n0: 100, n: 10_000, alpha: 0.001, finalN: 10_000,
  lambda: DEFAULT_LAMBDA, minBits: 2, maxBits: 8, pinEnds: true, calibrationCount: 256, rescore: 8, sensitivityImages: 64, sensitivityCopies: 4, seed: 0, batch: 400,
  finetuneSteps: 0, finalFinetuneSteps: 0, parallel: 1,
} as const;

/** The options, checked and completed with defaults. */
function resolveOptions(options: SearchOptions) {
  const o = { ...SEARCH_DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) } as Required<Omit<SearchOptions, 'np' | 'valData' | 'threads' | 'signal' | 'baselines' | 'remote' | 'localSearch'>> & SearchOptions;
  const n0 = checkN0(o.n0);
  const n = checkN(o.n, n0);
  const episodes = integerInRange('episodes', o.episodes, 1, 100_000);
  const warmup = integerInRange('warmup', o.warmup, 0, episodes);
  const baselines = [...new Set(o.baselines ?? BASELINES)];
  for (const b of baselines) oneOf('baselines', b, BASELINES);
  return {
    model: o.model, data: o.data, valData: o.valData ?? trainingSpec(o.data), out: o.out,
    sigma: checkSigma(o.sigma),
    budget: numberInRange('budget', o.budget, 0, 1, { exclusiveMin: true }),
    reward: oneOf('reward', o.reward, REWARD_NAMES),
    // the local search needs one rewarded episode before it
    episodes, warmup, localSearch: integerInRange('localSearch', o.localSearch ?? Math.floor((episodes - warmup) / 2), 0, episodes - Math.max(1, warmup)), baselines,
    valImages: integerInRange('valImages', o.valImages, 1, 1_000_000),
    cleanImages: integerInRange('cleanImages', o.cleanImages, 1, 10_000_000),
    testImages: integerInRange('testImages', o.testImages, 1, 10_000_000),
    n0, n, alpha: checkFailureProbability(o.alpha),
    np: integerInRange('np', o.np ?? Math.min(SEARCH_NP, n), 1, n),
    finalN: integerInRange('finalN', o.finalN, 1, 10_000_000),
    finetuneSteps: integerInRange('finetuneSteps', o.finetuneSteps, 0, 10_000_000),
    finalFinetuneSteps: integerInRange('finalFinetuneSteps', o.finalFinetuneSteps, 0, 10_000_000),
    lambda: numberInRange('lambda', o.lambda, 0, 1e6, { exclusiveMin: true }),
    minBits: o.minBits, maxBits: o.maxBits, pinEnds: Boolean(o.pinEnds),
    calibrationCount: integerInRange('calibrationCount', o.calibrationCount, 1, 1_000_000),
    rescore: integerInRange('rescore', o.rescore, 0, 1000),
    sensitivityImages: integerInRange('sensitivityImages', o.sensitivityImages, 1, 1_000_000),
    sensitivityCopies: integerInRange('sensitivityCopies', o.sensitivityCopies, 1, 1_000_000),
    seed: checkSeed(o.seed),
    threads: checkThreads(o.threads ?? cpuInfo().threads),
    batch: checkBatch(o.batch),
    parallel: integerInRange('parallel', o.parallel, 1, 4096),
    remote: o.remote,
    resume: Boolean(o.resume), overwrite: Boolean(o.overwrite), signal: o.signal,
  };
}
type Resolved = ReturnType<typeof resolveOptions>;

/** The settings that shape the results: recorded in the checkpoint and the report, compared on resume. */
function settingsOf(o: Resolved, model: LoadedModel): { [key: string]: JsonValue } {
  return {
    model: model.sha256, data: o.data, val_data: o.valData, sigma: o.sigma, budget: o.budget, reward: o.reward,
    episodes: o.episodes, warmup: o.warmup, baselines: [...o.baselines], val_images: o.valImages, clean_images: o.cleanImages,
    test_images: o.testImages, n0: o.n0, n: o.n, alpha: o.alpha, np: o.np, final_n: o.finalN, finetune_steps: o.finetuneSteps, lambda: o.lambda,
    min_bits: o.minBits, max_bits: o.maxBits, pin_ends: o.pinEnds, calibration_count: o.calibrationCount,
    rescore: o.rescore, sensitivity_images: o.sensitivityImages, sensitivity_copies: o.sensitivityCopies, seed: o.seed,
    // only where it shapes the agents' episodes: a default search's settings (and checkpoints) stay as they were
    ...(o.parallel > 1 ? { parallel: o.parallel } : {}),
    ...(o.localSearch > 0 ? { local_search: o.localSearch } : {}),
    ...(o.finalFinetuneSteps > 0 ? { [FINAL_ONLY_SETTING]: o.finalFinetuneSteps } : {}),
  };
}

/** The one setting that shapes only the final numbers: a resume may change it (finalCertifications' file names follow it). */
const FINAL_ONLY_SETTING = 'final_finetune_steps';

/** What a worker rebuilds this search's state from (units.ts). */
function setupOf(o: Resolved): SearchSetup {
  return {
    data: o.data, valData: o.valData, sigma: o.sigma, seed: o.seed, calibrationCount: o.calibrationCount, finetuneSteps: o.finetuneSteps,
    finalFinetuneSteps: o.finalFinetuneSteps,
    valImages: o.valImages, cleanImages: o.cleanImages, np: o.np, batch: o.batch, minBits: o.minBits, maxBits: o.maxBits,
    sensitivityImages: o.sensitivityImages, sensitivityCopies: o.sensitivityCopies,
  };
}

const OUTPUT_FILES = ['checkpoint.json', 'episodes.jsonl', 'sensitivity.json', 'report.json', 'report.html', 'best-policy.json', 'best-policy.qdq.onnx', 'float-val.tsv', 'float-val.settings.json', 'float-val.summary.json', 'float-val.irs', 'float-fresh.tsv', 'float-fresh.settings.json', 'float-fresh.summary.json', 'float-fresh.irs', 'final'];

function prepareDirectory(o: Resolved): Checkpoint | null {
  mkdirSync(o.out, { recursive: true });
  if (o.resume && o.overwrite) throw new ArqError('resume and overwrite are exclusive');
  const holdsSearch = existsSync(path.join(o.out, 'checkpoint.json')) || existsSync(path.join(o.out, 'episodes.jsonl'));
  if (o.overwrite) {
    for (const file of OUTPUT_FILES) rmSync(path.join(o.out, file), { recursive: true, force: true });
    return null;
  }
  if (holdsSearch && !o.resume) throw new ArqError(`${o.out} holds a search: continue it with --resume, replace it with --overwrite, or choose another --out`);
  return o.resume ? readCheckpoint(o.out) : null;
}

async function runSearch(options: SearchOptions, events: SearchRun): Promise<SearchResult> {
  const o = resolveOptions(options);
  const started = performance.now();
  const timings: Record<string, number> = {};
  const timed = async <T>(stage: string, work: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    try {
      return await work();
    } finally {
      timings[stage] = (timings[stage] ?? 0) + (performance.now() - t0) / 1000;
    }
  };

  const model = await loadModel(o.model);
  const rules = { budget: o.budget, minBits: o.minBits, maxBits: o.maxBits, pinEnds: o.pinEnds };
  new QuantizationEnvironment(model.graph, rules); // checks the budget before any work
  const settings = settingsOf(o, model);
  // Data first: a bad spec must fail before the directory holds a checkpoint that would ask for --resume.
  const setup = setupOf(o);
  const data = await searchData(setup);
  const { val: valDataset, test: testDataset } = data;
  const previous = prepareDirectory(o);
  if (previous) checkResumable(previous, settings, o.out, [FINAL_ONLY_SETTING]);
  const checkpoint: Checkpoint = previous ? { ...previous, settings } : { format: 'arq-search-checkpoint/1', settings, searches: {} };
  writeCheckpoint(o.out, checkpoint);
  events.emit('stage', { stage: 'calibrate', total: 1 });
  const { calibration, candidates, finals: finalCandidates } = await timed('calibrate', () => searchCandidates(model, setup, valDataset, o.threads, path.join(o.out, 'final', 'finetuned')));
  const remote = await o.remote?.({ model, setup, identity: searchIdentity(model, { ...data, calibration }) });
  try {
    const sensitivity = await timed('sensitivity', () => layerSensitivity(o, model, calibration, valDataset, events, remote));
    const env = new QuantizationEnvironment(model.graph, { ...rules, sensitivity: sensitivityCosts(sensitivity) });
    const baselines = budgetedBaselines(env, sensitivity);

    const valSet = { stem: 'float-val', ...searchSet(setup, 'val', data), stage: 'float-validation' } as const;
    const reference = await timed('float-validation', () => floatReference(o, model, valSet, events, remote?.certifier({ set: 'val', policy: null })));
    const rewardFunction = (reward: RewardName) => {
      const options = { reward, lambda: o.lambda, sigma: o.sigma, seed: o.seed, np: o.np, threads: o.threads };
      return new RewardFunction(candidates, reference, options, remote && remoteMeasurer(remote, 'val', options, o.out, valSet.stem));
    };
    const rewards = rewardFunction(o.reward);
    const haqRewards = rewardFunction('haq');

    const log = EpisodeLog.open(o.out, previous);
    // ARQ and random search share one reward function (and so its measured policies); HAQ's is its own.
    const rewardsOf = (name: SearchName) => (name === 'haq' ? haqRewards : rewards);
    for (const name of SEARCH_NAMES) rewardsOf(name).recall(log.records.filter((r) => r.search === name));
    try {
      const searches: SearchName[] = ['arq', ...(['haq', 'random'] as const).filter((s) => o.baselines.includes(s))];
      for (const name of searches) {
        await timed(`search-${name}`, () => runEpisodes(name, rewardsOf(name), o, env, baselines, model, checkpoint, log, events));
      }
    } finally {
      log.close();
    }
    if (o.rescore > 0) await timed('rescore', () => rescoreSearches(o, model, candidates, searchSet(setup, 'fresh', data), log.records, sensitivityCosts(sensitivity), checkpoint, events, remote));

    const certified = await timed('final', () => finalCertifications(o, model, finalCandidates, calibration, testDataset, checkpoint, log.records, env, baselines, events, remote));
    events.emit('stage', { stage: 'speed', total: 1 });
    const { time, finals } = await timed('speed', () => timeFinals(o, model, calibration, certified));
    events.emit('stage', { stage: 'report', total: 1 });
    const policy = makePolicy(model.sha256, winnerOf('arq', checkpoint, log.records)!.policy);
    timings.total = (performance.now() - started) / 1000;
    const report: SearchReport = {
      format: 'arq-search-report/1', created: new Date().toISOString(),
      model: { path: o.model, sha256: model.sha256 }, data: testDataset.name, sigma: o.sigma, budget: o.budget, reward: o.reward,
      settings: { ...settings, threads: o.threads, batch: o.batch, val_data_name: valDataset.name },
      layers: env.layers.map((l) => ({ name: l.name, op: l.op, macs: l.macs, params: l.params })),
      episodes: log.records, timings,
      rules: { budget: o.budget, min_bits: o.minBits, max_bits: o.maxBits, pin_ends: o.pinEnds },
      repair: repairSummaries(log.records), sensitivity, ...(checkpoint.rescoring ? { rescoring: checkpoint.rescoring } : {}), time, ...finals,
    };
    const policyFile = path.join(o.out, 'best-policy.json');
    await savePolicy(policyFile, policy);
    // The winner as deployed: a QDQ file of the very plan certified (rebuilt: the fine-tune, if any, is seeded).
    const qdqFile = path.join(o.out, 'best-policy.qdq.onnx');
    const { graph: winnerGraph } = await finalCandidates.build(policy, o.signal);
    writeFileAtomic(qdqFile, exportQdq(winnerGraph, intPlanSpec(winnerGraph, policy, calibration)));
    const { json, html } = await writeReport(o.out, report);
    return { report, policy, files: { report: json, html, policy: policyFile, qdq: qdqFile, episodes: path.join(o.out, 'episodes.jsonl') } };
  } finally {
    await remote?.close();
  }
}

/** Where a float reference's files go, and its noise seed. */
export interface ReferenceSet {
  /** File stem in the search directory ('float-val' or 'float-fresh'). */
  readonly stem: string;
  readonly dataset: Dataset;
  readonly seed: number;
  readonly stage: 'float-validation' | 'float-fresh';
}

/** The settings a float reference depends on (a search's resolved options, or a benchmark's). */
export type ReferenceOptions = Pick<Resolved, 'valImages' | 'cleanImages' | 'sigma' | 'batch' | 'threads' | 'out' | 'resume' | 'n0' | 'n' | 'alpha' | 'np' | 'signal'>;

/**
 * CERTIFY of the float model on a validation subset (writing the IRS cache, resumable; by `remote` when given) and
 * its clean accuracy.
 */
export async function floatReference(o: ReferenceOptions, model: LoadedModel, set: ReferenceSet, events?: SearchRun, remote?: RemoteCertifier): Promise<FloatReference> {
  const { dataset, seed, stage } = set;
  const certifiedSet = spread(dataset, o.valImages);
  const cleanSet = spread(dataset, o.cleanImages);
  const plan = FloatPlan.build(model.graph);
  const sampler = setSampler(model, plan, o.sigma, seed, o.batch, o.threads);
  const out = path.join(o.out, `${set.stem}.tsv`);
  const cache = path.join(o.out, `${set.stem}.irs`);
  const resume = o.resume && existsSync(out) && existsSync(cache);
  events?.emit('stage', { stage, total: certifiedSet.max });
  const { summary } = await certifyDataset({
    sampler, dataset, out, cache, identity: runIdentity({ model, engine: 'float', seed }),
    n0: o.n0, n: o.n, alpha: o.alpha, skip: certifiedSet.skip, max: certifiedSet.max, resume, overwrite: !resume, signal: o.signal, remote,
    onImage: (done, total) => events?.emit('progress', { stage, done, total }),
  });
  const entries = readIrsCache(cache).entries;
  const { indices, labels } = certifiedSet.set;
  const score = indices.reduce((sum, idx, k) => {
    const entry = entries.get(idx)!;
    return sum + imageScore(entry.prediction === labels[k] ? entry.radius : 0, floatSoft(entry, labels[k], o.np, o.sigma));
  }, 0) / indices.length;
  return {
    certified: certifiedSet.set, cache: entries, n0: o.n0, alpha: o.alpha, acr: summary.acr, smoothedAccuracy: summary.clean_accuracy, score,
    clean: cleanSet.selected, cleanAccuracy: await cleanAccuracy(plan, cleanSet.selected, o.threads),
  };
}

/** Episodes per group, on a queue, of proposals that do not depend on rewards (random search, the agents' warm-up). */
const INDEPENDENT_GROUP = 16;

/**
 * One search's episodes, from its checkpointed progress to o.episodes, in groups: the explorer proposes a group's
 * policies from one state, their rewards are measured together, then it learns from each episode in turn; the
 * checkpoint follows every group (a kill loses at most the group in flight, which a resumed run redoes alike). Past
 * the agents' warm-up a group is o.parallel episodes; proposals that no reward precedes (random search, the
 * warm-up, which ends a group) come out the same in groups of any size, so on a queue they go at least
 * INDEPENDENT_GROUP at once.
 */
async function runEpisodes(
  name: SearchName, rewards: RewardFunction, o: Resolved, env: QuantizationEnvironment, baselines: BudgetedBaselines, model: LoadedModel,
  checkpoint: Checkpoint, log: EpisodeLog, events: SearchRun,
): Promise<void> {
  const seed = offsetSeed(o.seed, SEARCH_NAMES.indexOf(name));
  const progress = checkpoint.searches[name] ?? { episodes: 0, best: null, state: null };
  const seeds = [baselines.knapsack, baselines.uniform].filter((b): b is [number, number][] => b !== null);
  const explorer = createExplorer(name, env, seed, { episodes: o.episodes, warmup: o.warmup, seeds, localSearch: o.localSearch }, progress.state);
  const free = o.remote ? Math.max(o.parallel, INDEPENDENT_GROUP) : o.parallel;
  // A group ends where the warm-up or the agent's episodes end: the local search starts from a rewarded incumbent.
  const localStart = o.episodes - o.localSearch;
  const groupAt = (first: number) => {
    if (explorer.independent) return free;
    if (explorer.isWarmup(first)) return Math.min(free, o.warmup - first);
    return first < localStart ? Math.min(o.parallel, localStart - first) : o.parallel;
  };
  events.emit('stage', { stage: `search-${name}`, total: o.episodes });
  for (let first = progress.episodes, group = groupAt(first); first < o.episodes; first += group, group = groupAt(first)) {
    o.signal?.throwIfAborted();
    const t0 = performance.now();
    const episodes = Array.from({ length: Math.min(group, o.episodes - first) }, (_, k) => first + k);
    const choices = episodes.map((episode) => explorer.choose(episode));
    const agentChoose = (performance.now() - t0) / 1000 / episodes.length;
    const outcomes = await rewards.evaluateAll(choices.map((choice) => makePolicy(model.sha256, choice.outcome.layers)), o.signal);
    const measured = performance.now();
    const records: EpisodeRecord[] = [];
    for (const [k, episode] of episodes.entries()) {
      const t1 = performance.now();
      await explorer.learn(episode, choices[k], outcomes[k].reward);
      const agentLearn = (performance.now() - t1) / 1000;
      const { layers, actions, repair } = choices[k].outcome;
      const outcome = outcomes[k];
      records.push({
        search: name, episode, warmup: explorer.isWarmup(episode), ...(explorer.isLocalSearch(episode) ? { local_search: true } : {}), actions, policy: layers,
        repair: { lowered: repair.lowered, bitops_removed_percent: 100 * repair.bitopsRemoved },
        bitops_percent: policyCost(model.graph, makePolicy(model.sha256, layers)).bitopsPercent, reward: outcome.reward, reward_parts: outcome.parts, repeated: outcome.repeated,
        timings: {
          quantize: outcome.quantizeSeconds, finetune: outcome.finetuneSeconds, certify: outcome.certifySeconds, agent: agentChoose + agentLearn,
          // the group's proposing and measuring shared among its episodes, and this episode's learning
          total: (measured - t0) / 1000 / episodes.length + agentLearn,
        },
      });
    }
    const bests = records.map((record) => {
      log.append(record);
      if (!progress.best || record.reward > progress.best.reward) progress.best = record;
      return progress.best;
    });
    progress.episodes = first + episodes.length;
    // A finished search needs no state to resume (and the agent's is megabytes of weights).
    progress.state = progress.episodes < o.episodes ? explorer.save() : null;
    checkpoint.searches[name] = progress;
    writeCheckpoint(o.out, checkpoint);
    for (const [k, record] of records.entries()) {
      events.emit('episode', { record, best: bests[k] });
      events.emit('progress', { stage: `search-${name}`, done: record.episode + 1, total: o.episodes });
    }
  }
}

/** Measures a set's candidates on the remote, against the float reference whose IRS cache is DIR/STEM.irs. */
function remoteMeasurer(remote: SearchRemote, set: 'val' | 'fresh', options: RewardOptions, dir: string, stem: string): RemoteMeasurer {
  const measure = measureKindOf(options.reward);
  // read at the first measurement: the reference's certification has finished its cache by then
  let reference: string | null = null;
  return (policies, signal) => {
    if (measure === 'irs') reference ??= readFileSync(path.join(dir, `${stem}.irs`), 'utf8');
    return remote.measure({ set, measure, policies: policies.map((p) => [...p.layers]) }, reference, signal);
  };
}

/** A search's winner: the re-scoring's choice when there was one, else its best search-time reward. */
function winnerOf(name: SearchName, checkpoint: Checkpoint, records: readonly EpisodeRecord[]): EpisodeRecord | null {
  const chosen = checkpoint.rescoring?.[name]?.winner_episode;
  if (chosen === undefined) return checkpoint.searches[name]?.best ?? null;
  return records.find((r) => r.search === name && r.episode === chosen)!;
}

/** Re-scores each finished search's top candidates on fresh images and noise (resumable through the checkpoint). */
async function rescoreSearches(
  o: Resolved, model: LoadedModel, candidates: CandidateBuilder, freshSet: { dataset: Dataset; seed: number }, records: readonly EpisodeRecord[],
  sensitivity: readonly SensitivityCosts[], checkpoint: Checkpoint, events: SearchRun, remote: SearchRemote | undefined,
): Promise<void> {
  const names = SEARCH_NAMES.filter((name) => checkpoint.searches[name] && !checkpoint.rescoring?.[name]);
  if (names.length === 0) return;
  const { seed } = freshSet;
  const set = { stem: 'float-fresh', ...freshSet, stage: 'float-fresh' } as const;
  const reference = await floatReference(o, model, set, events, remote?.certifier({ set: 'fresh', policy: null }));
  events.emit('stage', { stage: 'rescore', total: names.length });
  // One fresh function per reward, as in the searches: a candidate in two searches' top lists is measured once.
  const fresh = new Map<RewardName, RewardFunction>();
  const freshFor = (reward: RewardName) => {
    const options = { reward, lambda: o.lambda, sigma: o.sigma, seed, np: o.np, threads: o.threads };
    if (!fresh.has(reward)) fresh.set(reward, new RewardFunction(candidates, reference, options, remote && remoteMeasurer(remote, 'fresh', options, o.out, set.stem)));
    return fresh.get(reward)!;
  };
  for (const [k, name] of names.entries()) {
    const result = await rescore(records.filter((r) => r.search === name), o.rescore, freshFor(name === 'haq' ? 'haq' : o.reward), model.sha256, sensitivity, o.signal);
    checkpoint.rescoring = { ...checkpoint.rescoring, [name]: result };
    writeCheckpoint(o.out, checkpoint);
    events.emit('progress', { stage: 'rescore', done: k + 1, total: names.length });
  }
}

/** Per search, how often the repair acted and how much it removed. */
function repairSummaries(records: readonly EpisodeRecord[]): Partial<Record<SearchName, RepairSummary>> {
  const out: Partial<Record<SearchName, RepairSummary>> = {};
  for (const name of SEARCH_NAMES) {
    const mine = records.filter((r) => r.search === name);
    if (mine.length === 0) continue;
    const repaired = mine.filter((r) => r.repair.lowered > 0);
    out[name] = {
      episodes: mine.length, repaired: repaired.length, lowered: repaired.reduce((s, r) => s + r.repair.lowered, 0),
      mean_bitops_removed_percent: repaired.length ? repaired.reduce((s, r) => s + r.repair.bitops_removed_percent, 0) / repaired.length : 0,
    };
  }
  return out;
}

/** The budgeted baselines under the search's rules: the best uniform policy and the sensitivity knapsack (null where none fits). */
interface BudgetedBaselines {
  uniform: [number, number][] | null;
  uniformLabel: string;
  knapsack: [number, number][] | null;
}

function budgetedBaselines(env: QuantizationEnvironment, sensitivity: SensitivityTable): BudgetedBaselines {
  const best = env.bestUniform();
  const costs = sensitivityCosts(sensitivity);
  const knapsack = sensitivityKnapsack(
    env.layers.map((layer, i) => ({ macs: layer.macs, pinned: env.pinned(i), ...costs[i] })), env.budgetBitops, env.minBits, env.maxBits,
  );
  return {
    uniform: best && env.layers.map((_, i): [number, number] => (env.pinned(i) ? [env.maxBits, env.maxBits] : [best.wbits, best.abits])),
    uniformLabel: best ? `uniform W${best.wbits}A${best.abits}` : 'uniform',
    knapsack,
  };
}

/** The layer sensitivity of the search's model, measured once and kept in DIR/sensitivity.json for a resumed run. */
async function layerSensitivity(o: Resolved, model: LoadedModel, calibration: Calibration, valDataset: Dataset, events: SearchRun, remote: SearchRemote | undefined): Promise<SensitivityTable> {
  const file = path.join(o.out, 'sensitivity.json');
  if (o.resume && existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as SensitivityTable;
  events.emit('stage', { stage: 'sensitivity', total: searchLayers(model.graph).length });
  const onLayer = (done: number, total: number) => events.emit('progress', { stage: 'sensitivity', done, total });
  const table = await measureSensitivity(model.graph, calibration, valDataset, {
    sigma: o.sigma, seed: o.seed, images: o.sensitivityImages, copies: o.sensitivityCopies, minBits: o.minBits, maxBits: o.maxBits,
    threads: o.threads, signal: o.signal, onLayer,
  }, remote && ((layers) => remote.sensitivity(layers, o.signal, onLayer)));
  writeFileAtomic(file, `${JSON.stringify(table)}\n`);
  return table;
}

/**
 * The final table's time per image on this CPU (quant/time.ts), once for all entries after their certification, on
 * the search's threads and batch: the float model on arq's fp32 plan, each policy's integer plan built from the
 * search's calibration and the model's weights (a fine-tune changes weights, not the plan's work). Returns the
 * entries with their `time`, and how they were measured.
 */
async function timeFinals(
  o: Resolved, { graph, sha256 }: LoadedModel, calibration: Calibration, certified: Partial<Record<FinalKey, FinalEntry>>,
): Promise<{ time: FinalTimes; finals: Partial<Record<FinalKey, FinalEntry>> }> {
  const keys = FINAL_KEYS.filter((key) => certified[key]);
  const policies = keys.map((key) => certified[key]!.policy);
  const { settings, w8a8, times } = await measureTimes(graph, policies.map((layers) => (layers ? makePolicy(sha256, layers) : null)), { batch: o.batch, threads: o.threads, calibration, signal: o.signal });
  return { time: { ...settings, w8a8 }, finals: Object.fromEntries(keys.map((key, i) => [key, { ...certified[key]!, time: times[i] }])) };
}

/** Full CERTIFY on the test subset of the float model, each search's winner and the baselines. */
async function finalCertifications(
  o: Resolved, model: LoadedModel, candidates: CandidateBuilder, calibration: Calibration, testDataset: Dataset, checkpoint: Checkpoint,
  records: readonly EpisodeRecord[], env: QuantizationEnvironment, baselines: BudgetedBaselines, events: SearchRun, remote: SearchRemote | undefined,
): Promise<Partial<Record<FinalKey, FinalEntry>>> {
  const test = spread(testDataset, o.testImages);
  const entries: { key: FinalKey; label: string; policy: Policy | null }[] = [{ key: 'float', label: 'float', policy: null }];
  const asPolicy = (layers: LayerBits[]): Policy => makePolicy(model.sha256, layers);
  const fromSearch = (key: SearchName, label: string) => {
    const winner = winnerOf(key, checkpoint, records);
    if (winner) entries.push({ key, label, policy: asPolicy(winner.policy) });
  };
  fromSearch('arq', 'ARQ');
  fromSearch('haq', 'HAQ');
  fromSearch('random', 'random search');
  if (o.baselines.includes('uniform') && baselines.uniform) entries.push({ key: 'uniform', label: baselines.uniformLabel, policy: asPolicy(env.named(baselines.uniform)) });
  if (o.baselines.includes('knapsack') && baselines.knapsack) entries.push({ key: 'knapsack', label: 'sensitivity knapsack', policy: asPolicy(env.named(baselines.knapsack)) });
  if (o.baselines.includes('w8a8')) entries.push({ key: 'w8a8', label: 'W8A8', policy: uniformPolicy(model.graph, model.sha256, 8, 8) });

  const finals: Partial<Record<FinalKey, FinalEntry>> = {};
  // The same policy certified again gives the same results (same plan, test images and noise): an entry whose policy
  // an earlier entry holds (a winner that is also a baseline) continues a copy of that entry's finished results.
  const certifiedAs = new Map<string, string>();
  for (const { key, label, policy } of entries) {
    // A fine-tuned policy's results go to their own file: a resume with another --final-finetune-steps keeps both.
    const file = policy && o.finalFinetuneSteps > 0 ? `${key}.qat${o.finalFinetuneSteps}` : key;
    const same = policy && certifiedAs.get(policyKey(policy.layers));
    if (same) copyFinalResults(o.out, same, file);
    else if (policy) certifiedAs.set(policyKey(policy.layers), file);
    if (policy && o.finalFinetuneSteps > 0 && !remote) events.emit('stage', { stage: `qat-${key}`, total: o.finalFinetuneSteps });
    const stage = `final-${key}` as const;
    const settings: FinalSettings = {
      dir: o.out, model, candidates, calibration: calibration.settings, test: testDataset, skip: test.skip, max: test.max, sigma: o.sigma, seed: o.seed,
      n0: o.n0, n: o.finalN, alpha: o.alpha, batch: o.batch, threads: o.threads, resume: o.resume || Boolean(same), signal: o.signal,
      remote: remote?.certifier({ set: 'test', policy: policy ? [...policy.layers] : null }),
      onFineTune: ({ step, steps }) => events.emit('progress', { stage: `qat-${key}`, done: step, total: steps }),
      onPlan: () => events.emit('stage', { stage, total: test.max }),
      onImage: (done, total) => events.emit('progress', { stage, done, total }),
    };
    const bitops = policy ? policyCost(model.graph, policy).bitopsPercent : 100;
    finals[key] = await certifyFinal(file, label, policy, bitops, settings);
    events.emit('final', { key, entry: finals[key] });
  }
  return Object.fromEntries(FINAL_KEYS.filter((k) => finals[k]).map((k) => [k, finals[k]!]));
}
