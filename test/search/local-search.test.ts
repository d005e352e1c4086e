// The local search (explorers.ts, environment.ts: raised and fill) against its definition, on the ResNet-20
// fixture's environment with a made-up sensitivity table (so that the repair's and the fill's orders are known): a
// neighbour widens the chosen width by one bit, fits the budget, lowers only by the repair's order and then fills the
// budget back greedily, never with a width just lowered; the explorer hands the episodes before the local search to
// the agent (which learns only from those), proposes neighbours of the best policy so far and never one it proposed
// before, and resumes its exact stream from a saved state.
import { describe, expect, test } from 'vitest';
import { QuantizationEnvironment, type SensitivityCosts } from '../../src/search/environment.js';
import { createExplorer, type Choice } from '../../src/search/explorers.js';
import type { AgentState } from '../../src/search/agent/index.js';
import type { JsonValue } from '../../src/smoothing/results.js';
import { loadFixture } from '../support/fixtures.js';

const resnet = loadFixture('resnet20');
const layerCount = new QuantizationEnvironment(resnet.graph, { budget: 0.03 }).layers.length;
// Layer i's weights cost (9 - b)^2 (i + 1) at b bits, its activations (9 - b)^2 (layerCount - i): distinct prices.
const table = (scale: number) => Array.from({ length: 9 }, (_, b) => (b < 2 ? Number.NaN : (9 - b) ** 2 * scale));
const sensitivity: SensitivityCosts[] = Array.from({ length: layerCount }, (_, i) => ({ weights: table(i + 1), activations: table(layerCount - i) }));
const env = new QuantizationEnvironment(resnet.graph, { budget: 0.03, sensitivity });
type Bits = [number, number][];
const bitsOf = (layers: readonly { wbits: number; abits: number }[]): Bits => layers.map((l) => [l.wbits, l.abits]);
const uniform = (w: number, a: number): Bits => env.layers.map((_, i) => (env.pinned(i) ? [8, 8] : [w, a]));
const fits = (bits: Bits) => env.bitopsFraction(bits) <= env.budget * (1 + 1e-9);

