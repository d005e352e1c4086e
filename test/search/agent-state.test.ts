// The agent's options and checkpoint state (ddpg.ts, replay.ts, mlp.ts, codec.ts): every option's documented range
// by its exact message (name, bounds, open or closed at the low end), the bounds themselves accepted, and each part
// of a saved state that a damaged checkpoint could spoil refused by name, with its edge values still accepted.
import { describe, expect, test } from 'vitest';
import { DdpgAgent } from '../../src/search/agent/index.js';
import type { AgentState, DdpgOptions } from '../../src/search/agent/index.js';

const base: DdpgOptions = { stateSize: 2, stepsPerEpisode: 2, hidden: 2, batchSize: 2, replayEpisodes: 2, seed: 1 };
const MAX = Number.MAX_SAFE_INTEGER;

describe('DdpgAgent options', () => {
  test.each<[keyof DdpgOptions, number, string]>([
    ['stateSize', 65537, 'an integer in [1, 65536]'],
    ['stepsPerEpisode', 0, 'an integer in [1, 65536]'],
    ['seed', -1, `an integer in [0, ${MAX}]`],
    ['hidden', 4097, 'an integer in [1, 4096]'],
    ['actorLr', 0, 'a number in (0, 1]'],
    ['criticLr', 1.5, 'a number in (0, 1]'],
    ['batchSize', 65537, 'an integer in [1, 65536]'],
    ['replayEpisodes', 65537, 'an integer in [1, 65536]'],
    ['initialSigma', 1001, 'a number in (0, 1000]'],
    ['sigmaDecay', 0, 'a number in (0, 1]'],
    ['baselineFactor', -0.5, 'a number in [0, 1]'],
    ['spreadFactor', 0, 'a number in (0, 1]'],
    ['finalLayerRange', 2, 'a number in (0, 1]'],
  ])('%s = %d is refused: expected %s', (name, value, expected) => {
    expect(() => new DdpgAgent({ ...base, [name]: value })).toThrow(`${name}: expected ${expected}, got ${value}`);
  });

  test('the bounds are accepted, and an option given as undefined takes its default', () => {
    const edges = { stateSize: 1, stepsPerEpisode: 1, seed: MAX, hidden: 1, actorLr: 1, criticLr: 1, batchSize: 1, replayEpisodes: 1, initialSigma: 1000, sigmaDecay: 1, baselineFactor: 0, spreadFactor: 1, finalLayerRange: 1 };
    expect(new DdpgAgent(edges).options).toEqual(edges);
    expect(new DdpgAgent({ ...base, baselineFactor: 1, hidden: undefined }).options).toMatchObject({ baselineFactor: 1, hidden: 300 });
  });
});

describe('DdpgAgent inputs', () => {
  test('states of the wrong length or with a non-finite value, rewards that are not numbers, an update before any memory', () => {
    const agent = new DdpgAgent(base);
    expect(() => agent.act(null as unknown as number[])).toThrow('state: expected a vector of length 2, got null');
    expect(() => agent.actDeterministic([Number.NaN, 0])).toThrow('state: expected finite numbers');
    expect(() => agent.actDeterministic([0, Number.POSITIVE_INFINITY])).toThrow('state: expected finite numbers');
    expect(() => agent.remember([{ state: [0, 0], action: 0.5 }], Number.NaN)).toThrow('reward: expected a number in [-Infinity, Infinity], got NaN');
    expect(() => agent.update()).toThrow('replay memory: cannot sample from an empty memory');
  });
});

