/**
 * Building an integer plan: the graph lowered once, as for the fp32 plan (graph/lower.ts, same fused clamps), with
 * per-layer weight codes and scales (grid.ts) at the policy's bit widths, and every tensor's grid from calibration
 * statistics, read at the plan values the statistics were recorded under once checked to be this lowering's.
 * Carriers are 8-bit; each layer reads its input on its own abits grid; pools, clamps and reshapes keep their
 * input's grid; the layer that produces the network output writes float logits.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Graph } from '../graph/ir.js';
import { lowerGraph, type LoweredGraph } from '../graph/lower.js';
import { addon, withStack, type IntervalBounds, type IntervalOptions, type IntPlanOp, type IntPlanSpec, type NativeGrid, type NativeIntPlan, type VerifyRequest, type VerifyResult } from '../native.js';
import { NativePlan, planMaxMemory, type PlanOptions } from './native-plan.js';
import { ArqError } from '../util/errors.js';
import { activationGrid, quantizeWeights } from './grid.js';

/** Bins of each calibration histogram. */
export const HISTOGRAM_BINS = 2048;

/** The bit widths of one quantizable layer: `wbits` for its weights, `abits` for its input activation. */
export interface LayerBits {
  readonly name: string;
  readonly wbits: number;
  readonly abits: number;
}

/** What an integer plan reads of a policy (quant/policy.ts): the bit widths of every quantizable layer. */
export interface BitWidths {
  readonly layers: readonly LayerBits[];
}

/**
 * What an integer plan reads of a calibration (quant/calibrate.ts): per plan value of the lowering that recorded them
 * (graph/lower.ts), the observed [min, max] and a histogram of HISTOGRAM_BINS equal bins over it (FloatPlan's
 * observeRanges and observeHistograms), with that lowering's numbering. A plan reads them only for a graph its own
 * lowering numbers alike (checkStatistics): the same graph, or one with new weights such as a QAT result.
 */
export interface ActivationStatistics {
  /** The plan value of every IR value in the lowering the statistics were recorded under (fused clamps share one). */
  readonly valueOf: ReadonlyMap<string, number>;
  /** [min, max] per plan value. */
  readonly ranges: Float32Array;
  /** HISTOGRAM_BINS counts per plan value over its range. */
  readonly histograms: Float64Array;
}

/**
 * Throws an ArqError unless `statistics` were recorded under a lowering that numbers the values as `lowered` does:
 * every IR value at the same plan value, no value more or less, and a range and a histogram per plan value. Grids
 * read for the wrong values would be a silently different network. `what` names the statistics in the message.
 */
export function checkStatistics(lowered: LoweredGraph, statistics: ActivationStatistics, what = 'the calibration'): void {
  const stored = statistics.valueOf;
  const mismatch = [...lowered.valueOf].find(([name, value]) => stored.get(name) !== value) ?? [...stored].find(([name]) => !lowered.valueOf.has(name));
  if (mismatch) throw new ArqError(`${what} does not fit the graph (value '${mismatch[0]}')`);
  const { values } = lowered.spec;
  if (statistics.ranges.length !== 2 * values || statistics.histograms.length !== HISTOGRAM_BINS * values) {
    throw new ArqError(`${what} has ${Math.floor(statistics.ranges.length / 2)} values, the graph ${values}`);
  }
}

/**
 * Weight codes and activation grids are pure functions of (weights, bits) and (calibration, value, bits); a search
 * builds hundreds of plans from one graph and one calibration, so both are memoised, keyed by the very arrays and
 * calibration object they come from (weak keys: a fine-tuned graph's new arrays never hit an old entry).
 */
const weightCodes = new WeakMap<Float32Array, Map<number, ReturnType<typeof quantizeWeights>>>();
const activationGrids = new WeakMap<ActivationStatistics, Map<string, ReturnType<typeof activationGrid>>>();

function memo<K extends object, V>(cache: WeakMap<K, Map<string | number, V>>, owner: K, key: string | number, make: () => V): V {
  let entries = cache.get(owner);
  if (!entries) cache.set(owner, (entries = new Map()));
  let value = entries.get(key);
  if (value === undefined) entries.set(key, (value = make()));
  return value;
}

export function intPlanSpec(graph: Graph, policy: BitWidths, calibration: ActivationStatistics): IntPlanSpec {
  return intPlanSpecOfLowered(lowerGraph(graph), policy, calibration);
}

/**
 * intPlanSpec of a graph already lowered: op i of the result is op i of `lowered.spec` (QAT reads each layer's float
 * weights there). Throws when `calibration` was recorded under another numbering (checkStatistics).
 */
export function intPlanSpecOfLowered(lowered: LoweredGraph, policy: BitWidths, calibration: ActivationStatistics): IntPlanSpec {
  const steps = specSteps(lowered, policy, calibration);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/** intPlanSpec with a turn of the event loop after each layer: the clip searches of a whole network take 0.1-0.4 s. */
async function intPlanSpecBetweenTurns(graph: Graph, policy: BitWidths, calibration: ActivationStatistics): Promise<IntPlanSpec> {
  const steps = specSteps(lowerGraph(graph), policy, calibration);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
    await nextTurn();
  }
}

