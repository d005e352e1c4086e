import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { DdpgAgent, DDPG_DEFAULTS } from '../../src/search/agent/index.js';
import type { AgentState } from '../../src/search/agent/index.js';
import { Adam, Dense, Mlp, outputOf } from '../../src/search/agent/mlp.js';
import type { OutputActivation } from '../../src/search/agent/mlp.js';
import { Random } from '../../src/util/random.js';
import { ReplayMemory } from '../../src/search/agent/replay.js';
import { ArqError } from '../../src/util/errors.js';

const require = createRequire(import.meta.url);
const kstest = require('@stdlib/stats-kstest') as (x: ArrayLike<number>, cdf: (x: number) => number) => { pValue: number };
const normalCdf = require('@stdlib/stats-base-dists-normal-cdf') as (x: number, mu: number, sigma: number) => number;

/** A network with random weights and a random batch, both from `seed`. */
function randomNetwork(sizes: number[], output: OutputActivation, batch: number, seed: number): { net: Mlp; input: Float64Array } {
  const rng = Random.fromSeed(seed);
  const net = new Mlp(sizes, output);
  // A last-layer range as wide as the hidden ones, so the output is not nearly constant.
  net.initialize(rng, 0.5);
  const input = Float64Array.from({ length: batch * sizes[0] }, () => 2 * rng.uniform() - 1);
  return { net, input };
}

/** L = sum_b sum_o c[b][o] y[b][o] for fixed coefficients c, so dL/dy = c. */
function weightedOutput(net: Mlp, input: Float64Array, batch: number, coef: Float64Array): number {
  return outputOf(net.forward(input, batch)).reduce((sum, y, j) => sum + coef[j] * y, 0);
}

function expectGradientsMatch(sizes: number[], output: OutputActivation): void {
  const batch = 5;
  const { net, input } = randomNetwork(sizes, output, batch, 7);
  const coef = Float64Array.from({ length: batch * sizes[sizes.length - 1] }, (_, j) => Math.cos(j + 1));
  net.zeroGrad();
  const gradInput = net.backward(net.forward(input, batch), coef, { gradParams: true });
  const h = 1e-6;
  const central = (values: Float64Array, j: number): number => {
    const saved = values[j];
    values[j] = saved + h;
    const up = weightedOutput(net, input, batch, coef);
    values[j] = saved - h;
    const down = weightedOutput(net, input, batch, coef);
    values[j] = saved;
    return (up - down) / (2 * h);
  };
  const grads = net.gradients();
  net.parameters().forEach((param, p) => {
    // Every bias and a spread of weights (all of the small matrices).
    const step = Math.max(1, Math.floor(param.length / 40));
    for (let j = 0; j < param.length; j += step) expect(grads[p][j]).toBeCloseTo(central(param, j), 6);
  });
  for (let j = 0; j < input.length; j++) expect(gradInput[j]).toBeCloseTo(central(input, j), 6);
}

