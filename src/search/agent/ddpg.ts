/**
 * The search's agent: DDPG as HAQ (Wang et al., CVPR 2019) runs it, for one action in [0, 1] per step.
 *
 * - Actor mu: state -> 300 -> 300 -> 1, ReLU, sigmoid output. Critic Q: (state, action) -> 300 -> 300 -> 1, ReLU,
 *   linear output; the action is appended to the state at the input. Adam, learning rates 1e-4 (actor) and 1e-3
 *   (critic); minibatch 64; replay memory of 128 episodes' transitions.
 * - Rewards: an episode has one reward R, given to each of its transitions, with discount 1. The return from every
 *   step is then R itself, so the critic regresses Q(s_t, a_t) on R directly, a Monte-Carlo target: no bootstrapped
 *   Q(s_t+1, mu(s_t+1)) is needed, and so neither are target networks, whose only job in DDPG is to steady that
 *   bootstrap (tau has nothing to act on). HAQ's code keeps target networks and bootstraps as well, which on top of
 *   R at every step makes Q grow with the number of steps left; the direct target avoids that.
 * - Reward normalisation: each update centres the minibatch's rewards on HAQ's baseline (a moving average, factor
 *   0.5, of minibatch mean rewards, updated before it is subtracted) and divides them by the running standard
 *   deviation of the episode rewards (exponentially weighted, factor spreadFactor per episode, so that it follows
 *   the spread of the policies the agent now tries rather than of its random warm-up), so the critic's targets have
 *   about unit spread whatever the reward's scale (an ACR difference is about 1e-3: a raw target that
 *   small leaves the critic's gradient, and so the actor's, near nothing). Shifting and scaling every target of a
 *   minibatch alike keeps which actions Q prefers.
 * - Exploration: the caller runs warm-up episodes on `randomAction()` (uniform on [0, 1]), then acts with `act()`,
 *   the actor's output plus noise from a normal truncated to [0, 1] with sigma 0.5, multiplied by sigmaDecay
 *   after every episode past warm-up (`endEpisode`; the search sets sigmaDecay from its length, see explorers.ts).
 *   After each episode it calls `remember()` with the episode's transitions
 *   and reward, then, past warm-up, `update()` once per transition.
 * - Everything random (weights, replay sampling, random actions, noise) comes from one seeded generator, so the
 *   same seed and the same calls give bit-identical actions; `save()` and `DdpgAgent.restore()` carry the whole
 *   state, generator included, through a JSON-safe object.
 */
import { Adam, Mlp, outputOf } from './mlp.js';
import type { AdamState, MlpState } from './mlp.js';
import { Random } from '../../util/random.js';
import { ReplayMemory } from './replay.js';
import type { ReplayState } from './replay.js';
import { ArqError } from '../../util/errors.js';
import { integerInRange, invalid, numberInRange } from '../../util/check.js';

/** search.md's hyper-parameters (HAQ's). */
export const DDPG_DEFAULTS = {
  /** Units in each of the two hidden layers of both networks. */
  hidden: 300,
  actorLr: 1e-4,
  criticLr: 1e-3,
  batchSize: 64,
  /** Replay capacity in episodes: the memory holds replayEpisodes x stepsPerEpisode transitions. */
  replayEpisodes: 128,
  /** Exploration sigma of the first episode past warm-up. */
  initialSigma: 0.5,
  /** Factor applied to sigma after each episode past warm-up. */
  sigmaDecay: 0.99,
  /** Moving-average factor of the reward baseline. */
  baselineFactor: 0.5,
  /** Per-episode weight of the newest reward in the running mean and variance that give the reward spread. */
  spreadFactor: 0.1,
  /** Half-width of the uniform initialisation of both networks' last layer. */
  finalLayerRange: 3e-3,
  /** Episodes of uniform random actions before the actor acts; the caller runs them (the agent takes no option). */
  warmupEpisodes: 20,
} as const;

type Hyperparameters = { -readonly [K in Exclude<keyof typeof DDPG_DEFAULTS, 'warmupEpisodes'>]: number };

export interface DdpgOptions extends Partial<Hyperparameters> {
  /** Length of the state vector. */
  stateSize: number;
  /** Steps (actions) per episode: sizes the replay memory. */
  stepsPerEpisode: number;
  /** Any integer in [0, 2^53 - 1]. */
  seed: number;
}

/** Options with every default filled in. */
export type ResolvedDdpgOptions = Required<DdpgOptions>;

type Vector = Float64Array | readonly number[];

/** One step of an episode: the state the agent saw and the action in [0, 1] taken there. */
export interface Transition {
  state: Vector;
  action: number;
}

export interface UpdateLosses {
  /** Mean squared error of Q against the normalised rewards, before the critic's step. */
  criticLoss: number;
  /** -mean Q(s, mu(s)) under the updated critic, before the actor's step. */
  actorLoss: number;
}

