/**
 * The agent on toy searches with a known optimum, run the way the search runs it: episodes of T steps, state =
 * [step / T, previous action], 20 warm-up episodes of random actions, then the actor with truncated-normal noise
 * decaying as the search's (to FINAL_SIGMA at the last episode); the episode's reward goes to each of its transitions; one update per transition past warm-up.
 *
 * The networks are 128 wide with actor learning rate 1e-3 instead of search.md's 300 and 1e-4, to fit the test
 * budget: at the defaults an update costs about 4x more and the actor moves 10x slower (the continuous toy then needs
 * about 35 s; it too ends within 0.08 of the targets after 300 episodes). The agent is deterministic, so each
 * assertion below is exact for its seed; the settings pass for most seeds, not just these (the discrete toy hits
 * every bin for seeds 3 to 5; seeds 1 and 2 end with one action just past a bin edge).
 */
import { describe, expect, it } from 'vitest';
import { DdpgAgent, DDPG_DEFAULTS } from '../../src/search/agent/index.js';
import { explorationDecay } from '../../src/search/explorers.js';

const EPISODES = 300;

/** Trains a fresh agent on `reward(actions)` and returns the actor's greedy actions through one episode. */
function train(steps: number, seed: number, reward: (actions: number[]) => number): number[] {
  const sigmaDecay = explorationDecay(EPISODES, DDPG_DEFAULTS.warmupEpisodes);
  const agent = new DdpgAgent({ stateSize: 2, stepsPerEpisode: steps, seed, hidden: 128, actorLr: 1e-3, sigmaDecay });
  for (let episode = 0; episode < EPISODES; episode++) {
    const warmup = episode < DDPG_DEFAULTS.warmupEpisodes;
    const transitions = [];
    let previous = 0;
    for (let t = 0; t < steps; t++) {
      const state = [t / steps, previous];
      previous = warmup ? agent.randomAction() : agent.act(state);
      transitions.push({ state, action: previous });
    }
    agent.remember(transitions, reward(transitions.map((tr) => tr.action)));
    if (!warmup) for (let t = 0; t < steps; t++) agent.update();
    agent.endEpisode({ warmup });
  }
  const greedy: number[] = [];
  let previous = 0;
  for (let t = 0; t < steps; t++) {
    previous = agent.actDeterministic([t / steps, previous]);
    greedy.push(previous);
  }
  return greedy;
}

/** HAQ's action-to-bits map for widths 2..8 (the top end clamped: a = 1 would round to 9). */
function toBits(action: number): number {
  return Math.min(8, Math.round(2 - 0.5 + action * (8 - 2 + 1)));
}

describe('DdpgAgent on toy searches', () => {
  it('continuous: the greedy actions come within 0.1 of the reward-maximising targets', () => {
    const targets = [0.2, 0.8, 0.5, 0.3];
    const greedy = train(targets.length, 1, (actions) => -actions.reduce((sum, a, t) => sum + (a - targets[t]) ** 2, 0));
    greedy.forEach((a, t) => expect(Math.abs(a - targets[t])).toBeLessThan(0.1));
  });

  it('discrete bits: the greedy policy hits the bit vector where the reward peaks', () => {
    const best = [3, 8, 5, 2];
    const greedy = train(best.length, 3, (actions) => -actions.reduce((sum, a, t) => sum + (toBits(a) - best[t]) ** 2, 0) / 36);
    expect(greedy.map(toBits)).toEqual(best);
  });
});
