/**
 * The search environment of search.md (HAQ's linear mode): the quantizable layers in topological order, two steps
 * per layer (its weights, then its input activation), HAQ's state features, the action-to-bits mapping and the
 * BitOps budget with sequential bit lowering.
 */
import type { Graph } from '../graph/ir.js';
import { isQuantizable } from '../graph/ir.js';
import { layerCosts, type LayerCost } from '../graph/cost.js';
import { MAX_BITS, MIN_BITS, type LayerBits } from '../quant/policy.js';
import { ArqError } from '../util/errors.js';
import { integerInRange, numberInRange } from '../util/check.js';

/** The state features of one step, in order (each min-max normalised over the network's layers). */
export const STATE_FEATURES = [
  'layer', 'in_channels', 'out_channels', 'kernel', 'stride', 'feature_map', 'params', 'depthwise', 'is_weight', 'previous_action',
] as const;
export const STATE_SIZE = STATE_FEATURES.length;

export interface SearchLayer extends LayerCost {
  readonly inChannels: number;
  readonly outChannels: number;
  /** Kernel height (1 for Gemm). */
  readonly kernel: number;
  /** Stride (0 for Gemm, as HAQ). */
  readonly stride: number;
  /** Input height (1 for Gemm). */
  readonly featureMap: number;
  readonly depthwise: boolean;
}

export interface EnvironmentOptions {
  /** BitOps budget as a fraction of the float BitOps (MACs x 32 x 32), e.g. 0.015625 for the W4A4 point. */
  readonly budget: number;
  readonly minBits?: number;
  readonly maxBits?: number;
  /** Keep the first and last layers at maxBits (default true). */
  readonly pinEnds?: boolean;
}

/** Maps an action in [0, 1] onto bits in [minBits, maxBits]: round(b_min - 0.5 + a (b_max - b_min + 1)), clamped. */
export function actionToBits(action: number, minBits: number, maxBits: number): number {
  const bits = Math.round(minBits - 0.5 + action * (maxBits - minBits + 1));
  return Math.min(maxBits, Math.max(minBits, bits));
}

export function searchLayers(graph: Graph): SearchLayer[] {
  const nodes = new Map(graph.nodes.filter(isQuantizable).map((n) => [n.name, n]));
  return layerCosts(graph).map((cost) => {
    const node = nodes.get(cost.name)!;
    if (node.op === 'gemm') {
      return { ...cost, inChannels: node.weight.length / node.outFeatures, outChannels: node.outFeatures, kernel: 1, stride: 0, featureMap: 1, depthwise: false };
    }
    const inChannels = cost.inputShape[0];
    return {
      ...cost, inChannels, outChannels: node.outChannels, kernel: node.kernel[0], stride: node.strides[0], featureMap: cost.inputShape[1],
      depthwise: node.group > 1 && node.group === inChannels && node.group === node.outChannels,
    };
  });
}

export class QuantizationEnvironment {
  readonly layers: readonly SearchLayer[];
  readonly budget: number;
  readonly minBits: number;
  readonly maxBits: number;
  readonly pinEnds: boolean;
  /** Float BitOps per image. */
  readonly floatBitops: number;
  private readonly features: Float64Array[];

  constructor(graph: Graph, options: EnvironmentOptions) {
    this.layers = searchLayers(graph);
    if (this.layers.length === 0) throw new ArqError('the model has no Conv or Gemm layer to quantize');
    this.budget = numberInRange('budget', options.budget, 0, 1, { exclusiveMin: true });
    this.minBits = integerInRange('min bits', options.minBits ?? MIN_BITS, MIN_BITS, MAX_BITS);
    this.maxBits = integerInRange('max bits', options.maxBits ?? MAX_BITS, this.minBits, MAX_BITS);
    this.pinEnds = options.pinEnds ?? true;
    this.floatBitops = this.layers.reduce((s, l) => s + l.macs * 32 * 32, 0);
    this.features = normalisedLayerFeatures(this.layers);
    const floor = this.bitopsFraction(this.layers.map((_, i) => this.pinned(i) ? [this.maxBits, this.maxBits] : [this.minBits, this.minBits]));
    if (floor > this.budget * (1 + 1e-12)) {
      throw new ArqError(`budget ${(100 * this.budget).toFixed(4)}% of float BitOps cannot be met: the lowest policy${this.pinEnds ? ' with the first and last layers pinned at ' + this.maxBits + ' bits' : ''} costs ${(100 * floor).toFixed(4)}%`);
    }
  }

