/**
 * The replay memory: a ring buffer of (state, action, episode reward) transitions. Once full, each new transition
 * overwrites the oldest. No next state is kept: the agent's critic regresses on the episode's reward directly
 * (see ddpg.ts).
 */
import type { Random } from '../../util/random.js';
import { decodeFloat64, encodeFloat64 } from './codec.js';
import { ArqError } from '../../util/errors.js';

/** A sampled minibatch: states row-major [batch][stateSize]. */
export interface Minibatch {
  size: number;
  states: Float64Array;
  actions: Float64Array;
  rewards: Float64Array;
}

export interface ReplayState {
  /** Next slot to write. */
  position: number;
  /** Transitions held (at most the capacity). */
  size: number;
  states: string;
  actions: string;
  rewards: string;
}

export class ReplayMemory {
  private readonly states: Float64Array;
  private readonly actions: Float64Array;
  private readonly rewards: Float64Array;
  private position = 0;
  private count = 0;

  constructor(readonly capacity: number, readonly stateSize: number) {
    this.states = new Float64Array(capacity * stateSize);
    this.actions = new Float64Array(capacity);
    this.rewards = new Float64Array(capacity);
  }

  get size(): number {
    return this.count;
  }

  push(state: Float64Array, action: number, reward: number): void {
    this.states.set(state, this.position * this.stateSize);
    this.actions[this.position] = action;
    this.rewards[this.position] = reward;
    this.position = (this.position + 1) % this.capacity;
    this.count = Math.min(this.count + 1, this.capacity);
  }

  /**
   * `batch` transitions, as HAQ's memory draws them: without replacement when the memory holds at least `batch`
   * (a partial Fisher-Yates shuffle of the slot indices), with replacement otherwise.
   */
  sample(batch: number, rng: Random): Minibatch {
    if (this.count === 0) throw new ArqError('replay memory: cannot sample from an empty memory');
    const slots = new Int32Array(batch);
    if (this.count >= batch) {
      const pool = Int32Array.from({ length: this.count }, (_, j) => j);
      for (let j = 0; j < batch; j++) {
        const pick = j + rng.integer(this.count - j);
        [pool[j], pool[pick]] = [pool[pick], pool[j]];
        slots[j] = pool[j];
      }
    } else {
      for (let j = 0; j < batch; j++) slots[j] = rng.integer(this.count);
    }
    const { stateSize } = this;
    const out: Minibatch = {
      size: batch,
      states: new Float64Array(batch * stateSize),
      actions: new Float64Array(batch),
      rewards: new Float64Array(batch),
    };
    slots.forEach((slot, j) => {
      out.states.set(this.states.subarray(slot * stateSize, (slot + 1) * stateSize), j * stateSize);
      out.actions[j] = this.actions[slot];
      out.rewards[j] = this.rewards[slot];
    });
    return out;
  }

  save(): ReplayState {
    return {
      position: this.position,
      size: this.count,
      states: encodeFloat64(this.states),
      actions: encodeFloat64(this.actions),
      rewards: encodeFloat64(this.rewards),
    };
  }

  load(state: ReplayState): void {
    const { capacity } = this;
    const inRange = (v: unknown, max: number): boolean => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= max;
    if (!inRange(state?.position, capacity - 1) || !inRange(state.size, capacity)) {
      throw new ArqError(`replay memory state: position and size must fit a capacity of ${capacity}`);
    }
    this.states.set(decodeFloat64('replay states', state.states, capacity * this.stateSize));
    this.actions.set(decodeFloat64('replay actions', state.actions, capacity));
    this.rewards.set(decodeFloat64('replay rewards', state.rewards, capacity));
    this.position = state.position;
    this.count = state.size;
  }
}
