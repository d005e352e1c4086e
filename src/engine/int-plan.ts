/**
 * Building an integer plan: the graph lowered as for the fp32 plan (graph/lower.ts, same fused clamps), with per-layer
 * weight codes and scales (grid.ts) at the policy's bit widths, and every tensor's grid from calibration statistics. Carriers are 8-bit; each layer
 * reads its input on its own abits grid; pools, clamps and reshapes keep their input's grid; the layer that
 * produces the network output writes float logits.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Graph, QuantizableNode } from '../graph/ir.js';
import { lowerGraph } from '../graph/lower.js';
import { addon, withStack, type IntervalBounds, type IntPlanOp, type IntPlanSpec, type NativeGrid, type NativeIntPlan, type VerifyRequest, type VerifyResult } from '../native.js';
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
 * What an integer plan reads of a calibration (quant/calibrate.ts): per plan value, numbered as graph/lower.ts
 * numbers them, the observed [min, max] and a histogram of HISTOGRAM_BINS equal bins over it (FloatPlan's
 * observeRanges and observeHistograms).
 */
export interface ActivationStatistics {
  /** [min, max] per plan value. */
  readonly ranges: Float32Array;
  /** HISTOGRAM_BINS counts per plan value over its range. */
  readonly histograms: Float64Array;
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
  const steps = specSteps(graph, policy, calibration);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/** intPlanSpec with a turn of the event loop after each layer: the clip searches of a whole network take 0.1-0.4 s. */
async function intPlanSpecBetweenTurns(graph: Graph, policy: BitWidths, calibration: ActivationStatistics): Promise<IntPlanSpec> {
  const steps = specSteps(graph, policy, calibration);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
    await nextTurn();
  }
}

/** The spec of intPlanSpec, pausing (yield) after each layer's weight codes and grids, the costly steps. */
function* specSteps(graph: Graph, policy: BitWidths, calibration: ActivationStatistics): Generator<void, IntPlanSpec> {
  const { spec } = lowerGraph(graph);
  const bits = new Map(policy.layers.map((layer) => [layer.name, layer]));
  const layers = new Map(graph.nodes.filter((n): n is QuantizableNode => n.op === 'conv' || n.op === 'gemm').map((n) => [n.name, n]));
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
        const node = layers.get(op.name!)!;
        const layer = bits.get(node.name);
        if (!layer) throw new ArqError(`the policy has no bit widths for layer '${node.name}'`);
        isFloat[out] = out === spec.output;
        grids[out] = isFloat[out] ? null : carrier(out);
        const channels = node.op === 'conv' ? node.outChannels : node.outFeatures;
        const { codes, scales } = memo(weightCodes, node.weight, layer.wbits, () => quantizeWeights(node.weight, channels, layer.wbits));
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
  intervalBounds(lo: Float32Array, hi: Float32Array, batch: number, threads: number, labels?: Int32Array, options?: { values?: boolean }): Promise<IntervalBounds> {
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
