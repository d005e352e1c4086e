/**
 * The sensitivity knapsack (HAWQ-V3's integer program, solved exactly): per unpinned layer one (wbits, abits) choice,
 * minimising the summed measured sensitivity (weights' plus activations', each layer's taken as independent of the
 * others) subject to total BitOps within the budget; pinned layers stay at maxBits.
 *
 * Solved by dynamic programming over the layers on Pareto frontiers of (BitOps, sensitivity): after each layer only
 * the partial policies that no other beats on both (and that still leave room for the later layers' floors) are
 * kept, which is exact (a dominated partial policy can never complete to a better whole) and, unlike a table over
 * BitOps values, needs no rounding of costs.
 */
import { ArqError } from '../util/errors.js';
import type { SensitivityCosts } from './environment.js';

export interface KnapsackLayer extends SensitivityCosts {
  readonly macs: number;
  readonly pinned: boolean;
}

interface Option {
  wbits: number;
  abits: number;
  cost: number;
  value: number;
}

interface Partial {
  cost: number;
  value: number;
  /** Index in the previous layer's frontier, and this layer's option. */
  parent: number;
  option: Option;
}

/** The policy (per layer [wbits, abits]) of least summed sensitivity within `budgetBitops`; null if none fits. */
export function sensitivityKnapsack(layers: readonly KnapsackLayer[], budgetBitops: number, minBits: number, maxBits: number): [number, number][] | null {
  if (layers.length === 0) throw new ArqError('knapsack: no layers');
  const floorAfter = new Array<number>(layers.length + 1).fill(0);
  for (let i = layers.length - 1; i >= 0; i--) {
    const width = layers[i].pinned ? maxBits : minBits;
    floorAfter[i] = floorAfter[i + 1] + layers[i].macs * width * width;
  }
  const limit = budgetBitops * (1 + 1e-12);
  const frontiers: Partial[][] = [];
  let frontier: Partial[] = [{ cost: 0, value: 0, parent: -1, option: { wbits: 0, abits: 0, cost: 0, value: 0 } }];
  for (let i = 0; i < layers.length; i++) {
    const options = layerOptions(layers[i], minBits, maxBits);
    const next: Partial[] = [];
    frontier.forEach((state, parent) => {
      for (const option of options) {
        const cost = state.cost + option.cost;
        if (cost + floorAfter[i + 1] > limit) continue;
        next.push({ cost, value: state.value + option.value, parent, option });
      }
    });
    frontier = paretoFront(next);
    if (frontier.length === 0) return null;
    frontiers.push(frontier);
  }
  let index = frontier.reduce((best, s, k) => (s.value < frontier[best].value ? k : best), 0);
  const bits: [number, number][] = new Array(layers.length);
  for (let i = layers.length - 1; i >= 0; i--) {
    const state = frontiers[i][index];
    bits[i] = [state.option.wbits, state.option.abits];
    index = state.parent;
  }
  return bits;
}

/** A layer's choices, only the best per BitOps product and only those no cheaper choice beats. */
function layerOptions(layer: KnapsackLayer, minBits: number, maxBits: number): Option[] {
  if (layer.pinned) return [{ wbits: maxBits, abits: maxBits, cost: layer.macs * maxBits * maxBits, value: 0 }];
  const options: Option[] = [];
  for (let w = minBits; w <= maxBits; w++) {
    for (let a = minBits; a <= maxBits; a++) {
      const value = layer.weights[w] + layer.activations[a];
      if (!Number.isFinite(value)) throw new ArqError(`knapsack: no finite sensitivity at W${w}A${a}`);
      options.push({ wbits: w, abits: a, cost: layer.macs * w * a, value });
    }
  }
  return paretoFront(options);
}

/** Items sorted by cost, each strictly better in value than every cheaper one (ties in cost: the lower value). */
function paretoFront<T extends { cost: number; value: number }>(items: T[]): T[] {
  items.sort((x, y) => x.cost - y.cost || x.value - y.value);
  const front: T[] = [];
  for (const item of items) if (front.length === 0 || item.value < front[front.length - 1].value) front.push(item);
  return front;
}