describe('DdpgAgent.restore', () => {
  /** A saved agent that has remembered one episode and updated once: every part of its state is set. */
  function saved(): AgentState {
    const agent = new DdpgAgent(base);
    agent.remember([{ state: [0.1, 0.2], action: 0.3 }, { state: [0.4, 0.5], action: 0.6 }], 2);
    agent.remember([{ state: [0.7, 0.8], action: 0.9 }, { state: [0.2, 0.1], action: 0.4 }], 5);
    agent.update();
    agent.endEpisode({ warmup: false });
    return JSON.parse(JSON.stringify(agent.save())) as AgentState;
  }
  const damaged = (change: (state: AgentState) => void): AgentState => {
    const state = saved();
    change(state);
    return state;
  };

  test('a state round-trips, a fresh agent\'s baseline included (null until the first update)', () => {
    const state = saved();
    expect(state.baseline).toBe(3.5);
    expect(state.rewards).toEqual({ count: 2, mean: 3.5, variance: 2.25 });
    expect(DdpgAgent.restore(state).save()).toEqual(state);
    const fresh = JSON.parse(JSON.stringify(new DdpgAgent(base).save())) as AgentState;
    expect(fresh.baseline).toBeNull();
    expect(DdpgAgent.restore(fresh).save()).toEqual(fresh);
  });

  test('a state that is not an object is refused as a user error', () => {
    expect(() => DdpgAgent.restore(null as unknown as AgentState)).toThrow('agent state format: expected "arq-ddpg/1", got undefined');
  });

  test.each<[string, (state: AgentState) => void, string]>([
    ['format', (s) => { (s as { format: string }).format = 'arq-ddpg/0'; }, 'agent state format: expected "arq-ddpg/1", got "arq-ddpg/0"'],
    ['baseline', (s) => { s.baseline = Number.NaN; }, 'agent state baseline: expected a number in [-Infinity, Infinity], got NaN'],
    ['reward count', (s) => { s.rewards.count = -1; }, `agent state reward count: expected an integer in [0, ${MAX}], got -1`],
    ['reward mean', (s) => { s.rewards.mean = Number.POSITIVE_INFINITY; }, 'agent state reward mean: expected a number in [-Infinity, Infinity], got Infinity'],
    ['reward variance', (s) => { s.rewards.variance = -1; }, 'agent state reward variance: expected a number in [0, Infinity], got -1'],
    ['sigma', (s) => { s.sigma = 0; }, 'agent state sigma: expected a number in (0, Infinity], got 0'],
    ['reward statistics', (s) => { delete (s as Partial<AgentState>).rewards; }, `agent state reward count: expected an integer in [0, ${MAX}], got undefined`],
    ['replay memory', (s) => { delete (s as Partial<AgentState>).replay; }, 'replay memory state: position and size must fit a capacity of 4'],
    ['replay position', (s) => { s.replay.position = 4; }, 'replay memory state: position and size must fit a capacity of 4'],
    ['replay position sign', (s) => { s.replay.position = -1; }, 'replay memory state: position and size must fit a capacity of 4'],
    ['replay position type', (s) => { s.replay.position = 1.5; }, 'replay memory state: position and size must fit a capacity of 4'],
    ['replay size', (s) => { s.replay.size = 5; }, 'replay memory state: position and size must fit a capacity of 4'],
    ['replay states', (s) => { s.replay.states = s.replay.actions; }, 'replay states: expected 8 float64 values, got 32 bytes'],
    ['replay actions', (s) => { s.replay.actions = s.replay.states; }, 'replay actions: expected 4 float64 values, got 64 bytes'],
    ['replay rewards', (s) => { s.replay.rewards = ''; }, 'replay rewards: expected 4 float64 values, got 0 bytes'],
    ['actor', (s) => { s.actor.pop(); }, 'network state: expected 6 parameter arrays'],
    ['critic parameter', (s) => { s.critic[2] = s.critic[3]; }, 'network parameter 2: expected 4 float64 values, got 16 bytes'],
    ['optimizer step', (s) => { s.actorOptimizer.step = -1; }, 'optimizer state: expected a step count and 6 moment arrays of each kind'],
    ['optimizer moments', (s) => { s.criticOptimizer.v.pop(); }, 'optimizer state: expected a step count and 6 moment arrays of each kind'],
    ['optimizer first moments', (s) => { s.actorOptimizer.m.pop(); }, 'optimizer state: expected a step count and 6 moment arrays of each kind'],
    ['optimizer without first moments', (s) => { delete (s.actorOptimizer as Partial<AgentState['actorOptimizer']>).m; }, 'optimizer state: expected a step count and 6 moment arrays of each kind'],
    ['optimizer without second moments', (s) => { delete (s.criticOptimizer as Partial<AgentState['criticOptimizer']>).v; }, 'optimizer state: expected a step count and 6 moment arrays of each kind'],
    ['optimizer', (s) => { delete (s as Partial<AgentState>).actorOptimizer; }, 'optimizer state: expected a step count and 6 moment arrays of each kind'],
    ['optimizer first moment', (s) => { s.criticOptimizer.m[0] = s.criticOptimizer.m[1]; }, 'optimizer first moment 0: expected 6 float64 values, got 16 bytes'],
    ['optimizer second moment', (s) => { s.actorOptimizer.v[5] = ''; }, 'optimizer second moment 5: expected 1 float64 values, got 0 bytes'],
  ])('a damaged %s is refused by name', (_, change, message) => {
    expect(() => DdpgAgent.restore(damaged(change))).toThrow(message);
  });

  test('edge values of a state are accepted: a full replay memory at its last slot, a count of 0, a zero variance', () => {
    const state = damaged((s) => {
      s.replay.position = 3;
      s.replay.size = 4;
      s.rewards = { count: 0, mean: -2, variance: 0 };
      s.actorOptimizer.step = 0;
    });
    expect(DdpgAgent.restore(state).save()).toEqual(state);
  });
});
