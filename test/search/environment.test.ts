import { describe, expect, it } from 'vitest';
import {
  ACTION_FACTOR, actionOfBits, actionToBits, QuantizationEnvironment, relativeBits, searchLayers, STATE_FEATURES, STATE_SIZE, widestUniform,
  type SensitivityCosts,
} from '../../src/search/environment.js';
import { policyCost } from '../../src/quant/cost.js';
import type { LayerBits } from '../../src/engine/int-plan.js';
import { POLICY_FORMAT } from '../../src/quant/policy.js';
import { Random } from '../../src/util/random.js';
import { loadFixture } from '../support/fixtures.js';

const resnet = loadFixture('resnet20');
const mobilenet = loadFixture('mobilenetv2');
const W4A4 = 0.015625;

const percentOf = (fixture: typeof resnet, layers: LayerBits[]) => policyCost(fixture.graph, { format: POLICY_FORMAT, model: fixture.sha256, layers }).bitopsPercent;
const randomActions = (env: QuantizationEnvironment, random: Random) => Array.from({ length: env.steps }, () => random.uniform());

describe('actionToBits (HAQ fixed mapping)', () => {
  it('splits [0, 1] into equal bins, one per width', () => {
    expect(actionToBits(0, 2, 8)).toBe(2);
    expect(actionToBits(1, 2, 8)).toBe(8);
    const counts = new Map<number, number>();
    const steps = 70_000;
    for (let i = 0; i < steps; i++) {
      const bits = actionToBits((i + 0.5) / steps, 2, 8);
      counts.set(bits, (counts.get(bits) ?? 0) + 1);
    }
    expect([...counts.keys()].sort()).toEqual([2, 3, 4, 5, 6, 7, 8]);
    for (const count of counts.values()) expect(Math.abs(count - steps / 7)).toBeLessThanOrEqual(1);
  });
});

describe('relativeBits / actionOfBits', () => {
  it('maps 0.5 to the fair width and the ends a fixed factor below and above it; actionOfBits inverts it', () => {
    expect(relativeBits(0.5, 4)).toBe(4);
    expect(relativeBits(0, 4)).toBe(4 / ACTION_FACTOR);
    expect(relativeBits(1, 4)).toBe(4 * ACTION_FACTOR);
    for (const fair of [2.3, 3.7, 5]) {
      for (let bits = 2; bits <= 8; bits++) {
        const action = actionOfBits(bits, fair);
        if (action > 0 && action < 1) expect(relativeBits(action, fair)).toBe(bits);
      }
    }
    expect(actionOfBits(2, 8)).toBe(0);
    expect(actionOfBits(8, 2)).toBe(1);
  });
});

