import { describe, expect, test } from 'vitest';
import { NoiseStreams, STREAMS_PER_KEY } from '../../src/smoothing/streams.js';

describe('NoiseStreams', () => {
  test('hands out each stream once, in order', () => {
    const streams = new NoiseStreams('this test', 'start again');
    expect([streams.take(), streams.take(), streams.take()]).toEqual([0, 1, 2]);
  });

  test('stops at the 2^32 streams of a key, naming its owner and the remedy', () => {
    const streams = new NoiseStreams('this server', 'restart it', STREAMS_PER_KEY - 2);
    expect(streams.take()).toBe(2 ** 32 - 2);
    expect(streams.take()).toBe(2 ** 32 - 1);
    expect(() => streams.take()).toThrow('this server has used all 2^32 noise streams of its key; restart it');
    expect(() => streams.take()).toThrow('2^32');
  });

  test('checks the first stream', () => {
    expect(() => new NoiseStreams('x', 'y', -1)).toThrow(/first/);
    expect(() => new NoiseStreams('x', 'y', 0.5)).toThrow(/first/);
  });
});