/** Everything a `DdpgAgent` is, as a plain JSON-serialisable object. */
export interface AgentState {
  format: 'arq-ddpg/1';
  options: ResolvedDdpgOptions;
  actor: MlpState;
  critic: MlpState;
  actorOptimizer: AdamState;
  criticOptimizer: AdamState;
  replay: ReplayState;
  /** null until the first update. */
  baseline: number | null;
  /** Running statistics of the remembered episode rewards. */
  rewards: RewardStats;
  sigma: number;
  rng: number[];
}

function resolveOptions(options: DdpgOptions): ResolvedDdpgOptions {
  // Options left undefined take their defaults, as if absent.
  const given = Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));
  const o = { ...DDPG_DEFAULTS, ...given } as typeof DDPG_DEFAULTS & DdpgOptions;
  const positive = { exclusiveMin: true };
  return {
    stateSize: integerInRange('stateSize', o.stateSize, 1, 1 << 16),
    stepsPerEpisode: integerInRange('stepsPerEpisode', o.stepsPerEpisode, 1, 1 << 16),
    seed: integerInRange('seed', o.seed, 0, Number.MAX_SAFE_INTEGER),
    hidden: integerInRange('hidden', o.hidden, 1, 1 << 12),
    actorLr: numberInRange('actorLr', o.actorLr, 0, 1, positive),
    criticLr: numberInRange('criticLr', o.criticLr, 0, 1, positive),
    batchSize: integerInRange('batchSize', o.batchSize, 1, 1 << 16),
    replayEpisodes: integerInRange('replayEpisodes', o.replayEpisodes, 1, 1 << 16),
    initialSigma: numberInRange('initialSigma', o.initialSigma, 0, 1e3, positive),
    sigmaDecay: numberInRange('sigmaDecay', o.sigmaDecay, 0, 1, positive),
    baselineFactor: numberInRange('baselineFactor', o.baselineFactor, 0, 1),
    spreadFactor: numberInRange('spreadFactor', o.spreadFactor, 0, 1, positive),
    finalLayerRange: numberInRange('finalLayerRange', o.finalLayerRange, 0, 1, positive),
  };
}

/** Exponentially weighted mean and variance of the episode rewards (West's update); count of episodes seen. */
export interface RewardStats {
  count: number;
  mean: number;
  variance: number;
}

export class DdpgAgent {
  readonly options: Readonly<ResolvedDdpgOptions>;
  private readonly rng: Random;
  private readonly actor: Mlp;
  private readonly critic: Mlp;
  private readonly actorOptimizer: Adam;
  private readonly criticOptimizer: Adam;
  private readonly memory: ReplayMemory;
  private baseline: number | null = null;
  private readonly rewardStats: RewardStats = { count: 0, mean: 0, variance: 0 };
  private currentSigma: number;

  constructor(options: DdpgOptions) {
    const o = resolveOptions(options);
    this.options = o;
    this.rng = Random.fromSeed(o.seed);
    this.actor = new Mlp([o.stateSize, o.hidden, o.hidden, 1], 'sigmoid');
    this.critic = new Mlp([o.stateSize + 1, o.hidden, o.hidden, 1], 'linear');
    this.actor.initialize(this.rng, o.finalLayerRange);
    this.critic.initialize(this.rng, o.finalLayerRange);
    this.actorOptimizer = new Adam(this.actor.parameters(), o.actorLr);
    this.criticOptimizer = new Adam(this.critic.parameters(), o.criticLr);
    this.memory = new ReplayMemory(o.replayEpisodes * o.stepsPerEpisode, o.stateSize);
    this.currentSigma = o.initialSigma;
  }

  /** The agent `save()` returned, continuing exactly where it stopped. */
  static restore(state: AgentState): DdpgAgent {
    if (state?.format !== 'arq-ddpg/1') throw invalid('agent state format', '"arq-ddpg/1"', state?.format);
    const agent = new DdpgAgent(state.options);
    agent.actor.load(state.actor);
    agent.critic.load(state.critic);
    agent.actorOptimizer.load(state.actorOptimizer);
    agent.criticOptimizer.load(state.criticOptimizer);
    agent.memory.load(state.replay);
    if (state.baseline !== null) agent.baseline = numberInRange('agent state baseline', state.baseline, -Infinity, Infinity);
    agent.rewardStats.count = integerInRange('agent state reward count', state.rewards?.count, 0, Number.MAX_SAFE_INTEGER);
    agent.rewardStats.mean = numberInRange('agent state reward mean', state.rewards.mean, -Infinity, Infinity);
    agent.rewardStats.variance = numberInRange('agent state reward variance', state.rewards.variance, 0, Infinity);
    agent.currentSigma = numberInRange('agent state sigma', state.sigma, 0, Infinity, { exclusiveMin: true });
    agent.rng.setState(state.rng);
    return agent;
  }

  save(): AgentState {
    return {
      format: 'arq-ddpg/1',
      options: { ...this.options },
      actor: this.actor.save(),
      critic: this.critic.save(),
      actorOptimizer: this.actorOptimizer.save(),
      criticOptimizer: this.criticOptimizer.save(),
      replay: this.memory.save(),
      baseline: this.baseline,
      rewards: { ...this.rewardStats },
      sigma: this.currentSigma,
      rng: this.rng.state(),
    };
  }

