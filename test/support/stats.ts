/** Independent reference statistics for the smoothing tests (no code shared with src/smoothing/bounds.ts). */

/**
 * Phi(z), the standard normal CDF, computed independently of the library under test: 1/2 + the integral of the
 * normal density from 0 to z by composite Simpson's rule (2 * 4096 panels; error far below 1e-12 for |z| <= 8).
 */
export function normalCdf(z: number): number {
  if (z > 8) return 1;
  if (z < -8) return 0;
  const m = 8192;
  const h = z / m;
  const f = (t: number): number => Math.exp(-0.5 * t * t);
  let sum = f(0) + f(z);
  for (let i = 1; i < m; i++) sum += (i % 2 ? 4 : 2) * f(i * h);
  return 0.5 + ((sum * h) / 3) / Math.sqrt(2 * Math.PI);
}

/** log(k!) for k = 0 .. 20000. */
const logFactorial = [0];
for (let i = 1; i <= 20_000; i++) logFactorial.push(logFactorial[i - 1] + Math.log(i));

/** P(X = j) for X ~ Bin(n, p), n <= 20000. */
export function binomialPmf(j: number, n: number, p: number): number {
  if (p === 0) return j === 0 ? 1 : 0;
  if (p === 1) return j === n ? 1 : 0;
  return Math.exp(logFactorial[n] - logFactorial[j] - logFactorial[n - j] + j * Math.log(p) + (n - j) * Math.log1p(-p));
}

/**
 * The smallest k with P(X > k) <= tail for X ~ Bin(trials, p): a failure count above it, when failures happen with
 * probability at most p, has probability at most `tail` (use a tiny tail so a sound method cannot fail the test).
 */
export function binomialUpperLimit(trials: number, p: number, tail: number): number {
  let cdf = 0;
  for (let k = 0; k <= trials; k++) {
    cdf += binomialPmf(k, trials, p);
    if (1 - cdf <= tail) return k;
  }
  return trials;
}
