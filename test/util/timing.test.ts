// The interleaved timing loop (util/timing.ts) the benchmarks and measureTimes share: its shape, order and stops,
// with engines that record their calls (what they cost is not asserted: no timed test).
import { describe, expect, test } from 'vitest';
import { interleavedSamples, median, type Engine } from '../../src/util/timing.js';

function recording(labels: readonly string[]): { engines: Engine[]; calls: string[] } {
  const calls: string[] = [];
  const engines = labels.map((label) => ({ label, run: async (images: Float32Array) => (calls.push(label), images) }));
  return { engines, calls };
}

describe('interleavedSamples', () => {
  test('warms each engine up, then gives samples[engine][round] in an order that rotates every round', async () => {
    const { engines, calls } = recording(['a', 'b', 'c']);
    const samples = await interleavedSamples(engines, new Float32Array(4), 2, 4, 0);
    expect(samples).toHaveLength(3);
    for (const rates of samples) {
      expect(rates).toHaveLength(4);
      for (const rate of rates) expect(Number.isFinite(rate) && rate > 0).toBe(true);
    }
    // Three warm-up runs each (the third times one call), then one call per engine per round (minMs 0).
    expect(calls.slice(0, 9)).toEqual(['a', 'a', 'a', 'b', 'b', 'b', 'c', 'c', 'c']);
    expect(calls.slice(9).join('')).toBe('abc' + 'bca' + 'cab' + 'abc');
  });

  test('stops at an aborted signal before the next engine\'s turn', async () => {
    const { engines, calls } = recording(['a', 'b']);
    const controller = new AbortController();
    engines[1] = { label: 'b', run: async (images) => (calls.push('b'), controller.abort(new Error('enough')), images) };
    await expect(interleavedSamples(engines, new Float32Array(1), 1, 3, 0, controller.signal)).rejects.toThrow('enough');
    expect(calls).toEqual(['a', 'a', 'a', 'b', 'b', 'b']); // b's warm-up ends; no round starts
  });

  test('median is the middle value (the upper one of an even count)', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(3);
  });
});