  /** The exploration sigma the next `act()` uses. */
  get sigma(): number {
    return this.currentSigma;
  }

  /** A warm-up action: uniform on [0, 1). */
  randomAction(): number {
    return this.rng.uniform();
  }

  /** The actor's action mu(state), without exploration. */
  actDeterministic(state: Vector): number {
    return outputOf(this.actor.forward(this.stateVector(state), 1))[0];
  }

  /** The actor's action with exploration: a draw from N(mu(state), sigma^2) truncated to [0, 1]. */
  act(state: Vector): number {
    return this.rng.truncatedNormal(this.actDeterministic(state), this.currentSigma, 0, 1);
  }

  /** Stores an episode's transitions, each with the episode's (raw) reward. */
  remember(transitions: readonly Transition[], reward: number): void {
    numberInRange('reward', reward, -Infinity, Infinity);
    const checked = transitions.map((t, j) => ({
      state: this.stateVector(t.state),
      action: numberInRange(`transitions[${j}].action`, t.action, 0, 1),
    }));
    for (const { state, action } of checked) this.memory.push(state, action, reward);
    const stats = this.rewardStats;
    // Plain averages until 1/count falls below the factor, so the first episodes weigh alike.
    const weight = Math.max(this.options.spreadFactor, 1 / ++stats.count);
    const delta = reward - stats.mean;
    stats.mean += weight * delta;
    stats.variance = (1 - weight) * (stats.variance + weight * delta * delta);
  }

  /** The running standard deviation of the episode rewards remembered (1 until two differ). */
  rewardSpread(): number {
    const spread = Math.sqrt(this.rewardStats.variance);
    return spread > 0 ? spread : 1;
  }

  /** One step of critic then actor on a minibatch from the replay memory (which must not be empty). */
  update(): UpdateLosses {
    const { stateSize } = this.options;
    const batch = this.memory.sample(this.options.batchSize, this.rng);
    const n = batch.size;

    const meanReward = batch.rewards.reduce((sum, r) => sum + r, 0) / n;
    this.baseline = this.baseline === null ? meanReward : this.baseline + this.options.baselineFactor * (meanReward - this.baseline);
    const spread = this.rewardSpread();

    // Critic: minimise mean (Q(s, a) - (R - baseline) / spread)^2.
    this.critic.zeroGrad();
    const criticTrace = this.critic.forward(withActions(batch.states, batch.actions, stateSize), n);
    const q = outputOf(criticTrace);
    const gradQ = new Float64Array(n);
    let criticLoss = 0;
    for (let b = 0; b < n; b++) {
      const error = q[b] - (batch.rewards[b] - this.baseline) / spread;
      criticLoss += (error * error) / n;
      gradQ[b] = (2 * error) / n;
    }
    this.critic.backward(criticTrace, gradQ, { gradParams: true });
    this.criticOptimizer.update(this.critic.gradients());

    // Actor: maximise mean Q(s, mu(s)); dQ/dmu comes from the critic's input gradient at the action column.
    this.actor.zeroGrad();
    const actorTrace = this.actor.forward(batch.states, n);
    const mu = outputOf(actorTrace);
    const valueTrace = this.critic.forward(withActions(batch.states, mu, stateSize), n);
    const actorLoss = -outputOf(valueTrace).reduce((sum, v) => sum + v, 0) / n;
    const gradInput = this.critic.backward(valueTrace, new Float64Array(n).fill(-1 / n), { gradParams: false });
    const gradMu = Float64Array.from({ length: n }, (_, b) => gradInput[b * (stateSize + 1) + stateSize]);
    this.actor.backward(actorTrace, gradMu, { gradParams: true });
    this.actorOptimizer.update(this.actor.gradients());

    return { criticLoss, actorLoss };
  }

  /** Called once after every episode: past warm-up, exploration narrows by sigmaDecay. */
  endEpisode(episode: { warmup: boolean }): void {
    if (!episode.warmup) this.currentSigma *= this.options.sigmaDecay;
  }

  private stateVector(state: Vector): Float64Array {
    const { stateSize } = this.options;
    if (state?.length !== stateSize) throw invalid('state', `a vector of length ${stateSize}`, state);
    const vector = Float64Array.from(state);
    if (!vector.every(Number.isFinite)) throw new ArqError('state: expected finite numbers');
    return vector;
  }
}

/** Rows [state..., action] of the critic's input, row-major [batch][stateSize + 1]. */
function withActions(states: Float64Array, actions: Float64Array, stateSize: number): Float64Array {
  const out = new Float64Array(actions.length * (stateSize + 1));
  for (let b = 0; b < actions.length; b++) {
    out.set(states.subarray(b * stateSize, (b + 1) * stateSize), b * (stateSize + 1));
    out[b * (stateSize + 1) + stateSize] = actions[b];
  }
  return out;
}
