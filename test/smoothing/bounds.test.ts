import { describe, expect, test } from 'vitest';
import { binomialTestPValue, clopperPearsonLower, clopperPearsonUpper, normalQuantile } from '../../src/smoothing/bounds.js';
import { normalCdf } from '../support/stats.js';

// Independent references: the exact binomial distribution by summation in log space, and Clopper-Pearson bounds by
// bisection on its tail (the Beta quantile of the bound is the p where the binomial tail equals alpha).

const logFactorial = [0];
for (let i = 1; i <= 5000; i++) logFactorial.push(logFactorial[i - 1] + Math.log(i));

function logChoose(n: number, k: number): number {
  return logFactorial[n] - logFactorial[k] - logFactorial[n - k];
}

function pmf(j: number, n: number, p: number): number {
  if (p === 0) return j === 0 ? 1 : 0;
  if (p === 1) return j === n ? 1 : 0;
  return Math.exp(logChoose(n, j) + j * Math.log(p) + (n - j) * Math.log1p(-p));
}

/** P(X >= k), X ~ Bin(n, p). */
function upperTail(k: number, n: number, p: number): number {
  let s = 0;
  for (let j = k; j <= n; j++) s += pmf(j, n, p);
  return s;
}

/** P(X <= k). */
function lowerTail(k: number, n: number, p: number): number {
  let s = 0;
  for (let j = 0; j <= k; j++) s += pmf(j, n, p);
  return s;
}