describe('QuantizationEnvironment', () => {
  it('states: layer features, budget used so far, MACs still to come, step kind, previous action', () => {
    const env = new QuantizationEnvironment(resnet.graph, { budget: 0.03 });
    expect(STATE_SIZE).toBe(STATE_FEATURES.length);
    const used = STATE_FEATURES.indexOf('budget_used');
    const remaining = STATE_FEATURES.indexOf('macs_remaining');
    const episode = env.episode();
    const states: Float64Array[] = [];
    let previous = 0.25;
    for (let step = 0; step < env.steps; step++) {
      const state = episode.state(previous);
      states.push(state);
      expect(state.length).toBe(STATE_SIZE);
      for (const value of state) expect(value >= 0 && value <= 1).toBe(true);
      expect(state[STATE_SIZE - 2]).toBe(step % 2 === 0 ? 1 : 0);
      expect(state[STATE_SIZE - 1]).toBe(previous);
      previous = episode.act(0.5);
    }
    expect(states[0][0]).toBe(0);
    expect(states.at(-1)![0]).toBe(1);
    expect(states[0][used]).toBe(0);
    expect(states[0][remaining]).toBe(1);
    // Budget used grows after each layer's activation step; MACs to come shrink with each layer.
    for (let layer = 1; layer < env.layers.length; layer++) {
      expect(states[2 * layer][used]).toBeGreaterThan(states[2 * layer - 2][used]);
      expect(states[2 * layer][remaining]).toBeLessThan(states[2 * layer - 2][remaining]);
      expect(states[2 * layer + 1][used]).toBe(states[2 * layer][used]);
    }
    const outcome = episode.finish();
    const macs = env.layers.reduce((s, l) => s + l.macs, 0);
    expect(states.at(-1)![remaining]).toBeCloseTo(env.layers.at(-1)!.macs / macs, 12);
    expect(states.at(-1)![used]).toBeCloseTo(env.bitopsFraction(outcome.layers.map((l, i): [number, number] => (i < outcome.layers.length - 1 ? [l.wbits, l.abits] : [0, 0]))) / 0.03, 12);
  });

  it('flags depthwise layers', () => {
    const layers = searchLayers(mobilenet.graph);
    expect(layers.some((l) => l.depthwise)).toBe(true);
    expect(layers.filter((l) => l.depthwise).every((l) => l.kernel === 3 && l.inChannels === l.outChannels)).toBe(true);
  });

  it.each([
    ['resnet20', resnet, W4A4], ['resnet20', resnet, 0.012], ['mobilenetv2', mobilenet, W4A4], ['mobilenetv2', mobilenet, 0.012],
  ])('%s at %f: every acted-out policy fits the budget without the repair, the ends pinned at 8 bits', (_, fixture, budget) => {
    const env = new QuantizationEnvironment(fixture.graph, { budget });
    const random = Random.fromSeed(3);
    for (let k = 0; k < 40; k++) {
      const extreme = k % 4 === 0 ? new Array<number>(env.steps).fill(k % 8 === 0 ? 1 : 0) : randomActions(env, random);
      const { layers, repair } = env.policy(extreme);
      expect(repair).toEqual({ lowered: 0, bitopsRemoved: 0 });
      expect(percentOf(fixture, layers) / 100).toBeLessThanOrEqual(budget * (1 + 1e-9));
      expect(layers[0]).toMatchObject({ wbits: 8, abits: 8 });
      expect(layers.at(-1)).toMatchObject({ wbits: 8, abits: 8 });
    }
  });

  it('action 0.5 everywhere is the fair share: nearly uniform widths that use most of the budget', () => {
    const env = new QuantizationEnvironment(resnet.graph, { budget: W4A4 });
    const { layers } = env.policy(new Array<number>(env.steps).fill(0.5));
    const free = layers.slice(1, -1);
    const products = free.map((l) => l.wbits * l.abits);
    expect(Math.max(...products) / Math.min(...products)).toBeLessThanOrEqual(2);
    expect(percentOf(resnet, layers) / 100).toBeGreaterThan(0.75 * W4A4);
    // All ones ask for more than the budget allows: early layers take what the rest can spare, later ones the floor.
    const greedy = env.policy(new Array<number>(env.steps).fill(1)).layers.slice(1, -1);
    expect(greedy[0].wbits * greedy[0].abits).toBeGreaterThan(greedy.at(-1)!.wbits * greedy.at(-1)!.abits);
  });

  it('stores the actions of the widths that ran: replaying them gives the same policy', () => {
    for (const fixture of [resnet, mobilenet]) {
      const env = new QuantizationEnvironment(fixture.graph, { budget: 0.012 });
      const random = Random.fromSeed(11);
      for (let k = 0; k < 10; k++) {
        const first = env.policy(randomActions(env, random));
        for (const a of first.actions) expect(a >= 0 && a <= 1).toBe(true);
        expect(env.policy(first.actions).layers).toEqual(first.layers);
      }
      // All ones ask for more than the budget affords: the late layers' widths are clamped, and what is stored for
      // them is the action of the clamped width (below 1), not the raw action.
      const greedy = env.policy(new Array<number>(env.steps).fill(1));
      const width = (t: number) => (t % 2 === 0 ? greedy.layers[t >> 1].wbits : greedy.layers[t >> 1].abits);
      let clamped = 0;
      greedy.actions.forEach((a, t) => {
        if (env.pinned(t >> 1)) return;
        if (width(t) < relativeBits(1, greedy.fairs[t])) clamped++;
        if (a > 0 && a < 1) expect(relativeBits(a, greedy.fairs[t])).toBe(width(t));
        else expect(a === 0 ? width(t) <= relativeBits(0, greedy.fairs[t]) : width(t) >= relativeBits(1, greedy.fairs[t])).toBe(true);
      });
      expect(clamped).toBeGreaterThan(0);
      expect(env.policy(greedy.actions).layers).toEqual(greedy.layers);
    }
  });

  it('forced policies run as given when they fit, and are repaired (counted) when they do not', () => {
    const env = new QuantizationEnvironment(resnet.graph, { budget: W4A4 });
    const fits = env.forced(env.layers.map((_, i) => (env.pinned(i) ? [8, 8] : [3, 4])));
    expect(fits.repair.lowered).toBe(0);
    expect(fits.layers.slice(1, -1).every((l) => l.wbits === 3 && l.abits === 4)).toBe(true);
    const over = env.forced(env.layers.map(() => [8, 8]));
    expect(over.repair.lowered).toBeGreaterThan(0);
    expect(over.repair.bitopsRemoved).toBeCloseTo(env.bitopsFraction(env.layers.map(() => [8, 8])) - percentOf(resnet, over.layers) / 100, 12);
    expect(percentOf(resnet, over.layers) / 100).toBeLessThanOrEqual(W4A4 * (1 + 1e-12));
  });

  it('the repair lowers first where the measured sensitivity grows least per BitOps saved', () => {
    const layers = searchLayers(resnet.graph);
    const all8 = layers.map((): [number, number] => [8, 8]);
    // A budget one activation bit of the cheapest layer below all-8: a single lowering suffices.
    const floatBitops = layers.reduce((s, l) => s + l.macs * 1024, 0);
    const minMacs = Math.min(...layers.map((l) => l.macs));
    const budget = (layers.reduce((s, l) => s + l.macs * 64, 0) - minMacs * 8) / floatBitops;
    const flat = (value: number): number[] => Array.from({ length: 9 }, () => value);
    for (const [target, kind] of [[3, 'activations'], [7, 'weights'], [12, 'activations']] as const) {
      // Every lowering costs a lot except the target's, whose per-BitOps price is then the lowest.
      const sensitivity: SensitivityCosts[] = layers.map((_, i) => ({
        weights: i === target && kind === 'weights' ? flat(0) : Array.from({ length: 9 }, (_, b) => 100 - b),
        activations: i === target && kind === 'activations' ? flat(0) : Array.from({ length: 9 }, (_, b) => 100 - b),
      }));
      const env = new QuantizationEnvironment(resnet.graph, { budget, sensitivity });
      const { layers: repaired, repair } = env.forced(all8);
      expect(percentOf(resnet, repaired) / 100).toBeLessThanOrEqual(budget * (1 + 1e-12));
      const changed = repaired.flatMap((l, i) => (l.wbits !== 8 ? [`${i}:weights`] : []).concat(l.abits !== 8 ? [`${i}:activations`] : []));
      expect(changed[0]).toBe(`${target}:${kind}`);
      expect(new Set(changed)).toEqual(new Set([`${target}:${kind}`]));
      expect(repair.lowered).toBeGreaterThan(0);
    }
    // Among equal sensitivities, the cheaper price per BitOps wins: the lowering that saves the most goes first.
    const env = new QuantizationEnvironment(resnet.graph, { budget });
    const { layers: repaired } = env.forced(all8);
    const changed = repaired.findIndex((l) => l.wbits !== 8 || l.abits !== 8);
    expect(layers[changed].macs).toBe(Math.max(...layers.slice(1, -1).map((l) => l.macs)));
  });

  it('bestUniform: the widest uniform choice for the unpinned layers under the same rules', () => {
    const env = new QuantizationEnvironment(resnet.graph, { budget: W4A4 });
    const best = env.bestUniform()!;
    const bits = (w: number, a: number) => env.layers.map((_, i): [number, number] => (env.pinned(i) ? [8, 8] : [w, a]));
    // W4A4 on the free layers plus 8-bit ends costs more than the W4A4 point: the like-for-like uniform is narrower.
    expect(env.bitopsFraction(bits(4, 4))).toBeGreaterThan(W4A4);
    const cost = env.bitopsFraction(bits(best.wbits, best.abits));
    expect(cost).toBeLessThanOrEqual(W4A4);
    for (let w = 2; w <= 8; w++) for (let a = 2; a <= 8; a++) if (env.bitopsFraction(bits(w, a)) <= W4A4) expect(env.bitopsFraction(bits(w, a))).toBeLessThanOrEqual(cost);
    expect(new QuantizationEnvironment(resnet.graph, { budget: W4A4, pinEnds: false }).bestUniform()).toEqual({ wbits: 4, abits: 4 });
  });

  it('rejects a budget the pinned layers alone exceed, naming the floor', () => {
    expect(() => new QuantizationEnvironment(resnet.graph, { budget: 0.001 })).toThrow(/cannot be met: the lowest policy with the first and last layers pinned at 8 bits costs/);
    expect(() => new QuantizationEnvironment(resnet.graph, { budget: 0.004, pinEnds: false })).not.toThrow();
    expect(() => new QuantizationEnvironment(resnet.graph, { budget: 0 })).toThrow(/budget/);
  });

  it('rejects the wrong number of actions, and a sensitivity table of the wrong shape', () => {
    const env = new QuantizationEnvironment(resnet.graph, { budget: 0.03 });
    expect(() => env.policy([0.5])).toThrow(/expected \d+ actions/);
    expect(() => new QuantizationEnvironment(resnet.graph, { budget: 0.03, sensitivity: [] })).toThrow(/sensitivity: expected \d+ layers/);
    const holes = searchLayers(resnet.graph).map(() => ({ weights: [], activations: [] }));
    expect(() => new QuantizationEnvironment(resnet.graph, { budget: 0.03, sensitivity: holes })).toThrow(/sensitivity: layer '.+' has no finite weights value at 2 bits/);
  });
});

describe('widestUniform', () => {
  it('picks the largest, most balanced uniform policy within the budget, no layer pinned', () => {
    expect(widestUniform(0.015625)).toEqual({ wbits: 4, abits: 4 });
    expect(widestUniform(0.0625)).toEqual({ wbits: 8, abits: 8 });
    expect(widestUniform(0.0156)).toEqual({ wbits: 3, abits: 5 });
    expect(widestUniform(0.001)).toBeNull();
  });
});
