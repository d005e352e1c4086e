/**
 * Who picks an episode's actions: the DDPG agent (the ARQ and HAQ searches; HAQ's loop: warm-up episodes of uniform
 * random actions, then the actor with exploration noise, the episode's reward stored with every transition and one
 * policy update per transition) or random search (uniform actions every episode). Both save their whole state so
 * that a resumed search continues the exact same stream.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { JsonValue } from '../smoothing/results.js';
import { DdpgAgent, type AgentState } from './agent/index.js';
import { Random } from '../util/random.js';
import { STATE_SIZE, type QuantizationEnvironment } from './environment.js';
import type { SearchName } from './types.js';

/** One episode's actions (two per layer) and the states they were taken in. */
export interface Choice {
  actions: number[];
  states: Float64Array[];
}

export interface Explorer {
  isWarmup(episode: number): boolean;
  choose(episode: number): Choice;
  /** Learns from the episode's reward (a no-op for random search). */
  learn(episode: number, choice: Choice, reward: number): Promise<void>;
  save(): JsonValue;
}

class AgentExplorer implements Explorer {
  constructor(private readonly env: QuantizationEnvironment, private readonly agent: DdpgAgent, private readonly warmup: number) {}

  isWarmup(episode: number): boolean {
    return episode < this.warmup;
  }

  choose(episode: number): Choice {
    const warm = this.isWarmup(episode);
    const actions: number[] = [];
    const states: Float64Array[] = [];
    let previous = 0;
    for (let step = 0; step < this.env.steps; step++) {
      const state = this.env.state(step, previous);
      previous = warm ? this.agent.randomAction() : this.agent.act(state);
      states.push(state);
      actions.push(previous);
    }
    return { actions, states };
  }

  async learn(episode: number, { actions, states }: Choice, reward: number): Promise<void> {
    this.agent.remember(states.map((state, t) => ({ state, action: actions[t] })), reward);
    const warm = this.isWarmup(episode);
    if (!warm) {
      for (let t = 0; t < states.length; t++) {
        this.agent.update();
        await yieldToEventLoop(); // each update is tens of milliseconds: let the event loop breathe in between
      }
    }
    this.agent.endEpisode({ warmup: warm });
  }

  save(): JsonValue {
    return this.agent.save() as unknown as JsonValue;
  }
}

class RandomExplorer implements Explorer {
  constructor(private readonly env: QuantizationEnvironment, private readonly random: Random) {}

  isWarmup(): boolean {
    return false;
  }

  choose(): Choice {
    const actions = Array.from({ length: this.env.steps }, () => this.random.uniform());
    return { actions, states: [] };
  }

  async learn(): Promise<void> {}

  save(): JsonValue {
    return { random: this.random.state() };
  }
}

/** The explorer of a search, fresh from its seed or restored from a checkpointed state. */
export function createExplorer(name: SearchName, env: QuantizationEnvironment, seed: number, warmup: number, saved: JsonValue): Explorer {
  if (name === 'random') {
    const random = Random.fromSeed(seed);
    if (saved !== null) random.setState((saved as { random: number[] }).random);
    return new RandomExplorer(env, random);
  }
  const agent = saved === null
    ? new DdpgAgent({ stateSize: STATE_SIZE, stepsPerEpisode: env.steps, seed })
    : DdpgAgent.restore(saved as unknown as AgentState);
  return new AgentExplorer(env, agent, warmup);
}
