/**
 * Every confidence bound and test of randomized smoothing, each named by its method and computed by @stdlib
 * (never hand-rolled).
 *
 * Alpha convention: `alpha` is always the probability that the stated bound or decision is wrong.
 * - `clopperPearsonLower(k, n, alpha)` is a one-sided (1 - alpha) lower confidence bound on a binomial proportion:
 *   P(p < bound) <= alpha. It is the lower end of the two-sided Clopper-Pearson interval at level 1 - 2 alpha, which
 *   is how locuslab/smoothing obtains it (`proportion_confint(NA, N, alpha=2 * alpha, method="beta")[0]`): the
 *   Beta(k, n - k + 1) quantile at alpha, and 0 when k = 0.
 * - `clopperPearsonUpper(k, n, alpha)` is the one-sided (1 - alpha) upper bound: the Beta(k + 1, n - k) quantile
 *   at 1 - alpha, and 1 when k = n.
 * - `binomialTestPValue(k, n)` is the two-sided exact binomial test of p = 1/2 (as scipy's `binom_test`, used by
 *   Cohen's PREDICT): reject, and so predict, when the p-value is <= alpha.
 */
import { createRequire } from 'node:module';
import { ArqError } from '../util/errors.js';

const require = createRequire(import.meta.url);
const betaQuantile = require('@stdlib/stats-base-dists-beta-quantile') as (p: number, a: number, b: number) => number;
const normalQuantileStd = require('@stdlib/stats-base-dists-normal-quantile') as (p: number, mu: number, sigma: number) => number;
const binomialTest = require('@stdlib/stats-binomial-test') as (x: number, n: number, options: { p: number; alternative: 'two-sided' }) => { pValue: number };

function checkCounts(method: string, successes: number, trials: number): void {
  if (!Number.isInteger(trials) || trials < 1) throw new ArqError(`${method}: trials must be a positive integer, got ${trials}`);
  if (!Number.isInteger(successes) || successes < 0 || successes > trials) {
    throw new ArqError(`${method}: successes must be an integer in [0, ${trials}], got ${successes}`);
  }
}

function checkAlpha(method: string, alpha: number): void {
  if (!(alpha > 0 && alpha < 1)) throw new ArqError(`${method}: alpha must be in (0, 1), got ${alpha}`);
}

/**
 * One-sided (1 - alpha) Clopper-Pearson lower bound on the success probability p of `trials` Bernoulli draws with
 * `successes` successes: P(p < bound) <= alpha for every p. Beta(successes, trials - successes + 1) quantile at
 * alpha; 0 when successes = 0.
 */
export function clopperPearsonLower(successes: number, trials: number, alpha: number): number {
  checkCounts('clopperPearsonLower', successes, trials);
  checkAlpha('clopperPearsonLower', alpha);
  if (successes === 0) return 0;
  return betaQuantile(alpha, successes, trials - successes + 1);
}

/**
 * One-sided (1 - alpha) Clopper-Pearson upper bound on p: P(p > bound) <= alpha for every p.
 * Beta(successes + 1, trials - successes) quantile at 1 - alpha; 1 when successes = trials.
 */
export function clopperPearsonUpper(successes: number, trials: number, alpha: number): number {
  checkCounts('clopperPearsonUpper', successes, trials);
  checkAlpha('clopperPearsonUpper', alpha);
  if (successes === trials) return 1;
  return betaQuantile(1 - alpha, successes + 1, trials - successes);
}

/** Phi^-1(p): the standard normal quantile (-Infinity at 0, Infinity at 1). */
export function normalQuantile(p: number): number {
  if (!(p >= 0 && p <= 1)) throw new ArqError(`normalQuantile: p must be in [0, 1], got ${p}`);
  return normalQuantileStd(p, 0, 1);
}

/**
 * Two-sided exact binomial test of H0: p = 1/2 for `successes` of `trials`: the probability under H0 of an outcome
 * at most as likely as the one observed. Cohen's PREDICT returns the top class when this is <= alpha.
 */
export function binomialTestPValue(successes: number, trials: number): number {
  checkCounts('binomialTestPValue', successes, trials);
  const p = binomialTest(successes, trials, { p: 0.5, alternative: 'two-sided' }).pValue;
  return Math.min(1, Math.max(0, p));
}
