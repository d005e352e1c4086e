/**
 * The measured cost of a policy: seconds per image of its plan on this CPU, beside the modelled BitOps of cost.ts,
 * with W8A8 of the same model timed in the same rounds, so that the ratio says what the lower widths buy in time.
 * BitOps models arithmetic at the policy's widths; arq's integer engine runs every layer on its int8 path whatever
 * its widths (README, "Sub-byte kernels"), so on this engine time does not follow BitOps, and only a measurement
 * tells. When a layer gets a faster kernel for its widths, the measurement sees it without a change here.
 *
 * Measured, not modelled: each distinct policy's plan is built and run on `batch` images drawn uniformly from [0, 1)
 * (the seeded generator). A plan's speed depends on neither its inputs nor its grids, so a calibration on those same
 * images serves when the caller has none. Warm-up (three runs of each plan), then `repeats` interleaved rounds in
 * rotating order, each plan running enough batches to last `roundMs` (util/timing.ts): the median round gives a
 * plan's time, its fastest and slowest rounds the spread, and each round's ratio to the W8A8 round beside it the
 * ratio's spread. Defaults keep it to about a second per plan.
 */
import type { Graph } from '../graph/ir.js';
import { FloatPlan } from '../engine/float-plan.js';
import { IntPlan, type ActivationStatistics } from '../engine/int-plan.js';
import { checkBatch, checkSeed, checkThreads } from '../engine/settings.js';
import { makeDataset } from '../data/index.js';
import { cpuInfo, type IsaName } from '../native.js';
import { integerInRange } from '../util/check.js';
import { Random } from '../util/random.js';
import { interleavedSamples, median, type Engine } from '../util/timing.js';
import { calibrate } from './calibrate.js';
import { policyKey, uniformPolicy, validatePolicy, type Policy } from './policy.js';

/** Options of measureTimes. */
export interface TimeOptions {
  /** Images per run of a plan. Default 64. */
  readonly batch?: number;
  /** Threads of arq's pool. Default: the machine's hardware threads. */
  readonly threads?: number;
  /** Timed rounds; the median is reported. Default 5. */
  readonly repeats?: number;
  /** Milliseconds each plan runs per round (at least one batch). Default 100. */
  readonly roundMs?: number;
  /** Seed of the random images. Default 0. */
  readonly seed?: number;
  /** The grids' statistics (a search passes its own); default: a calibration on the random images. */
  readonly calibration?: ActivationStatistics;
  /** Each plan's memory limit per call (PlanOptions.maxMemory). */
  readonly maxMemory?: number;
  /** Checked before each plan's turn: an aborted signal stops the measurement with its reason. */
  readonly signal?: AbortSignal;
}

/** How the times were measured (field names are part of `arq info --json` and report.json). */
export interface TimeSettings {
  /** 'int' for every policy; the float model's time (a null entry) comes from arq's fp32 plan. */
  readonly engine: 'int';
  /** The ISA level the kernels ran at (ARQ_ISA may cap it). */
  readonly isa: IsaName;
  /** The best ISA level this CPU has. */
  readonly cpu: IsaName;
  /** Images per run of a plan. */
  readonly batch: number;
  /** Threads of arq's pool each run had. */
  readonly threads: number;
  /** Timed rounds (the reported time is the median round's). */
  readonly repeats: number;
  /** Milliseconds each plan ran per round, at least (at least one batch). */
  readonly round_ms: number;
  /** What the plans ran on. */
  readonly inputs: string;
}

/** One plan's measured time. */
export interface MeasuredTime {
  /** 'float' for the float model (arq's fp32 plan), 'int' for a policy's integer plan. */
  readonly engine: 'int' | 'float';
  /** The kernel families of the plan at this CPU's ISA level (NativePlan.kernels; with the table-lookup GEMM where lut_dispatch picks it). */
  readonly kernels: string;
  /** The median round's seconds per image. */
  readonly seconds_per_image: number;
  /** Fastest and slowest round. */
  readonly seconds_per_image_range: readonly [number, number];
  /** seconds_per_image over W8A8's (above 1: slower than W8A8). */
  readonly time_vs_w8a8: number;
  /** Lowest and highest per-round ratio to W8A8's round: how far the machine's drift moves the ratio. */
  readonly time_vs_w8a8_range: readonly [number, number];
}

