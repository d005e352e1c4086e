// The replay memory's minibatch draw (replay.ts), as HAQ's memory draws: a partial Fisher-Yates shuffle of the slots
// when it holds at least a batch (slot j swapped with j + integer(count - j)), independent draws integer(count)
// otherwise, recomputed here from a second generator of the same seed. Each transition's state, action and reward
// come from the same slot.
import { describe, expect, test } from 'vitest';
import { ReplayMemory } from '../../src/search/agent/replay.js';
import { Random } from '../../src/util/random.js';

/** A memory of `count` transitions whose state, action and reward all name their slot j: (j, -j), j / 100, 10 j. */
function memoryOf(count: number): ReplayMemory {
  const memory = new ReplayMemory(8, 2);
  for (let j = 0; j < count; j++) memory.push(Float64Array.of(j, -j), j / 100, 10 * j);
  return memory;
}

function expectSlots(batch: ReturnType<ReplayMemory['sample']>, slots: number[]): void {
  expect(batch.size).toBe(slots.length);
  expect([...batch.states]).toEqual(slots.flatMap((j) => [j, -j]));
  expect([...batch.actions]).toEqual(slots.map((j) => j / 100));
  expect([...batch.rewards]).toEqual(slots.map((j) => 10 * j));
}

describe('ReplayMemory.sample', () => {
  test('without replacement from a memory holding a batch: a partial Fisher-Yates shuffle of the slots', () => {
    const memory = memoryOf(6);
    const rng = Random.fromSeed(21);
    const reference = Random.fromSeed(21);
    for (const batch of [4, 6, 1]) {
      const pool = [0, 1, 2, 3, 4, 5];
      const slots: number[] = [];
      for (let j = 0; j < batch; j++) {
        const pick = j + reference.integer(6 - j);
        [pool[j], pool[pick]] = [pool[pick], pool[j]];
        slots.push(pool[j]);
      }
      expectSlots(memory.sample(batch, rng), slots);
    }
    // The draw takes exactly `batch` numbers from the generator: both streams are still in step.
    expect(rng.uniform()).toBe(reference.uniform());
  });

  test('with replacement from a memory holding fewer than a batch: independent draws', () => {
    const memory = memoryOf(3);
    const rng = Random.fromSeed(5);
    const reference = Random.fromSeed(5);
    const slots = Array.from({ length: 7 }, () => reference.integer(3));
    expect(new Set(slots).size).toBeGreaterThan(1);
    expectSlots(memory.sample(7, rng), slots);
    expect(rng.uniform()).toBe(reference.uniform());
  });
});