describe('Mlp', () => {
  it('actor-shaped network (sigmoid out): parameter and input gradients match central differences', () => {
    expectGradientsMatch([4, 12, 9, 1], 'sigmoid');
  });

  it("critic-shaped network (linear out, action as the last input): gradients match, the action's included", () => {
    expectGradientsMatch([5, 12, 9, 1], 'linear');
  });

  it('batched forward equals row-at-a-time forward bit for bit (the four-row blocking changes no sum)', () => {
    const batch = 7;
    const { net, input } = randomNetwork([6, 10, 10, 2], 'linear', batch, 3);
    const whole = outputOf(net.forward(input, batch));
    for (let b = 0; b < batch; b++) {
      const row = outputOf(net.forward(input.slice(b * 6, (b + 1) * 6), 1));
      expect(Array.from(whole.subarray(b * 2, (b + 1) * 2))).toEqual(Array.from(row));
    }
  });

  it('Dense forward and backward equal plain one-output-at-a-time loops bit for bit (sharing loads across rows changes no sum)', () => {
    // Plain loops in the documented order: y = bias + sum_i w x in i order; each gradient row gets its source rows
    // four at a time as c0 r0 + c1 r1 + c2 r2 + c3 r3 (a group of four zero coefficients skipped), the rest one by one.
    const accumulate = (target: Float64Array, at: number, coef: (r: number) => number, count: number, rows: Float64Array, n: number) => {
      let r = 0;
      for (; r + 4 <= count; r += 4) {
        const c = [coef(r), coef(r + 1), coef(r + 2), coef(r + 3)];
        if (c.every((v) => v === 0)) continue;
        for (let i = 0; i < n; i++) target[at + i] += c[0] * rows[r * n + i] + c[1] * rows[(r + 1) * n + i] + c[2] * rows[(r + 2) * n + i] + c[3] * rows[(r + 3) * n + i];
      }
      for (; r < count; r++) {
        const c = coef(r);
        if (c !== 0) for (let i = 0; i < n; i++) target[at + i] += c * rows[r * n + i];
      }
    };
    const rng = Random.fromSeed(11);
    // Magnitudes over 2^-8 .. 2^8, so that summing in another order changes the rounding.
    const value = () => (2 * rng.uniform() - 1) * 2 ** Math.floor(16 * rng.uniform() - 8);
    for (const [n, m, batch, zeros] of [[5, 7, 9, 0.4], [6, 8, 12, 0], [3, 1, 1, 0], [4, 2, 3, 0.3], [9, 10, 10, 0.1]]) {
      const layer = new Dense(n, m);
      for (const v of [layer.weight, layer.bias]) for (let j = 0; j < v.length; j++) v[j] = value();
      const x = Float64Array.from({ length: batch * n }, value);
      // Zero gradients as ReLU leaves them: scattered, and (with zeros) whole rows, so some groups of four are all zero.
      const gradY = Float64Array.from({ length: batch * m }, (_, j) => (rng.uniform() < zeros || (zeros > 0 && Math.floor(j / m) % 3 === 1) ? 0 : value()));
      const y = new Float64Array(batch * m);
      for (let b = 0; b < batch; b++) {
        for (let o = 0; o < m; o++) {
          let sum = layer.bias[o];
          for (let i = 0; i < n; i++) sum += layer.weight[o * n + i] * x[b * n + i];
          y[b * m + o] = sum;
        }
      }
      expect(Array.from(layer.forward(x, batch))).toEqual(Array.from(y));
      const gradX = new Float64Array(batch * n);
      const gradW = new Float64Array(m * n);
      const gradB = new Float64Array(m);
      for (let b = 0; b < batch; b++) accumulate(gradX, b * n, (o) => gradY[b * m + o], m, layer.weight, n);
      for (let o = 0; o < m; o++) accumulate(gradW, o * n, (b) => gradY[b * m + o], batch, x, n);
      for (let o = 0; o < m; o++) for (let b = 0; b < batch; b++) gradB[o] += gradY[b * m + o];
      expect(Array.from(layer.backward(x, gradY, batch, true))).toEqual(Array.from(gradX));
      expect(Array.from(layer.gradWeight)).toEqual(Array.from(gradW));
      expect(Array.from(layer.gradBias)).toEqual(Array.from(gradB));
    }
  });

  it('initialises hidden layers on +-1/sqrt(fan-in) and the last layer on +-finalRange', () => {
    const net = new Mlp([16, 30, 30, 1], 'sigmoid');
    net.initialize(Random.fromSeed(1), 3e-3);
    const [first, second, last] = net.layers;
    const maxAbs = (v: Float64Array): number => v.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
    expect(maxAbs(first.weight)).toBeLessThanOrEqual(1 / 4);
    expect(maxAbs(first.weight)).toBeGreaterThan(0.2);
    expect(maxAbs(second.weight)).toBeLessThanOrEqual(1 / Math.sqrt(30));
    expect(maxAbs(last.weight)).toBeLessThanOrEqual(3e-3);
    expect(maxAbs(last.bias)).toBeLessThanOrEqual(3e-3);
  });
});

describe('Adam', () => {
  it('minimises a convex quadratic', () => {
    const x = Float64Array.from([3, -2, 0.5]);
    const scale = [1, 10, 0.1];
    const optimizer = new Adam([x], 0.05);
    for (let step = 0; step < 2000; step++) {
      // f(x) = sum scale_i (x_i - 1)^2
      optimizer.update([Float64Array.from(x, (v, i) => 2 * scale[i] * (v - 1))]);
    }
    for (const v of x) expect(v).toBeCloseTo(1, 3);
  });

  it("first step moves every parameter by lr against its gradient's sign (bias correction)", () => {
    const x = Float64Array.from([1, 1, 1]);
    new Adam([x], 0.01).update([Float64Array.from([3, -0.2, 50])]);
    expect(Array.from(x).map((v) => v - 1)).toEqual([-0.01, 0.01, -0.01].map((d) => expect.closeTo(d, 7)));
  });
});

