import { describe, expect, test } from 'vitest';
import { activationGrid, quantizeWeights } from '../../src/engine/grid.js';
import { roundHalfEven } from '../support/requant.js';

// quantization.md's weight clip fractions: 1.00, 0.99, ..., 0.30.
const WEIGHT_CLIP_FRACTIONS = Array.from({ length: 71 }, (_, i) => Math.round((1 - i * 0.01) * 100) / 100);

describe('rounding and grids', () => {
  test('round half to even', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4999, 2.5001].map(roundHalfEven)).toEqual([0, 2, 2, 0, -2, -2, 2, 3]);
  });

  test('2-bit weights are ternary and 8-bit codes stay within +-127', () => {
    const weights = Float32Array.from({ length: 50 }, (_, i) => Math.sin(i) * 0.3);
    const ternary = quantizeWeights(weights, 1, 2);
    expect(new Set(ternary.codes)).toEqual(new Set([-1, 0, 1]));
    const eight = quantizeWeights(weights, 1, 8);
    expect(Math.max(...eight.codes.map(Math.abs))).toBeLessThanOrEqual(127);
    // The chosen clip minimises squared error over the documented grid of fractions.
    const error = (scale: number, bits: number) => {
      const qmax = 2 ** (bits - 1) - 1;
      return weights.reduce((sum, w) => sum + (w - scale * Math.min(qmax, Math.max(-qmax, roundHalfEven(w / scale)))) ** 2, 0);
    };
    const maxAbs = Math.max(...weights.map(Math.abs));
    const best = Math.min(...WEIGHT_CLIP_FRACTIONS.map((f) => error(Math.fround((f * maxAbs) / 7), 4)));
    expect(error(quantizeWeights(weights, 1, 4).scales[0], 4)).toBeCloseTo(best, 12);
  });

  test('weights: each channel gets its own clip; an all-zero channel gets scale 1 and codes 0; bad arguments throw', () => {
    const weights = Float32Array.from([0.5, -0.25, 0.125, 0, 0, 0, 8, -4, 2]);
    const { codes, scales } = quantizeWeights(weights, 3, 8);
    expect(scales[1]).toBe(1);
    expect(Array.from(codes.subarray(3, 6))).toEqual([0, 0, 0]);
    expect(scales[2] / scales[0]).toBeCloseTo(16, 5);
    expect(codes[0]).toBe(127);
    expect(() => quantizeWeights(weights, 2, 8)).toThrow(/multiple of channels/);
    expect(() => quantizeWeights(weights, 3, 9)).toThrow(RangeError);
    expect(() => quantizeWeights(new Float32Array(0), 1, 8)).toThrow(RangeError);
  });

  test('activation grids: a zero-width range gives scale 1; bad ranges, histograms and widths throw', () => {
    expect(activationGrid(0, 0, [5, 5], 8)).toEqual({ scale: 1, zero: 0, bits: 8 });
    expect(() => activationGrid(1, 0, [1], 8)).toThrow(/lo <= hi/);
    expect(() => activationGrid(0, Number.POSITIVE_INFINITY, [1], 8)).toThrow(RangeError);
    expect(() => activationGrid(0, 1, [], 8)).toThrow(/counts/);
    expect(() => activationGrid(0, 1, [1], 1)).toThrow(RangeError);
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
