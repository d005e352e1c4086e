// The explorers (explorers.ts) against search.md's agent loop, on the tiny MLP's environment at the W5A5 point (the
// seed policies fit it, so no repair changes them, and actions map around a fair width of about 5, so that different
// actions give different widths): the warm-up runs the seed policies first, then uniform random
// actions from the agent's own generator; past warm-up the actor acts, each episode ends with one update per
// transition and sigma decaying to FINAL_SIGMA at the last episode; random search acts uniformly and resumes its
// exact stream from its saved state.
import { describe, expect, test } from 'vitest';
import { DdpgAgent, DDPG_DEFAULTS, type AgentState } from '../../src/search/agent/index.js';
import { QuantizationEnvironment, STATE_FEATURES, STATE_SIZE } from '../../src/search/environment.js';
import { createExplorer, explorationDecay, FINAL_SIGMA } from '../../src/search/explorers.js';
import type { JsonValue } from '../../src/smoothing/results.js';
import { Random } from '../../src/util/random.js';
import { loadFixture } from '../support/fixtures.js';

const model = loadFixture('tiny_mlp');
const env = new QuantizationEnvironment(model.graph, { budget: 25 / 1024, pinEnds: false });
const widths = (layers: readonly { wbits: number; abits: number }[]) => layers.map((l) => [l.wbits, l.abits]);

describe('explorationDecay', () => {
  test('takes the initial sigma to FINAL_SIGMA at the last of the learning episodes', () => {
    for (const [episodes, warmup] of [[120, 20], [23, 20], [300, 20]]) {
      const decay = explorationDecay(episodes, warmup);
      // sigma of learning episode j (from 0) is initialSigma decay^j; the last is j = episodes - warmup - 1.
      expect(DDPG_DEFAULTS.initialSigma * decay ** (episodes - warmup - 1)).toBeCloseTo(FINAL_SIGMA, 12);
    }
    expect(explorationDecay(22, 20)).toBeCloseTo(FINAL_SIGMA / DDPG_DEFAULTS.initialSigma, 15);
    // One learning episode or none: nothing to decay over.
    expect(explorationDecay(21, 20)).toBe(1);
    expect(explorationDecay(20, 20)).toBe(1);
  });
});

describe('the agent explorer', () => {
  test('seed policies, then random warm-up actions, then the actor; one update per transition; sigma decays past warm-up', async () => {
    const layers = env.steps / 2;
    const seeds = [Array.from({ length: layers }, (_, i) => [2 + i, 8 - i] as [number, number]), Array.from({ length: layers }, () => [5, 3] as [number, number])];
    const options = { episodes: 6, warmup: 3, seeds };
    const explorer = createExplorer('arq', env, 11, options, null);
    // The agent the explorer makes from its seed, followed here step by step.
    const twin = new DdpgAgent({ stateSize: STATE_SIZE, stepsPerEpisode: env.steps, seed: 11, sigmaDecay: explorationDecay(6, 3) });
    const sigmaOf = () => (explorer.save() as unknown as AgentState).sigma;
    const updatesOf = () => (explorer.save() as unknown as AgentState).actorOptimizer.step;

    expect([0, 1, 2, 3, 5].map((e) => explorer.isWarmup(e))).toEqual([true, true, true, false, false]);
    const taken: number[] = [];
    for (const [episode, seed] of seeds.entries()) {
      const choice = explorer.choose(episode);
      taken.push(...choice.outcome.actions);
      expect(widths(choice.outcome.layers)).toEqual(seed);
      expect(choice.states).toHaveLength(env.steps);
      await explorer.learn(episode, choice, 0.1 * episode);
    }
    // The third warm-up episode: uniform actions, drawn by the agent (the seeds drew nothing).
    const run = env.episode();
    while (!run.done) run.act(twin.randomAction());
    const warm = explorer.choose(2);
    expect(warm.outcome.layers).toEqual(run.finish().layers);
    // One uniform draw per step and nothing else: the agent's generator is where the twin's is.
    expect((explorer.save() as unknown as AgentState).rng).toEqual(twin.save().rng);
    taken.push(...warm.outcome.actions);
    await explorer.learn(2, warm, 0.3);
    expect({ sigma: sigmaOf(), updates: updatesOf() }).toEqual({ sigma: DDPG_DEFAULTS.initialSigma, updates: 0 });

    // Past warm-up: the actor's states are those of the episode, each step's previous action the one taken.
    const learning = explorer.choose(3);
    expect(learning.states[0]).toEqual(env.episode().state(0));
    const previous = STATE_FEATURES.indexOf('previous_action');
    expect(learning.states.map((state) => state[previous])).toEqual([0, ...learning.outcome.actions.slice(0, -1)]);
    taken.push(...learning.outcome.actions);
    await explorer.learn(3, learning, 0.4);
    expect(updatesOf()).toBe(env.steps);
    expect(sigmaOf()).toBeCloseTo(DDPG_DEFAULTS.initialSigma * explorationDecay(6, 3), 15);
    // The memory holds the four episodes' transitions with their rewards.
    const rewards = Buffer.from((explorer.save() as unknown as AgentState).replay.rewards, 'base64');
    const stored = Array.from(new Float64Array(rewards.buffer, rewards.byteOffset, 4 * env.steps));
    expect(stored).toEqual([0, 0.1, 0.3, 0.4].flatMap((r) => new Array<number>(env.steps).fill(r)));
    // ... and each transition's action, the action of the width that ran.
    const actions = Buffer.from((explorer.save() as unknown as AgentState).replay.actions, 'base64');
    expect(Array.from(new Float64Array(actions.buffer, actions.byteOffset, 4 * env.steps))).toEqual(taken);
  });
});

describe('the random explorer', () => {
  test('uniform actions from its seed, and a restored explorer continues the same stream', () => {
    const explorer = createExplorer('random', env, 21, { episodes: 4, warmup: 0, seeds: [] }, null);
    const random = Random.fromSeed(21);
    const expected = () => {
      const run = env.episode();
      while (!run.done) run.act(random.uniform());
      return run.finish().layers;
    };
    expect(explorer.isWarmup(0)).toBe(false);
    expect(explorer.choose(0).outcome.layers).toEqual(expected());
    const saved = JSON.parse(JSON.stringify(explorer.save())) as JsonValue;
    const restored = createExplorer('random', env, 999, { episodes: 4, warmup: 0, seeds: [] }, saved);
    const next = expected();
    expect(restored.choose(1).outcome.layers).toEqual(next);
    expect(explorer.choose(1).outcome.layers).toEqual(next);
  });
});
