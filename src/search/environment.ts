/**
 * The search environment (search.md, docs/search-design.md): the quantizable layers in topological order, two steps
 * per layer (its weights, then its input activation), HAQ's layer features plus AMC's budget features, and an action
 * mapping relative to what the rest of the network can still afford, so that every policy the agent acts out fits
 * the BitOps budget by construction. The end-of-episode repair stays as a safety net (forced policies, rounding),
 * lowering first where the measured layer sensitivity costs least per BitOps saved; each episode reports what it did.
 */
import type { Graph } from '../graph/ir.js';
import { isQuantizable } from '../graph/ir.js';
import { bitopsOf, FLOAT_BITS, layerCosts, uniformBitopsFraction, type LayerCost } from '../graph/cost.js';
import type { LayerBits } from '../engine/int-plan.js';
import { MAX_BITS, MIN_BITS } from '../quant/policy.js';
import { ArqError } from '../util/errors.js';
import { integerInRange, numberInRange } from '../util/check.js';

/** The state features of one step, in order: HAQ's layer features (min-max normalised), AMC's budget features, the step's kind and the previous action. */
export const STATE_FEATURES = [
  'layer', 'in_channels', 'out_channels', 'kernel', 'stride', 'feature_map', 'params', 'depthwise',
  'budget_used', 'macs_remaining', 'is_weight', 'previous_action',
] as const;
export const STATE_SIZE = STATE_FEATURES.length;
const LAYER_FEATURES = 8;

/**
 * How far from the fair width the ends of the action range reach: action 0 asks for fair / ACTION_FACTOR bits,
 * action 1 for fair x ACTION_FACTOR, action 0.5 for the fair width itself (log scale: halving and doubling a width
 * are equally far from it).
 */
export const ACTION_FACTOR = 2;

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

/**
 * What lowering a layer's weights or activations to each width costs the smoothed classifier (sensitivity.ts):
 * per layer, `weights[b]` and `activations[b]` for b in [minBits, maxBits] (larger is worse). Only differences
 * between widths of one layer matter to the repair and the knapsack.
 */
export interface SensitivityCosts {
  readonly weights: readonly number[];
  readonly activations: readonly number[];
}

export interface EnvironmentOptions {
  /** BitOps budget as a fraction of the float BitOps (MACs x 32 x 32), e.g. 0.015625 for the W4A4 point. */
  readonly budget: number;
  readonly minBits?: number;
  readonly maxBits?: number;
  /** Keep the first and last layers at maxBits (default true). */
  readonly pinEnds?: boolean;
  /** Per layer (in the environment's order), the measured sensitivity that orders the repair. */
  readonly sensitivity?: readonly SensitivityCosts[];
}

/** What the end-of-episode repair did to one policy. */
export interface RepairStats {
  /** Single-bit lowerings applied (0: the policy fitted as acted). */
  readonly lowered: number;
  /** BitOps removed, as a fraction of the float BitOps. */
  readonly bitopsRemoved: number;
}

/** An episode's outcome: the policy that runs, the actions that produce exactly its bits, the repair's work. */
export interface EpisodeOutcome {
  readonly layers: LayerBits[];
  /** Per step, the action in [0, 1] that maps to the width that ran (what the replay memory stores). */
  readonly actions: number[];
  /** Per step, the fair width its action was mapped around. */
  readonly fairs: number[];
  readonly repair: RepairStats;
}

/** HAQ's fixed mapping of an action in [0, 1] onto bits in [minBits, maxBits]: round(b_min - 0.5 + a (b_max - b_min + 1)), clamped. */
export function actionToBits(action: number, minBits: number, maxBits: number): number {
  const bits = Math.round(minBits - 0.5 + action * (maxBits - minBits + 1));
  return Math.min(maxBits, Math.max(minBits, bits));
}

/** The width an action asks for around the fair width: fair x ACTION_FACTOR^(2a - 1), rounded (before any clamp). */
export function relativeBits(action: number, fair: number): number {
  return Math.round(fair * ACTION_FACTOR ** (2 * action - 1));
}

