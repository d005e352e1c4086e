// One update of the agent (ddpg.ts) against an independent computation: the critic's loss
// mean_b (Q(s_b, a_b) - (R_b - baseline) / spread)^2 and the actor's loss -mean_b Q'(s_b, mu(s_b)) under the updated
// critic Q', evaluated here with a plain-loop forward pass of our own and differentiated by central differences.
// Adam's first step moves a parameter by exactly -lr g / (|g| + 1e-8) (bias correction cancels the moments'
// factors: m = 0.1 g over 1 - 0.9, sqrt(v) = sqrt(0.001) |g| over sqrt(1 - 0.999)), so every parameter's move names
// the sign and the near-zeros of its own gradient. The replay memory holds exactly one minibatch, so the update sees
// every transition whatever its draw, and both losses are means that do not depend on the order.
import { describe, expect, it } from 'vitest';
import { DdpgAgent } from '../../src/search/agent/index.js';
import type { AgentState } from '../../src/search/agent/index.js';

const decode = (text: string): Float64Array => {
  const bytes = Buffer.from(text, 'base64');
  const out = new Float64Array(bytes.byteLength / 8);
  new Uint8Array(out.buffer).set(bytes);
  return out;
};

/** [w1, b1, w2, b2, w3, b3] of a state -> hidden -> hidden -> 1 network, weights row-major [out][in]. */
type Params = Float64Array[];

/** The network's output for one input row: two ReLU layers, then linear or sigmoid. */
function forward(p: Params, x: readonly number[], sigmoid: boolean): number {
  let v = x;
  for (let layer = 0; layer < 3; layer++) {
    const w = p[2 * layer];
    const b = p[2 * layer + 1];
    const next: number[] = [];
    for (let o = 0; o < b.length; o++) {
      let sum = b[o];
      for (let i = 0; i < v.length; i++) sum += w[o * v.length + i] * v[i];
      next.push(layer < 2 ? Math.max(0, sum) : sum);
    }
    v = next;
  }
  return sigmoid ? 1 / (1 + Math.exp(-v[0])) : v[0];
}

/** Central differences of `loss` in every parameter of `p`. */
function gradient(p: Params, loss: () => number): Float64Array[] {
  const h = 1e-6;
  return p.map((values) => Float64Array.from(values, (saved, j) => {
    values[j] = saved + h;
    const up = loss();
    values[j] = saved - h;
    const down = loss();
    values[j] = saved;
    return (up - down) / (2 * h);
  }));
}

/** Every parameter moved by Adam's first step along its gradient: -lr g / (|g| + 1e-8). */
function expectFirstAdamStep(before: Params, after: Params, grads: Float64Array[], lr: number): number {
  let moved = 0;
  before.forEach((values, k) => values.forEach((v, j) => {
    const g = grads[k][j];
    const step = (after[k][j] - v) / lr;
    // A central difference is exact to about 1e-9 here: where |g| is not well above that, only the sign is known.
    if (Math.abs(g) > 1e-5) {
      expect(step).toBeCloseTo(-g / (Math.abs(g) + 1e-8), 6);
      moved++;
    } else {
      expect(Math.abs(step)).toBeLessThanOrEqual(1 + 1e-9);
    }
  }));
  return moved;
}

describe('DdpgAgent.update against losses recomputed independently', () => {
  it("moves the critic down its loss's gradient, then the actor down -Q' of its own actions", () => {
    const agent = new DdpgAgent({ stateSize: 2, stepsPerEpisode: 2, hidden: 5, batchSize: 4, replayEpisodes: 2, finalLayerRange: 0.5, seed: 11 });
    const episodes = [
      { reward: 1, steps: [{ state: [0.2, -0.4], action: 0.1 }, { state: [0.9, 0.3], action: 0.7 }] },
      { reward: 3, steps: [{ state: [-0.6, 0.5], action: 0.95 }, { state: [0.4, 0.8], action: 0.35 }] },
    ];
    for (const { steps, reward } of episodes) agent.remember(steps, reward);
    const transitions = episodes.flatMap(({ steps, reward }) => steps.map((t) => ({ ...t, reward })));

    const before = agent.save();
    const losses = agent.update();
    const after = agent.save();
    const params = (state: AgentState, net: 'actor' | 'critic'): Params => state[net].map(decode);

    // Baseline: the first minibatch's mean reward, 2; spread: the deviation of the episode rewards {1, 3}, 1.
    const critic = params(before, 'critic');
    const criticLoss = (): number => transitions.reduce((sum, t) => sum + (forward(critic, [...t.state, t.action], false) - (t.reward - 2)) ** 2, 0) / 4;
    expect(losses.criticLoss).toBeCloseTo(criticLoss(), 12);
    const criticMoved = expectFirstAdamStep(critic, params(after, 'critic'), gradient(critic, criticLoss), 1e-3);

    const actor = params(before, 'actor');
    const updatedCritic = params(after, 'critic');
    const actorLoss = (): number => -transitions.reduce((sum, t) => sum + forward(updatedCritic, [...t.state, forward(actor, t.state, true)], false), 0) / 4;
    expect(losses.actorLoss).toBeCloseTo(actorLoss(), 12);
    const actorMoved = expectFirstAdamStep(actor, params(after, 'actor'), gradient(actor, actorLoss), 1e-4);

    // Most parameters have a clear gradient (the rest sit behind ReLUs that are off for every transition).
    expect(criticMoved).toBeGreaterThanOrEqual(20); // 23 of 56
    expect(actorMoved).toBeGreaterThanOrEqual(20); // 29 of 51
  });
});