  /** Steps per episode: weights then input activation, per layer. */
  get steps(): number {
    return 2 * this.layers.length;
  }

  pinned(layer: number): boolean {
    return this.pinEnds && (layer === 0 || layer === this.layers.length - 1);
  }

  /** The state of `step` (layer = step >> 1; even steps are weights) given the previous step's action. */
  state(step: number, previousAction: number): Float64Array {
    const layer = step >> 1;
    const state = new Float64Array(STATE_SIZE);
    state.set(this.features[layer]);
    state[STATE_SIZE - 2] = step % 2 === 0 ? 1 : 0;
    state[STATE_SIZE - 1] = previousAction;
    return state;
  }

  /** BitOps of per-layer [wbits, abits] as a fraction of the float BitOps. */
  bitopsFraction(bits: readonly (readonly [number, number])[]): number {
    let total = 0;
    for (let i = 0; i < this.layers.length; i++) total += this.layers[i].macs * bits[i][0] * bits[i][1];
    return total / this.floatBitops;
  }

  /**
   * The policy of an episode's actions (two per layer): mapped to bits, pinned layers at maxBits, then, while over
   * budget, bit widths lowered one at a time from the last layer backwards (its activation, then its weights),
   * pass after pass, checking the budget after every single step.
   */
  policy(actions: readonly number[]): LayerBits[] {
    if (actions.length !== this.steps) throw new ArqError(`expected ${this.steps} actions (two per layer), got ${actions.length}`);
    const bits = this.layers.map((_, i): [number, number] => this.pinned(i)
      ? [this.maxBits, this.maxBits]
      : [actionToBits(actions[2 * i], this.minBits, this.maxBits), actionToBits(actions[2 * i + 1], this.minBits, this.maxBits)]);
    return this.enforceBudget(bits);
  }

  /** Lowers `bits` (per layer [wbits, abits], modified in place) into the budget as `policy` describes. */
  enforceBudget(bits: [number, number][]): LayerBits[] {
    const fits = () => this.bitopsFraction(bits) <= this.budget * (1 + 1e-12);
    while (!fits()) {
      let lowered = false;
      for (let i = this.layers.length - 1; i >= 0 && !fits(); i--) {
        if (this.pinned(i)) continue;
        for (const k of [1, 0] as const) {
          if (fits() || bits[i][k] <= this.minBits) continue;
          bits[i][k]--;
          lowered = true;
        }
      }
      if (!lowered) throw new ArqError('budget cannot be met'); // unreachable: the constructor checked the floor
    }
    return this.layers.map((layer, i) => ({ name: layer.name, wbits: bits[i][0], abits: bits[i][1] }));
  }
}

/** Per layer, the first STATE_SIZE - 2 features, each min-max normalised over the layers (0 where all are equal). */
function normalisedLayerFeatures(layers: readonly SearchLayer[]): Float64Array[] {
  const raw = layers.map((l, i) => [i, l.inChannels, l.outChannels, l.kernel, l.stride, l.featureMap, l.params, l.depthwise ? 1 : 0]);
  const columns = raw[0].length;
  const lo = Array.from({ length: columns }, (_, c) => Math.min(...raw.map((r) => r[c])));
  const hi = Array.from({ length: columns }, (_, c) => Math.max(...raw.map((r) => r[c])));
  return raw.map((r) => Float64Array.from(r, (v, c) => (hi[c] > lo[c] ? (v - lo[c]) / (hi[c] - lo[c]) : 0)));
}

/** The widest uniform WxAy (largest BitOps, then the most balanced) that fits `budget`, over all layers. */
export function widestUniform(budget: number, minBits = MIN_BITS, maxBits = MAX_BITS): { wbits: number; abits: number } | null {
  let best: { wbits: number; abits: number } | null = null;
  for (let w = minBits; w <= maxBits; w++) {
    for (let a = minBits; a <= maxBits; a++) {
      if ((w * a) / 1024 > budget * (1 + 1e-12)) continue;
      const better = !best || w * a > best.wbits * best.abits || (w * a === best.wbits * best.abits && Math.abs(w - a) < Math.abs(best.wbits - best.abits));
      if (better) best = { wbits: w, abits: a };
    }
  }
  return best;
}
