/**
 * Who picks an episode's actions: the DDPG agent (the ARQ and HAQ searches; HAQ's loop: warm-up episodes, then the
 * actor with exploration noise, the episode's reward stored with every transition and one policy update per
 * transition) or random search (uniform actions every episode). Both act through the environment's budget-relative
 * mapping, so every policy fits the budget as acted, and both save their whole state so that a resumed search
 * continues the exact same stream.
 *
 * The agent's warm-up starts from the seed policies it is given (the sensitivity knapsack and the best uniform
 * policy: their rewards warm-start the replay memory with policies a careful engineer would try first), then
 * continues with uniform random actions. Exploration narrows geometrically from the agent's initial sigma to
 * FINAL_SIGMA over the learning episodes, whatever their number, so the last episodes exploit what was learned.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { JsonValue } from '../smoothing/results.js';
import { DDPG_DEFAULTS, DdpgAgent, type AgentState } from './agent/index.js';
import { Random } from '../util/random.js';
import { STATE_SIZE, type EpisodeOutcome, type QuantizationEnvironment } from './environment.js';
import type { SearchName } from '../report/types.js';

/** Exploration sigma of the last episode. */
export const FINAL_SIGMA = 0.05;

/** One episode: its outcome (policy, actions of the widths that ran, repair) and the states the actions were taken in. */
export interface Choice {
  outcome: EpisodeOutcome;
  states: Float64Array[];
}

export interface Explorer {
  /** Its proposals do not depend on the rewards it learns from (random search): any number can be measured at once. */
  readonly independent: boolean;
  isWarmup(episode: number): boolean;
  choose(episode: number): Choice;
  /** Learns from the episode's reward (a no-op for random search). */
  learn(episode: number, choice: Choice, reward: number): Promise<void>;
  save(): JsonValue;
}

export interface ExplorerOptions {
  /** Episodes of the whole search. */
  readonly episodes: number;
  readonly warmup: number;
  /** Per-layer [wbits, abits] of the first warm-up episodes (at most `warmup` are used). */
  readonly seeds: readonly (readonly (readonly [number, number])[])[];
}

/** The per-episode factor that takes sigma from DDPG's initial value to FINAL_SIGMA over the episodes past warm-up. */
export function explorationDecay(episodes: number, warmup: number): number {
  const learning = episodes - warmup;
  return learning > 1 ? (FINAL_SIGMA / DDPG_DEFAULTS.initialSigma) ** (1 / (learning - 1)) : 1;
}

class AgentExplorer implements Explorer {
  readonly independent = false;

  constructor(private readonly env: QuantizationEnvironment, private readonly agent: DdpgAgent, private readonly options: ExplorerOptions) {}

  isWarmup(episode: number): boolean {
    return episode < this.options.warmup;
  }

  choose(episode: number): Choice {
    const warm = this.isWarmup(episode);
    const seed = warm ? this.options.seeds[episode] : undefined;
    const run = this.env.episode();
    const states: Float64Array[] = [];
    let previous = 0;
    for (let step = 0; step < this.env.steps; step++) {
      const state = run.state(previous);
      states.push(state);
      if (seed) previous = run.force(seed[step >> 1][step % 2]);
      else previous = run.act(warm ? this.agent.randomAction() : this.agent.act(state));
    }
    return { outcome: run.finish(), states };
  }

  async learn(episode: number, { outcome, states }: Choice, reward: number): Promise<void> {
    this.agent.remember(states.map((state, t) => ({ state, action: outcome.actions[t] })), reward);
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
  readonly independent = true;

  constructor(private readonly env: QuantizationEnvironment, private readonly random: Random) {}

  isWarmup(): boolean {
    return false;
  }

  choose(): Choice {
    const run = this.env.episode();
    while (!run.done) run.act(this.random.uniform());
    return { outcome: run.finish(), states: [] };
  }

  async learn(): Promise<void> {}

  save(): JsonValue {
    return { random: this.random.state() };
  }
}

/** The explorer of a search, fresh from its seed or restored from a checkpointed state. */
export function createExplorer(name: SearchName, env: QuantizationEnvironment, seed: number, options: ExplorerOptions, saved: JsonValue): Explorer {
  if (name === 'random') {
    const random = Random.fromSeed(seed);
    if (saved !== null) random.setState((saved as { random: number[] }).random);
    return new RandomExplorer(env, random);
  }
  const agent = saved === null
    ? new DdpgAgent({ stateSize: STATE_SIZE, stepsPerEpisode: env.steps, seed, sigmaDecay: explorationDecay(options.episodes, options.warmup) })
    : DdpgAgent.restore(saved as unknown as AgentState);
  return new AgentExplorer(env, agent, options);
}