/** What measureTimes returns: how it measured, W8A8's time, and each entry's. */
export interface TimeMeasurement {
  /** How the times were measured. */
  readonly settings: TimeSettings;
  /** Uniform W8A8 of the same model, the reference every ratio divides by. */
  readonly w8a8: MeasuredTime;
  /** One per requested entry, in order (null: the float model). */
  readonly times: readonly MeasuredTime[];
}

/** The settings of `options` with their defaults, each checked (an ArqError names the first bad one). */
export function checkTimeOptions(options: TimeOptions): { batch: number; threads: number; repeats: number; roundMs: number; seed: number } {
  return {
    batch: checkBatch(options.batch ?? 64),
    threads: checkThreads(options.threads ?? cpuInfo().threads),
    repeats: integerInRange('repeats', options.repeats ?? 5, 1, 1000),
    roundMs: integerInRange('roundMs', options.roundMs ?? 100, 1, 600_000),
    seed: checkSeed(options.seed ?? 0),
  };
}

/**
 * Times `entries` (policies of `graph`, or null for the float model) and W8A8 of the same graph, in the same rounds.
 * Throws an ArqError naming the entry and layer when a policy does not fit the graph (validatePolicy's rules), a
 * setting when one is out of range (checkTimeOptions), and the node when the integer plan cannot run the graph.
 */
export async function measureTimes(graph: Graph, entries: readonly (Policy | null)[], options: TimeOptions = {}): Promise<TimeMeasurement> {
  entries.forEach((entry, i) => entry && validatePolicy(entry, graph, entry.model, { source: `policy ${i + 1} of ${entries.length}` }));
  const { batch, threads, repeats, roundMs, seed } = checkTimeOptions(options);
  const [c, h, w] = graph.input.shape;
  const random = Random.fromSeed(seed);
  const images = Float32Array.from({ length: batch * c * h * w }, () => random.uniform());
  const inputs = `${batch} images uniform on [0, 1), seed ${seed}`;
  const calibration = options.calibration ??
    (await calibrate(graph, makeDataset({ name: inputs, shape: [c, h, w], images, labels: new Int32Array(batch) }), { sigma: 0, count: batch, threads, maxMemory: options.maxMemory }));
  // One plan per distinct entry, W8A8 first: a policy equal to W8A8 (or to another entry) is timed once and shares it.
  const keyOf = (entry: Policy | null) => (entry ? policyKey(entry.layers) : 'float');
  const planOptions = { maxMemory: options.maxMemory };
  const plans = new Map<string, { engine: 'int' | 'float'; kernels: string; run: Engine['run'] }>();
  for (const entry of [uniformPolicy(graph, entries.find((e) => e)?.model ?? '', 8, 8), ...entries]) {
    const key = keyOf(entry);
    if (plans.has(key)) continue;
    // create, not build: a policy's weight codes and grids take 0.1-0.4 s, with a turn of the event loop per layer.
    const plan = entry ? await IntPlan.create(graph, entry, calibration, planOptions) : FloatPlan.build(graph, planOptions);
    plans.set(key, { engine: entry ? 'int' : 'float', kernels: plan.kernels, run: (x, n) => plan.run(x, n, threads) });
  }
  const keys = [...plans.keys()];
  const engines = keys.map((label) => ({ label, run: plans.get(label)!.run }));
  const rates = await interleavedSamples(engines, images, batch, repeats, roundMs, options.signal);
  const seconds = rates.map((rounds) => rounds.map((rate) => 1 / rate));
  const timeOf = (key: string): MeasuredTime => {
    const mine = seconds[keys.indexOf(key)];
    const perImage = median(mine);
    const ratios = mine.map((s, round) => s / seconds[0][round]);
    return {
      engine: plans.get(key)!.engine,
      kernels: plans.get(key)!.kernels,
      seconds_per_image: perImage,
      seconds_per_image_range: [Math.min(...mine), Math.max(...mine)],
      time_vs_w8a8: perImage / median(seconds[0]),
      time_vs_w8a8_range: [Math.min(...ratios), Math.max(...ratios)],
    };
  };
  const { active, detected } = cpuInfo();
  return {
    settings: { engine: 'int', isa: active, cpu: detected, batch, threads, repeats, round_ms: roundMs, inputs },
    w8a8: timeOf(keys[0]),
    times: entries.map((entry) => timeOf(keyOf(entry))),
  };
}
