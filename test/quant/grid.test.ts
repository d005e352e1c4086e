import { describe, expect, test } from 'vitest';
import { activationGrid, quantizeChannel, roundHalfEven, WEIGHT_CLIP_FRACTIONS } from '../../src/quant/grid.js';

describe('rounding and grids', () => {
  test('round half to even', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4999, 2.5001].map(roundHalfEven)).toEqual([0, 2, 2, 0, -2, -2, 2, 3]);
  });

  test('2-bit weights are ternary and 8-bit codes stay within +-127', () => {
    const weights = Float32Array.from({ length: 50 }, (_, i) => Math.sin(i) * 0.3);
    const ternary = quantizeChannel(weights, 2);
    expect(new Set(ternary.codes)).toEqual(new Set([-1, 0, 1]));
    const eight = quantizeChannel(weights, 8);
    expect(Math.max(...eight.codes.map(Math.abs))).toBeLessThanOrEqual(127);
    // The chosen clip minimises squared error over the documented grid of fractions.
    const error = (scale: number, bits: number) => {
      const qmax = 2 ** (bits - 1) - 1;
      return weights.reduce((sum, w) => sum + (w - scale * Math.min(qmax, Math.max(-qmax, roundHalfEven(w / scale)))) ** 2, 0);
    };
    const maxAbs = Math.max(...weights.map(Math.abs));
    const best = Math.min(...WEIGHT_CLIP_FRACTIONS.map((f) => error(Math.fround((f * maxAbs) / 7), 4)));
    expect(error(quantizeChannel(weights, 4).scale, 4)).toBeCloseTo(best, 12);
  });

  test('non-negative tensors get zero point 0; signed ones an interior zero point', () => {
    const counts = new Array(100).fill(1);
    expect(activationGrid(0, 6, counts, 8).zero).toBe(0);
    const signed = activationGrid(-1, 3, counts, 8);
    expect(signed.zero).toBeGreaterThan(40);
    expect(signed.zero).toBeLessThan(90);
  });

  test('a histogram with a long tail is clipped below its maximum', () => {
    const counts = new Array(2048).fill(0);
    counts.fill(1000, 0, 200);
    counts[2047] = 1;
    const grid = activationGrid(0, 100, counts, 4);
    expect(grid.scale * 15).toBeLessThan(100);
  });
});
