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
 *
 * With `localSearch` L, an agent's last L episodes are a local search instead (docs/search-design.md): each proposes
 * an unmeasured neighbour of the best policy so far (by the search's own reward): one layer's weights or activation
 * a bit wider, the others lowered into the budget in the repair's sensitivity order. The agent proposes whole
 * policies from a state that cannot see the sensitivity table; the knapsack it is warm-started with is optimal for
 * summed sensitivities, so what the reward can still add is the interactions between layers that the sum misses,
 * and those live next to the knapsack, not where a random episode lands.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { JsonValue } from '../smoothing/results.js';
import { DDPG_DEFAULTS, DdpgAgent, type AgentState } from './agent/index.js';
import { Random } from '../util/random.js';
import { ArqError } from '../util/errors.js';
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
  /** A local-search episode (a neighbour of the incumbent) rather than the agent's or a random one. */
  isLocalSearch(episode: number): boolean;
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
  /** The agent's last episodes spent on local search around the incumbent (0: none; at most episodes - warmup). */
  readonly localSearch?: number;
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

  isLocalSearch(): boolean {
    return false;
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

  isLocalSearch(): boolean {
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

type Bits = [number, number][];

/** What a local search keeps between episodes (and in a checkpoint). */
interface LocalSearchState {
  incumbent: { bits: Bits; reward: number } | null;
  /** Keys of every policy proposed so far (by the agent too): a neighbour is proposed once. */
  proposed: string[];
  random: number[];
}

const bitsKey = (bits: readonly (readonly [number, number])[]) => bits.map(([w, a]) => `${w}.${a}`).join(' ');

/**
 * An agent's episodes up to `start`, then local search: each episode a neighbour of the best policy so far
 * (QuantizationEnvironment.raised), the widened width drawn uniformly among those that can grow, never a policy
 * proposed before; once every single-bit neighbour is taken, two (then more) widths are widened at once.
 */
class LocalSearchExplorer implements Explorer {
  readonly independent = false;
  private readonly proposed: Set<string>;
  private incumbent: LocalSearchState['incumbent'];
  /** Every width a move may widen: each layer's weights and activation (raised refuses pinned and full ones). */
  private readonly units: readonly { layer: number; kind: 0 | 1 }[];

  constructor(private readonly env: QuantizationEnvironment, private readonly agent: Explorer, private readonly start: number, private readonly random: Random, state: Omit<LocalSearchState, 'random'> | null) {
    this.proposed = new Set(state?.proposed);
    this.incumbent = state?.incumbent ?? null;
    this.units = env.layers.flatMap((_, layer) => [{ layer, kind: 0 as const }, { layer, kind: 1 as const }]);
  }

  isWarmup(episode: number): boolean {
    return this.agent.isWarmup(episode);
  }

  isLocalSearch(episode: number): boolean {
    return episode >= this.start;
  }

  choose(episode: number): Choice {
    if (!this.isLocalSearch(episode)) return this.agent.choose(episode);
    if (!this.incumbent) throw new ArqError('local search needs a rewarded episode first');
    const { units } = this;
    let bits: Bits = this.incumbent.bits;
    // Widen one unit at a time from the incumbent; a neighbour already proposed (or no room) counts as a miss, and
    // after as many misses as there are units the move widens one more unit, so the loop ends.
    for (let misses = 0, moves = 1; ; ) {
      let next: Bits | null = this.incumbent.bits;
      for (let m = 0; m < moves && next; m++) {
        const { layer, kind } = units[Math.floor(this.random.uniform() * units.length)];
        next = this.env.raised(next, layer, kind);
      }
      if (next && !this.proposed.has(bitsKey(next))) {
        bits = next;
        break;
      }
      if (++misses >= units.length) {
        misses = 0;
        if (++moves > MAX_MOVES) break; // nothing new found: measure the incumbent again (a repeated reward)
      }
    }
    this.proposed.add(bitsKey(bits));
    return { outcome: this.env.forced(bits), states: [] };
  }

  async learn(episode: number, choice: Choice, reward: number): Promise<void> {
    const bits = choice.outcome.layers.map((l): [number, number] => [l.wbits, l.abits]);
    this.proposed.add(bitsKey(bits));
    if (!this.incumbent || reward > this.incumbent.reward) this.incumbent = { bits, reward };
    if (!this.isLocalSearch(episode)) await this.agent.learn(episode, choice, reward);
  }

  save(): JsonValue {
    const local: LocalSearchState = { incumbent: this.incumbent, proposed: [...this.proposed], random: this.random.state() };
    return { agent: this.agent.save(), local } as unknown as JsonValue;
  }
}

/** The explorer of a search, fresh from its seed or restored from a checkpointed state. */
export function createExplorer(name: SearchName, env: QuantizationEnvironment, seed: number, options: ExplorerOptions, saved: JsonValue): Explorer {
  if (name === 'random') {
    const random = Random.fromSeed(seed);
    if (saved !== null) random.setState((saved as { random: number[] }).random);
    return new RandomExplorer(env, random);
  }
  const localSearch = options.localSearch ?? 0;
  const restored = saved as { agent: AgentState; local: LocalSearchState } | null;
  const agentState = localSearch > 0 ? restored?.agent : (saved as unknown as AgentState | null);
  const agent = agentState
    ? DdpgAgent.restore(agentState)
    : new DdpgAgent({ stateSize: STATE_SIZE, stepsPerEpisode: env.steps, seed, sigmaDecay: explorationDecay(options.episodes - localSearch, options.warmup) });
  const explorer = new AgentExplorer(env, agent, options);
  if (localSearch === 0) return explorer;
  // its own stream: the agent's draws are the same with or without a local search after them
  const random = Random.fromSeed(seed, LOCAL_SEARCH_STREAM);
  if (restored) random.setState(restored.local.random);
  return new LocalSearchExplorer(env, explorer, options.episodes - localSearch, random, restored?.local ?? null);
}

/** Widths widened at once by a local-search move once the smaller moves found nothing new. */
const MAX_MOVES = 3;

/** Random stream of the local search (the agent draws from stream-less Random.fromSeed(seed)). */
const LOCAL_SEARCH_STREAM = 1;