describe('ReplayMemory', () => {
  it('is a ring buffer: past capacity the oldest transitions are overwritten', () => {
    const memory = new ReplayMemory(3, 1);
    for (let j = 0; j < 5; j++) memory.push(Float64Array.of(j), j / 10, -j);
    expect(memory.size).toBe(3);
    const { states, actions, rewards } = memory.sample(3, Random.fromSeed(1));
    const sorted = (v: Float64Array): number[] => Array.from(v).sort((x, y) => x - y);
    expect(sorted(states)).toEqual([2, 3, 4]);
    expect(sorted(actions)).toEqual([0.2, 0.3, 0.4]);
    expect(sorted(rewards)).toEqual([-4, -3, -2]);
  });

  it('samples without replacement when it holds enough, with replacement otherwise', () => {
    const memory = new ReplayMemory(100, 1);
    for (let j = 0; j < 50; j++) memory.push(Float64Array.of(j), 0, 0);
    const rng = Random.fromSeed(2);
    expect(new Set(memory.sample(50, rng).states).size).toBe(50);
    const big = memory.sample(64, rng);
    expect(big.size).toBe(64);
    expect(new Set(big.states).size).toBeLessThan(50);
  });

  it('round-trips through save and load', () => {
    const memory = new ReplayMemory(4, 2);
    for (let j = 0; j < 6; j++) memory.push(Float64Array.of(j, -j), j / 8, j * 1.5);
    const copy = new ReplayMemory(4, 2);
    copy.load(JSON.parse(JSON.stringify(memory.save())));
    expect(copy.save()).toEqual(memory.save());
    expect(() => new ReplayMemory(5, 2).load(memory.save())).toThrow(ArqError);
  });
});

describe('Random', () => {
  /** Mean of N(mu, sigma^2) truncated to [0, 1]. */
  function truncatedMean(mu: number, sigma: number): number {
    const a = -mu / sigma;
    const b = (1 - mu) / sigma;
    const pdf = (z: number): number => Math.exp(-z * z / 2) / Math.sqrt(2 * Math.PI);
    return mu + (sigma * (pdf(a) - pdf(b))) / (normalCdf(b, 0, 1) - normalCdf(a, 0, 1));
  }

  it.each([
    [0.5, 0.5],
    [0.05, 0.3],
    [0.9, 1],
    [0.99, 0.02],
  ])('truncated normal mu=%f sigma=%f: in [0, 1], analytic mean, truncated CDF by a KS test', (mu, sigma) => {
    const rng = Random.fromSeed(11);
    const draws = Float64Array.from({ length: 5000 }, () => rng.truncatedNormal(mu, sigma, 0, 1));
    expect(draws.every((x) => x >= 0 && x <= 1)).toBe(true);
    const mean = draws.reduce((s, x) => s + x, 0) / draws.length;
    // The standard deviation of a mean of 5,000 draws is below sigma / 70; allow five of those.
    expect(Math.abs(mean - truncatedMean(mu, sigma))).toBeLessThan((5 * sigma) / Math.sqrt(draws.length));
    const pLo = normalCdf(0, mu, sigma);
    const pHi = normalCdf(1, mu, sigma);
    const cdf = (x: number): number => (normalCdf(x, mu, sigma) - pLo) / (pHi - pLo);
    expect(kstest(draws, cdf).pValue).toBeGreaterThan(0.001);
  });

  it('resumes the exact stream from a saved state; seeds 0 and 2^53-1 are valid and differ', () => {
    const rng = Random.fromSeed(0);
    rng.uniform();
    const state = rng.state();
    const ahead = [rng.uniform(), rng.truncatedNormal(0.3, 0.2, 0, 1), rng.integer(10)];
    const resumed = Random.fromSeed(5);
    resumed.setState(JSON.parse(JSON.stringify(state)) as number[]);
    expect([resumed.uniform(), resumed.truncatedNormal(0.3, 0.2, 0, 1), resumed.integer(10)]).toEqual(ahead);
    expect(Random.fromSeed(Number.MAX_SAFE_INTEGER).uniform()).not.toBe(Random.fromSeed(0).uniform());
    expect(() => resumed.setState([1, 2, 3])).toThrow(ArqError);
  });
});

/** Runs `episodes` episodes of a T-step toy search on `agent`, returning every action taken. */
function runEpisodes(agent: DdpgAgent, first: number, episodes: number, targets: number[], warmupEpisodes: number = DDPG_DEFAULTS.warmupEpisodes, rewardScale = 1): number[] {
  const T = targets.length;
  const taken: number[] = [];
  for (let episode = first; episode < first + episodes; episode++) {
    const warmup = episode < warmupEpisodes;
    const transitions = [];
    let previous = 0;
    let reward = 0;
    for (let t = 0; t < T; t++) {
      const state = [t / T, previous];
      const action = warmup ? agent.randomAction() : agent.act(state);
      transitions.push({ state, action });
      reward -= (action - targets[t]) ** 2;
      previous = action;
      taken.push(action);
    }
    agent.remember(transitions, rewardScale * reward);
    if (!warmup) for (let t = 0; t < T; t++) agent.update();
    agent.endEpisode({ warmup });
  }
  return taken;
}