describe('a local-search neighbour (QuantizationEnvironment.raised)', () => {
  // A policy that uses the budget up: a wider width must be paid for.
  const start = uniform(4, 4);
  env.fill(start, new Set());
  expect(fits(start)).toBe(true);

  const filledStart = start.map((b) => [...b]);

  test('widens the chosen width by one bit and fits the budget', () => {
    for (const [layer, kind] of [[1, 0], [5, 1], [10, 0], [layerCount - 2, 1]] as const) {
      const next = env.raised(start, layer, kind)!;
      expect(next[layer][kind]).toBe(start[layer][kind] + 1);
      expect(fits(next)).toBe(true);
      expect(next).not.toBe(start); // a copy: the input is not modified
      expect(start).toEqual(filledStart);
      expect(next[0]).toEqual([8, 8]);
      expect(next[layerCount - 1]).toEqual([8, 8]);
    }
  });

  test('keeps the widened width, even where the repair would lower it first', () => {
    let checked = 0;
    for (let layer = 1; layer < layerCount - 1; layer++) {
      for (const kind of [0, 1] as const) {
        const next = env.raised(start, layer, kind);
        if (!next) continue;
        expect(next[layer][kind]).toBe(start[layer][kind] + 1);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(layerCount);
  });

  test('lowers what the repair lowers, then no width that was just lowered or raised grows, and nothing more fits', () => {
    const next = env.raised(start, 3, 0)!;
    // The repair alone, keeping the raised width.
    const repaired = start.map((b): [number, number] => [b[0], b[1]]);
    repaired[3][0]++;
    env.repair(repaired, new Set([2 * 3 + 0]));
    const lowered = new Set<number>();
    repaired.forEach((b, i) => [0, 1].forEach((k) => b[k] < start[i][k] && lowered.add(2 * i + k)));
    expect(lowered.size).toBeGreaterThan(0);
    next.forEach((b, i) => [0, 1].forEach((k) => {
      if (lowered.has(2 * i + k)) expect(b[k]).toBe(repaired[i][k]);
      else expect(b[k]).toBeGreaterThanOrEqual(repaired[i][k]);
    }));
    // The fill left no unit that could still grow within the budget.
    next.forEach((b, i) => [0, 1].forEach((k) => {
      if (env.pinned(i) || b[k] >= 8 || lowered.has(2 * i + k) || (i === 3 && k === 0)) return;
      const wider = next.map((x): [number, number] => [x[0], x[1]]);
      wider[i][k]++;
      expect(fits(wider)).toBe(false);
    }));
  });

  test('the fill raises, one bit at a time, the largest fall in sensitivity per BitOps added that still fits', () => {
    // The greedy order written out by hand, from uniform W2A2 with one width frozen.
    const frozen = 2 * 6 + 1;
    const expected = uniform(2, 2);
    for (;;) {
      let best: { unit: number; gain: number } | null = null;
      for (let i = 1; i < layerCount - 1; i++) {
        for (const k of [0, 1]) {
          if (2 * i + k === frozen || expected[i][k] >= 8) continue;
          const added = env.layers[i].macs * expected[i][1 - k];
          const wider = expected.map((x): [number, number] => [x[0], x[1]]);
          wider[i][k]++;
          if (!fits(wider)) continue;
          const costs = k === 0 ? sensitivity[i].weights : sensitivity[i].activations;
          const gain = (costs[expected[i][k]] - costs[expected[i][k] + 1]) / added;
          if (!best || gain > best.gain) best = { unit: 2 * i + k, gain };
        }
      }
      if (!best) break;
      expected[best.unit >> 1][best.unit % 2]++;
    }
    const filled = uniform(2, 2);
    env.fill(filled, new Set([frozen]));
    expect(filled).toEqual(expected);
    expect(filled[6][1]).toBe(2);
    expect(env.bitopsFraction(filled)).toBeGreaterThan(0.9 * env.budget);
  });

  test('is null where the width cannot grow', () => {
    expect(env.raised(start, 0, 0)).toBeNull(); // pinned
    const wide = uniform(3, 3);
    wide[4][1] = 8;
    expect(env.raised(wide, 4, 1)).toBeNull(); // at maxBits
    // Raising a wide layer's weights past what the budget allows with every other width at its floor.
    const floor = env.bitopsFraction(uniform(2, 2));
    const tight = new QuantizationEnvironment(resnet.graph, { budget: floor * 1.1, sensitivity });
    const heavy = tight.layers.reduce((m, l, i) => (!tight.pinned(i) && l.macs > tight.layers[m].macs ? i : m), 1);
    let bits: Bits | null = tight.layers.map((_, i) => (tight.pinned(i) ? [8, 8] : [2, 2]));
    let raises = 0;
    // at most 6 raises (2 -> 8 bits) can succeed: a bounded loop, so a raised() that never refuses fails, not hangs
    for (let tries = 0; bits && tries < 7; tries++) {
      bits = tight.raised(bits, heavy, 0);
      if (bits) raises++;
    }
    expect(raises).toBeGreaterThan(0);
    expect(raises).toBeLessThan(6);
  });
});

describe('the local-search explorer', () => {
  const seeds = [uniform(3, 4), uniform(4, 3)];
  const options = { episodes: 10, warmup: 2, seeds, localSearch: 6 };
  const updatesOf = (explorer: ReturnType<typeof createExplorer>) => ((explorer.save() as unknown as { agent: AgentState }).agent).actorOptimizer.step;

  const run = async (explorer: ReturnType<typeof createExplorer>, from: number, to: number, rewardOf: (bits: Bits) => number, out: Choice[]) => {
    for (let episode = from; episode < to; episode++) {
      const choice = explorer.choose(episode);
      out.push(choice);
      await explorer.learn(episode, choice, rewardOf(bitsOf(choice.outcome.layers)));
    }
  };
  // A made-up reward: higher the wider layer 5's activation and layer 7's weights.
  const reward = (bits: Bits) => bits[5][1] + 0.5 * bits[7][0] + 0.001 * bits[9][1];

  test('the agent before, then unmeasured neighbours of the best policy so far; the agent learns only from its own', async () => {
    const explorer = createExplorer('arq', env, 5, options, null);
    expect([0, 1, 3, 4, 5].map((e) => explorer.isLocalSearch(e))).toEqual([false, false, false, true, true]);
    expect([0, 1, 2].map((e) => explorer.isWarmup(e))).toEqual([true, true, false]);
    const choices: Choice[] = [];
    await run(explorer, 0, 4, reward, choices);
    expect(bitsOf(choices[0].outcome.layers)).toEqual(seeds[0]);
    const agentUpdates = updatesOf(explorer);
    expect(agentUpdates).toBe(2 * env.steps); // episodes 2 and 3 learned
    let best = choices.reduce((b, c) => (reward(bitsOf(c.outcome.layers)) > reward(bitsOf(b.outcome.layers)) ? c : b));
    const seen = new Set(choices.map((c) => JSON.stringify(bitsOf(c.outcome.layers))));
    for (let episode = 4; episode < 10; episode++) {
      const choice = explorer.choose(episode);
      const bits = bitsOf(choice.outcome.layers);
      const incumbent = bitsOf(best.outcome.layers);
      const neighbours = env.layers.flatMap((_, i) => [0, 1].map((k) => JSON.stringify(env.raised(incumbent, i, k as 0 | 1))));
      expect(neighbours).toContain(JSON.stringify(bits));
      expect(fits(bits)).toBe(true);
      expect(choice.outcome.repair.lowered).toBe(0);
      // one width of the incumbent is exactly one bit wider...
      const widened = bits.flatMap((b, i) => [0, 1].filter((k) => b[k] === incumbent[i][k] + 1));
      expect(widened.length).toBeGreaterThan(0);
      expect(seen.has(JSON.stringify(bits))).toBe(false);
      seen.add(JSON.stringify(bits));
      await explorer.learn(episode, choice, reward(bits));
      if (reward(bits) > reward(incumbent)) best = choice;
    }
    expect(updatesOf(explorer)).toBe(agentUpdates);
    // The reward pulls the local search towards wider layer-5 activations and layer-7 weights.
    const last = bitsOf(best.outcome.layers);
    expect(reward(last)).toBeGreaterThan(Math.max(...choices.map((c) => reward(bitsOf(c.outcome.layers)))));
  });

  test('never proposes a policy twice while new neighbours are left', async () => {
    const explorer = createExplorer('arq', env, 3, { ...options, episodes: 34, localSearch: 30 }, null);
    const choices: Choice[] = [];
    await run(explorer, 0, 34, () => 1, choices);
    const keys = choices.slice(4).map((c) => JSON.stringify(c.outcome.layers));
    expect(new Set(keys).size).toBe(30);
  });

  test('a restored explorer continues the same stream', async () => {
    const straight = createExplorer('haq', env, 9, options, null);
    const first: Choice[] = [];
    await run(straight, 0, 6, reward, first);
    const saved = JSON.parse(JSON.stringify(straight.save())) as JsonValue;
    const rest: Choice[] = [];
    await run(straight, 6, 10, reward, rest);
    const restored = createExplorer('haq', env, 12345, options, saved);
    const again: Choice[] = [];
    await run(restored, 6, 10, reward, again);
    expect(again.map((c) => c.outcome.layers)).toEqual(rest.map((c) => c.outcome.layers));
  });

  test('without local search the agent explorer is what it was (its state is the agent\'s)', () => {
    const plain = createExplorer('arq', env, 5, { ...options, localSearch: 0 }, null);
    expect((plain.save() as unknown as AgentState).actorOptimizer.step).toBe(0);
    expect(plain.isLocalSearch(9)).toBe(false);
  });
});