/** The spec of intPlanSpec, pausing (yield) after each layer's weight codes and grids, the costly steps. */
function* specSteps(lowered: LoweredGraph, policy: BitWidths, calibration: ActivationStatistics): Generator<void, IntPlanSpec> {
  checkStatistics(lowered, calibration);
  const { spec } = lowered;
  const bits = new Map(policy.layers.map((layer) => [layer.name, layer]));
  const gridOf = (value: number, width: number) => memo(activationGrids, calibration, `${value}:${width}`, () => {
    const histogram = calibration.histograms.subarray(value * HISTOGRAM_BINS, (value + 1) * HISTOGRAM_BINS);
    return activationGrid(calibration.ranges[2 * value], calibration.ranges[2 * value + 1], histogram, width);
  });
  const grids: (NativeGrid | null)[] = new Array<NativeGrid | null>(spec.values).fill(null);
  const isFloat = new Array<boolean>(spec.values).fill(false);
  isFloat[0] = true;
  const carrier = (value: number): NativeGrid => {
    const { scale, zero } = gridOf(value, 8);
    return { scale, zero };
  };
  const ops: IntPlanOp[] = [];
  for (const op of spec.ops) {
    const input = op.inputs[0];
    const out = op.output;
    switch (op.op) {
      case 'conv':
      case 'gemm': {
        const layer = bits.get(op.name!);
        if (!layer) throw new ArqError(`the policy has no bit widths for layer '${op.name}'`);
        isFloat[out] = out === spec.output;
        grids[out] = isFloat[out] ? null : carrier(out);
        const channels = op.op === 'conv' ? op.outChannels : op.outFeatures;
        const { codes, scales } = memo(weightCodes, op.weight, layer.wbits, () => quantizeWeights(op.weight, channels, layer.wbits));
        const { scale, zero } = gridOf(input, layer.abits);
        const { weight: _float, ...structure } = op;
        void _float;
        ops.push({ ...structure, weight: codes, wbits: layer.wbits, weightScales: scales, inputGrid: { scale, zero, bits: layer.abits } });
        yield;
        break;
      }
      case 'add':
        grids[out] = carrier(out);
        ops.push(op);
        break;
      case 'elementwise':
        if (!isFloat[input]) throw new ArqError(`node '${op.name}': elementwise operators are supported only before the first layer`);
        isFloat[out] = true;
        ops.push(op);
        break;
      case 'repeat':
      case 'pad':
      case 'flatten':
        isFloat[out] = isFloat[input];
        grids[out] = grids[input];
        ops.push(op);
        break;
      default:
        if (isFloat[input]) throw new ArqError(`node '${op.name}' (${op.op}) needs a quantized input: the integer plan quantizes at the first Conv or Gemm layer`);
        grids[out] = grids[input];
        ops.push(op);
    }
  }
  return { ...spec, grids, ops };
}

/** A network compiled for arq's integer engine under one policy. */
export class IntPlan extends NativePlan<NativeIntPlan> {
  static build(graph: Graph, policy: BitWidths, calibration: ActivationStatistics, options: PlanOptions = {}): IntPlan {
    const Native = addon().IntPlan;
    return new IntPlan(new Native({ ...intPlanSpec(graph, policy, calibration), maxMemory: planMaxMemory(options) }));
  }

  /** The plan of a spec fixed elsewhere (given-grids.ts: the grids of a QDQ file). */
  static fromSpec(spec: IntPlanSpec, options: PlanOptions = {}): IntPlan {
    const Native = addon().IntPlan;
    return new IntPlan(new Native({ ...spec, maxMemory: planMaxMemory(options) }));
  }

  /** The plan of `build`, computed with a turn of the event loop after each layer (for callers that serve requests). */
  static async create(graph: Graph, policy: BitWidths, calibration: ActivationStatistics, options: PlanOptions = {}): Promise<IntPlan> {
    const Native = addon().IntPlan;
    return new IntPlan(new Native({ ...(await intPlanSpecBetweenTurns(graph, policy, calibration)), maxMemory: planMaxMemory(options) }));
  }

  /**
   * One timed run: thread-seconds per step, `intPlanSpec(...).ops.length + 2` entries (the input's layout change,
   * each op of the spec in order, the logits' conversion). A residual add fused into its conv reads 0.
   */
  profile(images: Float32Array, batch: number, threads: number): Promise<Float64Array> {
    return withStack(() => this.native.profile(images, batch, threads));
  }

  /** Interval bounds of `batch` boxes [lo, hi] through every value of the plan (native/verify); labels add margins. */
  intervalBounds(lo: Float32Array, hi: Float32Array, batch: number, threads: number, labels?: Int32Array, options?: IntervalOptions): Promise<IntervalBounds> {
    return withStack(() => this.native.intervalBounds(lo, hi, batch, threads, labels, options));
  }

  /** The complete verifier over boxes (native/verify): verified, falsified with a counterexample, or timeout. */
  verifyBoxes(request: VerifyRequest): Promise<VerifyResult> {
    return withStack(() => this.native.verifyBoxes(request));
  }

  /** The same logits from the plain reference executor (slow; tests). */
  runReference(images: Float32Array, batch: number): Promise<Float32Array> {
    return withStack(() => this.native._runReference(images, batch));
  }
}
