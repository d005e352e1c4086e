import { describe, expect, it } from 'vitest';
import { bitops, duration, fixed, percent, uniformEquivalent } from '../../src/report/format.js';

describe('report number formats', () => {
  it('prints BitOps % with three significant digits and accuracies as percentages', () => {
    expect([100, 6.25, 1.5625, 0.390625, 12.5].map(bitops)).toEqual(['100%', '6.25%', '1.56%', '0.391%', '12.5%']);
    expect(percent(0.8234)).toBe('82.3%');
    expect(percent(1)).toBe('100.0%');
    expect(fixed(0.61234)).toBe('0.612');
  });

  it('prints a dash for missing or non-finite values', () => {
    expect([bitops(NaN), percent(undefined), fixed(null), duration(Infinity)]).toEqual(['—', '—', '—', '—']);
  });

  it('prints durations at a useful precision', () => {
    expect([duration(3.2), duration(42.04), duration(185), duration(7440)]).toEqual(['3.20 s', '42.0 s', '3 min 05 s', '2 h 04 min']);
  });

  it('names the uniform policy a budget matches, or the uniform points around it', () => {
    expect(uniformEquivalent(16 / 1024)).toBe('uniform W4A4 (also W8A2, W2A8)');
    expect(uniformEquivalent(64 / 1024)).toBe('uniform W8A8');
    expect(uniformEquivalent(0.0156)).toBe('between uniform W5A3 (1.46%) and W4A4 (1.56%)');
    expect(uniformEquivalent(0.5)).toBe('above uniform W8A8 (6.25%)');
    expect(uniformEquivalent(0.001)).toBe('below uniform W2A2 (0.391%)');
  });
});