describe('DdpgAgent', () => {
  // Small networks keep these fast; the code paths are those of the defaults.
  const small = { stateSize: 2, stepsPerEpisode: 3, hidden: 16, batchSize: 8 };
  const targets = [0.2, 0.8, 0.5];

  it('rejects bad options and states with ArqError', () => {
    expect(() => new DdpgAgent({ ...small, seed: -1 })).toThrow(ArqError);
    expect(() => new DdpgAgent({ ...small, seed: 1, actorLr: 0 })).toThrow(/actorLr/);
    const agent = new DdpgAgent({ ...small, seed: 1 });
    expect(() => agent.act([0.5])).toThrow(/state: expected a vector of length 2/);
    expect(() => agent.remember([{ state: [0, 0], action: 1.5 }], 0)).toThrow(/action/);
    expect(() => DdpgAgent.restore({ ...agent.save(), format: 'v0' } as unknown as AgentState)).toThrow(ArqError);
  });

  it('the same seed gives the same actions and weights; another seed differs', () => {
    const run = (seed: number): { actions: number[]; state: AgentState } => {
      const agent = new DdpgAgent({ ...small, seed });
      const actions = runEpisodes(agent, 0, 8, targets, 3);
      return { actions, state: agent.save() };
    };
    const a = run(42);
    const b = run(42);
    expect(b.actions).toEqual(a.actions);
    expect(b.state).toEqual(a.state);
    const c = run(43);
    expect(c.actions).not.toEqual(a.actions);
    expect(c.state.actor).not.toEqual(a.state.actor);
  });

  it('a restored agent continues bit-identically (actions, losses, weights, moments, memory, RNG)', () => {
    const original = new DdpgAgent({ ...small, seed: 9, replayEpisodes: 2 });
    runEpisodes(original, 0, 6, targets, 3);
    const restored = DdpgAgent.restore(JSON.parse(JSON.stringify(original.save())) as AgentState);
    const state = [0.25, 0.4];
    expect(restored.act(state)).toBe(original.act(state));
    expect(restored.update()).toEqual(original.update());
    expect(runEpisodes(restored, 6, 5, targets, 3)).toEqual(runEpisodes(original, 6, 5, targets, 3));
    expect(restored.save()).toEqual(original.save());
  });

  it('learns the same from rewards of any scale: targets are centred and divided by the running reward spread', () => {
    // An ACR difference is about 1e-3; without the division its targets would be 1000x smaller than these.
    const unit = runEpisodes(new DdpgAgent({ ...small, seed: 4 }), 0, 12, targets, 3, 1);
    const tiny = runEpisodes(new DdpgAgent({ ...small, seed: 4 }), 0, 12, targets, 3, 1e-3);
    tiny.forEach((a, k) => expect(a).toBeCloseTo(unit[k], 9));
  });

  it('sigma starts at 0.5 and decays by 0.99 per episode past warm-up only', () => {
    const agent = new DdpgAgent({ ...small, seed: 1 });
    expect(agent.sigma).toBe(DDPG_DEFAULTS.initialSigma);
    agent.endEpisode({ warmup: true });
    expect(agent.sigma).toBe(0.5);
    agent.endEpisode({ warmup: false });
    agent.endEpisode({ warmup: false });
    expect(agent.sigma).toBeCloseTo(0.5 * 0.99 ** 2, 15);
  });

  it('uses search.md defaults: replay of 128 episodes, minibatch 64, 300-unit layers', () => {
    const agent = new DdpgAgent({ stateSize: 9, stepsPerEpisode: 5, seed: 0 });
    expect(agent.options).toMatchObject({ hidden: 300, actorLr: 1e-4, criticLr: 1e-3, batchSize: 64, replayEpisodes: 128 });
    const state = agent.save();
    expect(Buffer.from(state.replay.actions, 'base64').byteLength).toBe(128 * 5 * 8);
    // Actor 9 -> 300 -> 300 -> 1: first weight matrix 300 x 9.
    expect(Buffer.from(state.actor[0], 'base64').byteLength).toBe(300 * 9 * 8);
    expect(Buffer.from(state.critic[0], 'base64').byteLength).toBe(300 * 10 * 8);
  });
});
