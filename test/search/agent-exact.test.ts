// The agent's reward normalisation (ddpg.ts, search.md "normalised by a moving-average baseline") against numbers
// worked out by hand: the running spread is the weighted population standard deviation of the rewards (equal weights
// for the first 1/spreadFactor episodes, then spreadFactor for the newest and the rest scaled by 1 - spreadFactor),
// and the critic's loss of an update is the mean of ((R - baseline) / spread)^2 while Q is still about 0 (last layer
// initialised within +-1e-9, learning rates 1e-12), with the baseline moved half way to the minibatch's mean reward
// before it is subtracted.
import { describe, expect, it } from 'vitest';
import { DdpgAgent } from '../../src/search/agent/index.js';

/** An episode of two steps (state size 1) with reward `reward`. */
function remember(agent: DdpgAgent, reward: number): void {
  agent.remember([{ state: [0.25], action: 0.1 }, { state: [0.75], action: 0.9 }], reward);
}

describe('DdpgAgent reward normalisation', () => {
  it('rewardSpread is the weighted population deviation of the episode rewards: plain for 10 episodes, then exponential', () => {
    const rewards = [0.3, -1.2, 2.5, 0.7, 4, -0.5, 1.1, 3.3, -2, 0.9, 1.7, 5.2, -0.4, 2.2];
    const agent = new DdpgAgent({ stateSize: 1, stepsPerEpisode: 2, hidden: 2, seed: 1 });
    expect(agent.rewardSpread()).toBe(1); // nothing remembered yet
    remember(agent, rewards[0]);
    expect(agent.rewardSpread()).toBe(1); // one reward: no spread yet
    let weights: number[] = [1];
    for (let k = 1; k < rewards.length; k++) {
      remember(agent, rewards[k]);
      const count = k + 1;
      weights = count <= 10 ? new Array<number>(count).fill(1 / count) : [...weights.map((w) => w * 0.9), 0.1];
      const mean = weights.reduce((sum, w, i) => sum + w * rewards[i], 0);
      const variance = weights.reduce((sum, w, i) => sum + w * (rewards[i] - mean) ** 2, 0);
      expect(agent.rewardSpread()).toBeCloseTo(Math.sqrt(variance), 12);
    }
  });

  it("the critic's targets: rewards minus a baseline moved half way to the minibatch mean, divided by the spread", () => {
    // Replay of 2 episodes x 2 steps and minibatches of 4: every update sees the whole memory, whatever the draw.
    const agent = new DdpgAgent({ stateSize: 1, stepsPerEpisode: 2, hidden: 4, batchSize: 4, replayEpisodes: 2, finalLayerRange: 1e-9, actorLr: 1e-12, criticLr: 1e-12, seed: 3 });
    remember(agent, 1);
    remember(agent, 3);
    // Baseline = the first minibatch's mean, 2; spread = deviation of {1, 3} = 1; targets -1, -1, 1, 1.
    expect(agent.update().criticLoss).toBeCloseTo(1, 6);
    remember(agent, 8); // overwrites the oldest episode (reward 1): the memory holds 3, 3, 8, 8
    // Baseline 2 + 0.5 (5.5 - 2) = 3.75; spread^2 = population variance of {1, 3, 8} = 26/3.
    const expected = ((3 - 3.75) ** 2 + (8 - 3.75) ** 2) / 2 / (26 / 3);
    expect(agent.update().criticLoss).toBeCloseTo(expected, 6);
  });
});
