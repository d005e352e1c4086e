import { describe, expect, it } from 'vitest';
import { actionToBits, QuantizationEnvironment, searchLayers, STATE_SIZE, widestUniform } from '../../src/search/environment.js';
import { policyCost } from '../../src/quant/cost.js';
import { POLICY_FORMAT } from '../../src/quant/policy.js';
import { loadFixture } from '../support/fixtures.js';

const resnet = loadFixture('resnet20');
const mobilenet = loadFixture('mobilenetv2');

describe('actionToBits', () => {
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

describe('QuantizationEnvironment', () => {
  it('walks every Conv/Gemm layer in order, two steps each, with normalised features', () => {
    const env = new QuantizationEnvironment(resnet.graph, { budget: 0.03 });
    expect(env.layers.map((l) => l.name)).toEqual(searchLayers(resnet.graph).map((l) => l.name));
    expect(env.steps).toBe(2 * env.layers.length);
    for (let step = 0; step < env.steps; step++) {
      const state = env.state(step, 0.25);
      expect(state.length).toBe(STATE_SIZE);
      for (const value of state) expect(value >= 0 && value <= 1).toBe(true);
      expect(state[STATE_SIZE - 2]).toBe(step % 2 === 0 ? 1 : 0);
      expect(state[STATE_SIZE - 1]).toBe(0.25);
    }
    expect(env.state(0, 0)[0]).toBe(0);
    expect(env.state(env.steps - 1, 0)[0]).toBe(1);
  });

  it('flags depthwise layers', () => {
    const layers = searchLayers(mobilenet.graph);
    expect(layers.some((l) => l.depthwise)).toBe(true);
    expect(layers.filter((l) => l.depthwise).every((l) => l.kernel === 3 && l.inChannels === l.outChannels)).toBe(true);
  });

  it('keeps a policy that fits, pins the ends at 8 bits', () => {
    const env = new QuantizationEnvironment(resnet.graph, { budget: 0.0625 });
    const policy = env.policy(new Array(env.steps).fill(0.4));
    expect(policy[0]).toMatchObject({ wbits: 8, abits: 8 });
    expect(policy.at(-1)).toMatchObject({ wbits: 8, abits: 8 });
    for (const layer of policy.slice(1, -1)) expect(layer).toMatchObject({ wbits: actionToBits(0.4, 2, 8), abits: actionToBits(0.4, 2, 8) });
  });

  it('lowers bit widths from the last layer backwards until the budget holds', () => {
    const budget = 0.015625;
    const env = new QuantizationEnvironment(resnet.graph, { budget });
    const policy = env.policy(new Array(env.steps).fill(1));
    const cost = policyCost(resnet.graph, { format: POLICY_FORMAT, model: resnet.sha256, layers: policy });
    expect(cost.bitopsPercent / 100).toBeLessThanOrEqual(budget * (1 + 1e-12));
    // One more bit anywhere unpinned would have been lowered later than what was kept: the pass goes backwards, so
    // layers nearer the end are never wider than layers nearer the start.
    const free = policy.slice(1, -1);
    for (let i = 1; i < free.length; i++) expect(free[i].wbits + free[i].abits).toBeLessThanOrEqual(free[i - 1].wbits + free[i - 1].abits);
    expect(policy[0]).toMatchObject({ wbits: 8, abits: 8 });
    // Every width lowered from 8 by whole passes: widths differ by at most one step between neighbours.
    expect(Math.max(...free.map((l) => l.wbits)) - Math.min(...free.map((l) => l.wbits))).toBeLessThanOrEqual(1);
  });

  it('rejects a budget the pinned layers alone exceed, naming the floor', () => {
    expect(() => new QuantizationEnvironment(resnet.graph, { budget: 0.001 })).toThrow(/cannot be met: the lowest policy with the first and last layers pinned at 8 bits costs/);
    expect(() => new QuantizationEnvironment(resnet.graph, { budget: 0.004, pinEnds: false })).not.toThrow();
    expect(() => new QuantizationEnvironment(resnet.graph, { budget: 0 })).toThrow(/budget/);
  });

  it('rejects the wrong number of actions', () => {
    const env = new QuantizationEnvironment(resnet.graph, { budget: 0.03 });
    expect(() => env.policy([0.5])).toThrow(/expected \d+ actions/);
  });
});

describe('widestUniform', () => {
  it('picks the largest, most balanced uniform policy within the budget', () => {
    expect(widestUniform(0.015625)).toEqual({ wbits: 4, abits: 4 });
    expect(widestUniform(0.0625)).toEqual({ wbits: 8, abits: 8 });
    expect(widestUniform(0.0156)).toEqual({ wbits: 3, abits: 5 });
    expect(widestUniform(0.001)).toBeNull();
  });
});
