import { describe, expect, it } from 'vitest';
import { sensitivityKnapsack, type KnapsackLayer } from '../../src/search/knapsack.js';
import { Random } from '../../src/util/random.js';

const MIN = 2;
const MAX = 5;

/** Every policy, enumerated: the least summed sensitivity within the budget (null if none fits). */
function bruteForce(layers: readonly KnapsackLayer[], budget: number): number | null {
  let best: number | null = null;
  const visit = (i: number, cost: number, value: number) => {
    if (cost > budget * (1 + 1e-12)) return;
    if (i === layers.length) {
      if (best === null || value < best) best = value;
      return;
    }
    const layer = layers[i];
    if (layer.pinned) return visit(i + 1, cost + layer.macs * MAX * MAX, value);
    for (let w = MIN; w <= MAX; w++) for (let a = MIN; a <= MAX; a++) visit(i + 1, cost + layer.macs * w * a, value + layer.weights[w] + layer.activations[a]);
  };
  visit(0, 0, 0);
  return best;
}

const summed = (layers: readonly KnapsackLayer[], bits: [number, number][]) => bits.reduce((s, [w, a], i) => s + (layers[i].pinned ? 0 : layers[i].weights[w] + layers[i].activations[a]), 0);
const cost = (layers: readonly KnapsackLayer[], bits: [number, number][]) => bits.reduce((s, [w, a], i) => s + layers[i].macs * w * a, 0);

/** A random instance: sensitivities falling with width (plus noise, so not always monotone), varied MACs. */
function instance(random: Random, count: number): KnapsackLayer[] {
  return Array.from({ length: count }, (_, i) => {
    const scale = random.uniform();
    const curve = () => Array.from({ length: MAX + 1 }, (_, b) => scale * 2 ** (MAX - b) + 0.3 * random.uniform());
    return { macs: 1 + random.integer(50), pinned: i === 0 || (i === count - 1 && random.uniform() < 0.5), weights: curve(), activations: curve() };
  });
}

describe('sensitivityKnapsack', () => {
  it('finds the least summed sensitivity within the budget, as enumerating every policy does', () => {
    const random = Random.fromSeed(5);
    for (let trial = 0; trial < 60; trial++) {
      const layers = instance(random, 3 + random.integer(3));
      const floor = layers.reduce((s, l) => s + l.macs * (l.pinned ? MAX * MAX : MIN * MIN), 0);
      const top = layers.reduce((s, l) => s + l.macs * MAX * MAX, 0);
      const budget = floor + random.uniform() * (top - floor) * 1.1 - (trial % 10 === 0 ? 1 : 0);
      const expected = bruteForce(layers, budget);
      const bits = sensitivityKnapsack(layers, budget, MIN, MAX);
      if (expected === null) {
        expect(bits).toBeNull();
        continue;
      }
      expect(bits).not.toBeNull();
      expect(cost(layers, bits!)).toBeLessThanOrEqual(budget * (1 + 1e-12));
      expect(summed(layers, bits!)).toBeCloseTo(expected, 12);
      layers.forEach((l, i) => {
        if (l.pinned) expect(bits![i]).toEqual([MAX, MAX]);
      });
    }
  });

  it('spends the budget where sensitivity falls most per BitOps', () => {
    const flat = Array.from({ length: MAX + 1 }, () => 0);
    const steep = Array.from({ length: MAX + 1 }, (_, b) => 2 ** (MAX - b));
    const layers: KnapsackLayer[] = [
      { macs: 10, pinned: false, weights: flat, activations: flat },
      { macs: 10, pinned: false, weights: steep, activations: steep },
    ];
    expect(sensitivityKnapsack(layers, 10 * MIN * MIN + 10 * MAX * MAX, MIN, MAX)).toEqual([[MIN, MIN], [MAX, MAX]]);
    expect(sensitivityKnapsack(layers, 10 * MIN * MIN * 2 - 1, MIN, MAX)).toBeNull();
  });
});