/** The action (in [0, 1]) whose relativeBits is `bits` at `fair`: the inverse of the unrounded mapping, clamped. */
export function actionOfBits(bits: number, fair: number): number {
  const action = (Math.log2(bits / fair) / Math.log2(ACTION_FACTOR) + 1) / 2;
  return Math.min(1, Math.max(0, action));
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

const SLACK = 1 + 1e-12;

/** No unit exempt from the repair. */
const NONE_FROZEN: ReadonlySet<number> = new Set();

export class QuantizationEnvironment {
  readonly layers: readonly SearchLayer[];
  readonly budget: number;
  readonly minBits: number;
  readonly maxBits: number;
  readonly pinEnds: boolean;
  /** Float BitOps per image. */
  readonly floatBitops: number;
  /** The budget in BitOps per image. */
  readonly budgetBitops: number;
  private readonly features: Float64Array[];
  private readonly sensitivity: readonly SensitivityCosts[] | null;
  /** Per layer i: the cheapest BitOps of layers i.. (pinned at maxBits, others at minBits), and the MACs of the unpinned ones. */
  private readonly floorFrom: number[];
  private readonly freeMacsFrom: number[];
  private readonly macsFrom: number[];

  constructor(graph: Graph, options: EnvironmentOptions) {
    this.layers = searchLayers(graph);
    if (this.layers.length === 0) throw new ArqError('the model has no Conv or Gemm layer to quantize');
    this.budget = numberInRange('budget', options.budget, 0, 1, { exclusiveMin: true });
    this.minBits = integerInRange('min bits', options.minBits ?? MIN_BITS, MIN_BITS, MAX_BITS);
    this.maxBits = integerInRange('max bits', options.maxBits ?? MAX_BITS, this.minBits, MAX_BITS);
    this.pinEnds = options.pinEnds ?? true;
    this.floatBitops = this.layers.reduce((s, l) => s + bitopsOf(l.macs, FLOAT_BITS, FLOAT_BITS), 0);
    this.budgetBitops = this.budget * this.floatBitops;
    this.features = normalisedLayerFeatures(this.layers);
    this.sensitivity = options.sensitivity ? this.checkedSensitivity(options.sensitivity) : null;
    const count = this.layers.length;
    this.floorFrom = new Array<number>(count + 1).fill(0);
    this.freeMacsFrom = new Array<number>(count + 1).fill(0);
    this.macsFrom = new Array<number>(count + 1).fill(0);
    for (let i = count - 1; i >= 0; i--) {
      const { macs } = this.layers[i];
      const width = this.pinned(i) ? this.maxBits : this.minBits;
      this.floorFrom[i] = this.floorFrom[i + 1] + bitopsOf(macs, width, width);
      this.freeMacsFrom[i] = this.freeMacsFrom[i + 1] + (this.pinned(i) ? 0 : macs);
      this.macsFrom[i] = this.macsFrom[i + 1] + macs;
    }
    const floor = this.floorFrom[0] / this.floatBitops;
    if (floor > this.budget * SLACK) {
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

  /** A fresh episode: feed it one action (or forced width) per step, then finish it. */
  episode(): Episode {
    return new Episode(this);
  }

  /** The episode that acts out `actions` (two per layer, relative to the budget as Episode describes). */
  policy(actions: readonly number[]): EpisodeOutcome {
    if (actions.length !== this.steps) throw new ArqError(`expected ${this.steps} actions (two per layer), got ${actions.length}`);
    const episode = this.episode();
    for (const action of actions) episode.act(action);
    return episode.finish();
  }

  /** The episode of a given policy (per layer [wbits, abits]), repaired into the budget if it does not fit. */
  forced(bits: readonly (readonly [number, number])[]): EpisodeOutcome {
    if (bits.length !== this.layers.length) throw new ArqError(`expected bit widths for ${this.layers.length} layers, got ${bits.length}`);
    const episode = this.episode();
    for (const [w, a] of bits) {
      episode.force(w);
      episode.force(a);
    }
    return episode.finish();
  }

  /** BitOps of per-layer [wbits, abits] as a fraction of the float BitOps. */
  bitopsFraction(bits: readonly (readonly [number, number])[]): number {
    let total = 0;
    for (let i = 0; i < this.layers.length; i++) total += bitopsOf(this.layers[i].macs, bits[i][0], bits[i][1]);
    return total / this.floatBitops;
  }

  /** The cheapest BitOps of layers `from`.. (pinned at maxBits, the others at minBits). */
  floorBitopsFrom(from: number): number {
    return this.floorFrom[from];
  }

  /** MACs of the unpinned layers `from`.. and of all layers `from`.. */
  freeMacsFromLayer(from: number): number {
    return this.freeMacsFrom[from];
  }

  macsFromLayer(from: number): number {
    return this.macsFrom[from];
  }

  /** The state features of `layer` that do not depend on the episode. */
  layerFeatures(layer: number): Float64Array {
    return this.features[layer];
  }

  /**
   * Lowers `bits` (per layer [wbits, abits], modified in place) into the budget, one bit at a time, each time where
   * the measured sensitivity grows least per BitOps saved (without a sensitivity table: where the most BitOps are
   * saved; ties go to the later layer, then to activations). Pinned layers are never lowered, nor a unit (2 layer +
   * kind: a layer's weights, kind 0, or input activation, kind 1) in `frozen`, e.g. the width a local-search move has
   * just raised.
   */
  repair(bits: [number, number][], frozen: ReadonlySet<number> = NONE_FROZEN): RepairStats {
    const before = this.bitopsFraction(bits);
    let total = before * this.floatBitops;
    let lowered = 0;
    while (total > this.budgetBitops * SLACK) {
      let best: { layer: number; kind: 0 | 1; saved: number; price: number } | null = null;
      for (let i = 0; i < this.layers.length; i++) {
        if (this.pinned(i)) continue;
        for (const kind of [0, 1] as const) {
          const width = bits[i][kind];
          if (width <= this.minBits || frozen.has(2 * i + kind)) continue;
          const saved = this.layers[i].macs * bits[i][1 - kind];
          const table = this.costTable(i, kind);
          const price = table ? Math.max(0, table[width - 1] - table[width]) / saved : -saved;
          if (!best || price < best.price || (price === best.price && (i > best.layer || (i === best.layer && kind > best.kind)))) best = { layer: i, kind, saved, price };
        }
      }
      if (!best) throw new ArqError('budget cannot be met'); // unreachable: the constructor (and raised) checked the floor
      bits[best.layer][best.kind]--;
      total -= best.saved;
      lowered++;
    }
    return { lowered, bitopsRemoved: before - this.bitopsFraction(bits) };
  }

  /**
   * The local-search neighbour of a policy that fits the budget: `bits` (not modified) with one layer's weights (kind
   * 0) or input activation (kind 1) a bit wider, the rest lowered into the budget by the repair's order (that width
   * kept), then what the lowering left of the budget filled again (fill), never by a width just lowered. Null where
   * the width cannot grow: pinned, at maxBits, or nothing else left to lower.
   */
  raised(bits: readonly (readonly [number, number])[], layer: number, kind: 0 | 1): [number, number][] | null {
    if (this.pinned(layer) || bits[layer][kind] >= this.maxBits) return null;
    const next = bits.map((b): [number, number] => [b[0], b[1]]);
    next[layer][kind]++;
    // The floor with that width kept: every other unpinned width at minBits.
    const { macs } = this.layers[layer];
    const floor = this.floorFrom[0] - macs * this.minBits * this.minBits + macs * this.minBits * next[layer][kind];
    if (floor > this.budgetBitops * SLACK) return null;
    const frozen = new Set([2 * layer + kind]);
    this.repair(next, frozen);
    next.forEach((b, i) => [0, 1].forEach((k) => b[k] < bits[i][k] && frozen.add(2 * i + k)));
    this.fill(next, frozen);
    return next;
  }

  /**
   * Raises `bits` (modified in place) one bit at a time while the budget allows, each time where the measured
   * sensitivity falls most per BitOps added (without a sensitivity table: where the fewest BitOps are added), never a
   * pinned layer nor a unit (2 layer + kind) in `frozen`. The repair's mirror: a repair that lowered a wide layer
   * may leave budget that narrower layers can use.
   */
  fill(bits: [number, number][], frozen: ReadonlySet<number>): void {
    let total = this.bitopsFraction(bits) * this.floatBitops;
    for (;;) {
      let best: { layer: number; kind: 0 | 1; added: number; gain: number } | null = null;
      for (let i = 0; i < this.layers.length; i++) {
        if (this.pinned(i)) continue;
        for (const kind of [0, 1] as const) {
          const width = bits[i][kind];
          if (width >= this.maxBits || frozen.has(2 * i + kind)) continue;
          const added = this.layers[i].macs * bits[i][1 - kind];
          if (total + added > this.budgetBitops * SLACK) continue;
          const table = this.costTable(i, kind);
          const gain = table ? Math.max(0, table[width] - table[width + 1]) / added : -added;
          if (!best || gain > best.gain) best = { layer: i, kind, added, gain };
        }
      }
      if (!best) return;
      bits[best.layer][best.kind]++;
      total += best.added;
    }
  }

  /** The measured sensitivity of a layer's weights (kind 0) or activation (kind 1) by width; null without a table. */
  private costTable(layer: number, kind: 0 | 1): readonly number[] | null {
    const costs = this.sensitivity?.[layer];
    return costs ? (kind === 0 ? costs.weights : costs.activations) : null;
  }

  /**
   * The best uniform policy under this environment's rules: pinned layers at maxBits, every other layer at the same
   * WxAy, the widest (most BitOps, then the most balanced) that fits the budget; null when none does.
   */
  bestUniform(): { wbits: number; abits: number } | null {
    let best: { wbits: number; abits: number; cost: number } | null = null;
    for (let w = this.minBits; w <= this.maxBits; w++) {
      for (let a = this.minBits; a <= this.maxBits; a++) {
        const cost = this.bitopsFraction(this.layers.map((_, i) => (this.pinned(i) ? [this.maxBits, this.maxBits] : [w, a])));
        if (cost > this.budget * SLACK) continue;
        const better = !best || cost > best.cost || (cost === best.cost && Math.abs(w - a) < Math.abs(best.wbits - best.abits));
        if (better) best = { wbits: w, abits: a, cost };
      }
    }
    return best && { wbits: best.wbits, abits: best.abits };
  }

  /** Per-layer bits of `layers` as LayerBits. */
  named(bits: readonly (readonly [number, number])[]): LayerBits[] {
    return this.layers.map((layer, i) => ({ name: layer.name, wbits: bits[i][0], abits: bits[i][1] }));
  }

  private checkedSensitivity(table: readonly SensitivityCosts[]): readonly SensitivityCosts[] {
    if (table.length !== this.layers.length) throw new ArqError(`sensitivity: expected ${this.layers.length} layers, got ${table.length}`);
    table.forEach((costs, i) => {
      for (const key of ['weights', 'activations'] as const) {
        for (let b = this.minBits; b <= this.maxBits; b++) {
          if (!Number.isFinite(costs[key][b])) throw new ArqError(`sensitivity: layer '${this.layers[i].name}' has no finite ${key} value at ${b} bits`);
        }
      }
    });
    return table;
  }
}

/**
 * One episode, step by step. At layer i, the fair product p* = (budget left after layers < i, less the pinned
 * layers still to come) / MACs of the unpinned layers from i on is what every remaining layer could take if all took
 * the same. The weights step maps its action around sqrt(p*), the activation step around p* / wbits, by
 * relativeBits; each width is then clamped into [minBits, maxBits] and to what the budget affords with every later
 * choice at its floor, so an acted-out policy always fits. Pinned layers run at maxBits whatever the action.
 */
export class Episode {
  private readonly bits: [number, number][] = [];
  private readonly actions: number[] = [];
  /** Per step, the fair width the step's action was mapped around. */
  private readonly fairs: number[] = [];
  private committed = 0;
  private fairProduct = 0;
  private step = 0;

  constructor(private readonly env: QuantizationEnvironment) {}

  get done(): boolean {
    return this.step === this.env.steps;
  }

  /** The state of the next step, given the previous step's action. */
  state(previousAction: number): Float64Array {
    const { env } = this;
    const layer = this.step >> 1;
    const state = new Float64Array(STATE_SIZE);
    state.set(env.layerFeatures(layer));
    state[LAYER_FEATURES] = Math.min(1, this.committed / env.budgetBitops);
    state[LAYER_FEATURES + 1] = env.macsFromLayer(layer) / env.macsFromLayer(0);
    state[STATE_SIZE - 2] = this.step % 2 === 0 ? 1 : 0;
    state[STATE_SIZE - 1] = previousAction;
    return state;
  }

  /** Acts out `action` in [0, 1] at the next step; returns the action of the width that runs (actionOfBits). */
  act(action: number): number {
    return this.take((fair) => relativeBits(action, fair), true);
  }

  /**
   * Runs `bits` (clamped into [minBits, maxBits]; pinned layers at maxBits) at the next step, affordable or not: a
   * forced policy over budget is left to the repair. Returns the action of the width that runs.
   */
  force(bits: number): number {
    return this.take(() => bits, false);
  }

  /** The finished episode: its policy (repaired if it had to be), and the actions of the widths that ran. */
  finish(): EpisodeOutcome {
    if (!this.done) throw new ArqError(`episode finished after ${this.step} of ${this.env.steps} steps`);
    const repaired = this.bits.map((b): [number, number] => [b[0], b[1]]);
    const repair = this.env.repair(repaired);
    if (repair.lowered > 0) {
      // Stored actions follow the widths that ran; fair widths are those the steps saw.
      for (let i = 0; i < repaired.length; i++) {
        for (const kind of [0, 1] as const) {
          if (repaired[i][kind] !== this.bits[i][kind]) this.actions[2 * i + kind] = actionOfBits(repaired[i][kind], this.fairs[2 * i + kind]);
        }
      }
    }
    return { layers: this.env.named(repaired), actions: [...this.actions], fairs: [...this.fairs], repair };
  }

  private take(ask: (fair: number) => number, withinBudget: boolean): number {
    if (this.done) throw new ArqError(`episode has only ${this.env.steps} steps`);
    const { env } = this;
    const layer = this.step >> 1;
    const isWeight = this.step % 2 === 0;
    const { macs } = env.layers[layer];
    const left = env.budgetBitops - this.committed;
    if (isWeight) {
      const freeMacs = env.freeMacsFromLayer(layer);
      const pinnedLater = env.floorBitopsFrom(layer) - env.minBits * env.minBits * freeMacs;
      this.fairProduct = freeMacs > 0 ? Math.max(env.minBits * env.minBits, (left - pinnedLater) / freeMacs) : env.maxBits * env.maxBits;
    }
    const fair = isWeight ? Math.sqrt(this.fairProduct) : this.fairProduct / this.bits[layer][0];
    let bits: number;
    if (env.pinned(layer)) {
      bits = env.maxBits;
    } else {
      // Affordable: this layer at `bits` (times the other half's floor or chosen width) plus every later layer's floor.
      const other = isWeight ? env.minBits : this.bits[layer][0];
      const affordable = withinBudget ? Math.floor(((left - env.floorBitopsFrom(layer + 1)) / (macs * other)) * SLACK) : env.maxBits;
      bits = Math.max(env.minBits, Math.min(env.maxBits, affordable, ask(fair)));
    }
    if (isWeight) {
      this.bits.push([bits, 0]);
    } else {
      this.bits[layer][1] = bits;
      this.committed += macs * this.bits[layer][0] * bits;
    }
    const action = actionOfBits(bits, fair);
    this.fairs.push(fair);
    this.actions.push(action);
    this.step++;
    return action;
  }
}

/** Per layer, HAQ's layer features, each min-max normalised over the layers (0 where all are equal). */
function normalisedLayerFeatures(layers: readonly SearchLayer[]): Float64Array[] {
  const raw = layers.map((l, i) => [i, l.inChannels, l.outChannels, l.kernel, l.stride, l.featureMap, l.params, l.depthwise ? 1 : 0]);
  const columns = raw[0].length;
  const lo = Array.from({ length: columns }, (_, c) => Math.min(...raw.map((r) => r[c])));
  const hi = Array.from({ length: columns }, (_, c) => Math.max(...raw.map((r) => r[c])));
  return raw.map((r) => Float64Array.from(r, (v, c) => (hi[c] > lo[c] ? (v - lo[c]) / (hi[c] - lo[c]) : 0)));
}

/**
 * The widest uniform WxAy (largest BitOps, then the most balanced) that fits `budget` with every layer at it, none
 * pinned. The search's like-for-like baseline is QuantizationEnvironment.bestUniform.
 */
export function widestUniform(budget: number, minBits = MIN_BITS, maxBits = MAX_BITS): { wbits: number; abits: number } | null {
  let best: { wbits: number; abits: number } | null = null;
  for (let w = minBits; w <= maxBits; w++) {
    for (let a = minBits; a <= maxBits; a++) {
      if (uniformBitopsFraction(w, a) > budget * (1 + 1e-12)) continue;
      const better = !best || w * a > best.wbits * best.abits || (w * a === best.wbits * best.abits && Math.abs(w - a) < Math.abs(best.wbits - best.abits));
      if (better) best = { wbits: w, abits: a };
    }
  }
  return best;
}