/** The p in (0, 1) where the increasing function g(p) crosses alpha. */
function bisect(g: (p: number) => number, alpha: number): number {
  let lo = 0;
  let hi = 1;
  for (let i = 0; i < 100; i++) {
    const mid = (lo + hi) / 2;
    if (g(mid) < alpha) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

const referenceLower = (k: number, n: number, alpha: number): number => (k === 0 ? 0 : bisect((p) => upperTail(k, n, p), alpha));
const referenceUpper = (k: number, n: number, alpha: number): number => (k === n ? 1 : bisect((p) => 1 - lowerTail(k, n, p), 1 - alpha));

function referencePValue(k: number, n: number): number {
  const d = pmf(k, n, 0.5);
  let s = 0;
  for (let j = 0; j <= n; j++) {
    const q = pmf(j, n, 0.5);
    if (q <= d * (1 + 1e-7)) s += q;
  }
  return Math.min(1, s);
}

describe('Clopper-Pearson bounds', () => {
  const cases: [number, number, number][] = [
    [1, 10, 0.05], [7, 10, 0.05], [9, 10, 0.001], [500, 1000, 0.001], [990, 1000, 0.001], [999, 1000, 0.05],
    [1234, 2000, 0.01], [37, 100, 0.2],
  ];

  test.each(cases)('lower bound of %i / %i at alpha %f matches bisection on the binomial tail', (k, n, alpha) => {
    expect(clopperPearsonLower(k, n, alpha)).toBeCloseTo(referenceLower(k, n, alpha), 10);
  });

  test.each(cases)('upper bound of %i / %i at alpha %f matches bisection on the binomial tail', (k, n, alpha) => {
    expect(clopperPearsonUpper(k, n, alpha)).toBeCloseTo(referenceUpper(k, n, alpha), 10);
  });

  test('closed forms at the ends: all successes gives alpha^(1/n), none gives 1 - alpha^(1/n)', () => {
    for (const [n, alpha] of [[10, 0.05], [1000, 0.001], [100_000, 0.001], [1, 0.3]] as const) {
      expect(clopperPearsonLower(n, n, alpha)).toBeCloseTo(alpha ** (1 / n), 12);
      expect(clopperPearsonUpper(0, n, alpha)).toBeCloseTo(1 - alpha ** (1 / n), 12);
      expect(clopperPearsonLower(0, n, alpha)).toBe(0);
      expect(clopperPearsonUpper(n, n, alpha)).toBe(1);
    }
  });

  test('the lower bound is one-sided at level alpha: it is the lower end of the two-sided interval at 2 alpha', () => {
    // Symmetry: lower(k, n, a) = 1 - upper(n - k, n, a).
    for (const [k, n, a] of [[3, 20, 0.05], [95, 100, 0.001]] as const) {
      expect(clopperPearsonLower(k, n, a)).toBeCloseTo(1 - clopperPearsonUpper(n - k, n, a), 12);
    }
    // Larger alpha (a less confident statement) gives a larger lower bound.
    expect(clopperPearsonLower(90, 100, 0.1)).toBeGreaterThan(clopperPearsonLower(90, 100, 0.001));
  });

  test('bad arguments name the method and the value', () => {
    expect(() => clopperPearsonLower(11, 10, 0.05)).toThrow(/clopperPearsonLower: successes must be an integer in \[0, 10\], got 11/);
    expect(() => clopperPearsonUpper(1, 0, 0.05)).toThrow(/trials must be a positive integer/);
    expect(() => clopperPearsonLower(1, 10, 0)).toThrow(/alpha must be in \(0, 1\)/);
    expect(() => clopperPearsonLower(1.5, 10, 0.1)).toThrow(/successes/);
  });

  test('every method refuses each bad argument at both ends of its range, with its own name', () => {
    expect(() => clopperPearsonLower(-1, 10, 0.05)).toThrow(/^clopperPearsonLower: successes must be an integer in \[0, 10\], got -1$/);
    expect(() => clopperPearsonUpper(11, 10, 0.05)).toThrow(/^clopperPearsonUpper: successes must be an integer in \[0, 10\], got 11$/);
    expect(() => clopperPearsonLower(1, 10, 1)).toThrow(/^clopperPearsonLower: alpha must be in \(0, 1\), got 1$/);
    expect(() => clopperPearsonUpper(1, 10, 1.5)).toThrow(/^clopperPearsonUpper: alpha must be in \(0, 1\), got 1.5$/);
    expect(() => clopperPearsonUpper(1, 10, -0.1)).toThrow(/^clopperPearsonUpper: alpha must be in \(0, 1\), got -0.1$/);
    expect(() => binomialTestPValue(11, 10)).toThrow(/^binomialTestPValue: successes must be an integer in \[0, 10\], got 11$/);
    expect(() => binomialTestPValue(1, 0)).toThrow(/^binomialTestPValue: trials must be a positive integer, got 0$/);
  });
});

describe('normal quantile', () => {
  test('known values', () => {
    expect(normalQuantile(0.975)).toBeCloseTo(1.959963984540054, 13);
    expect(normalQuantile(0.99)).toBeCloseTo(2.3263478740408408, 13);
    expect(normalQuantile(0.5)).toBe(0);
    expect(normalQuantile(0.001)).toBeCloseTo(-3.090232306167813, 12);
    expect(normalQuantile(1)).toBe(Infinity);
    expect(normalQuantile(0)).toBe(-Infinity);
  });

  test('inverts an independently computed normal CDF', () => {
    for (const z of [-3.5, -1.2, -0.1, 0.3, 0.6744897501960817, 1.5, 2.8]) expect(normalQuantile(normalCdf(z))).toBeCloseTo(z, 9);
  });

  test('rejects probabilities outside [0, 1]', () => {
    expect(() => normalQuantile(1.2)).toThrow(/normalQuantile: p must be in \[0, 1\], got 1.2/);
    expect(() => normalQuantile(Number.NaN)).toThrow(/normalQuantile/);
    expect(() => normalQuantile(-0.5)).toThrow(/normalQuantile: p must be in \[0, 1\], got -0.5/);
  });
});

describe('two-sided binomial test (PREDICT)', () => {
  test('p-values match exact summation', () => {
    for (const [k, n] of [[0, 1], [1, 1], [7, 10], [3, 10], [5, 10], [10, 10], [15, 20], [60, 100], [40, 100], [140, 250], [1, 30]] as const) {
      expect(binomialTestPValue(k, n)).toBeCloseTo(referencePValue(k, n), 12);
    }
  });

  test('closed forms: 10 of 10 gives 2 / 2^10; an even split gives 1', () => {
    expect(binomialTestPValue(10, 10)).toBeCloseTo(2 / 1024, 15);
    expect(binomialTestPValue(50, 100)).toBe(1);
  });
});
