/**
 * The agent's one source of randomness: a 32-bit Mersenne Twister (@stdlib/random-base-mt19937) whose whole state
 * is a Uint32Array that can be read and written back, so a checkpoint resumes the exact stream. Weight init,
 * replay sampling, random actions and exploration noise all draw from it in program order.
 */
import { createRequire } from 'node:module';
import { normalQuantile } from '../../smoothing/bounds.js';
import { ArqError } from '../../util/errors.js';
import { integerInRange, numberInRange } from '../../util/check.js';

/** The part of stdlib's generator used here: doubles on [0, 1) with 53 random bits, and its state. */
interface NormalizedPrng {
  (): number;
  state: Uint32Array;
}
interface Mt19937 {
  factory(options: { seed: number[] }): { normalized: NormalizedPrng };
}

const require = createRequire(import.meta.url);
const mt19937 = require('@stdlib/random-base-mt19937') as Mt19937;
const normalCdf = require('@stdlib/stats-base-dists-normal-cdf') as (x: number, mu: number, sigma: number) => number;

export class Random {
  private constructor(private readonly next: NormalizedPrng) {}

  /**
   * A generator for any safe integer seed, 0 included: stdlib's numeric seeds must be positive, so the seed goes in
   * as the two 32-bit words of MT19937's init_by_array.
   */
  static fromSeed(seed: number): Random {
    integerInRange('seed', seed, 0, Number.MAX_SAFE_INTEGER);
    const low = seed % 2 ** 32;
    return new Random(mt19937.factory({ seed: [low, (seed - low) / 2 ** 32] }).normalized);
  }

  /** Resumes the stream at a state `state()` returned. */
  setState(state: readonly number[]): void {
    try {
      this.next.state = Uint32Array.from(state);
    } catch (cause) {
      throw new ArqError('random state: not a saved MT19937 state', { cause });
    }
  }

  /** The generator's full state as plain numbers (JSON-safe). */
  state(): number[] {
    return Array.from(this.next.state);
  }

  /** Uniform on [0, 1). */
  uniform(): number {
    return this.next();
  }

  /** Uniform integer on [0, n). */
  integer(n: number): number {
    return Math.floor(this.next() * n);
  }

  /**
   * A draw from N(mu, sigma^2) truncated to [lo, hi], by inversion: u uniform on [Phi(a), Phi(b)] with
   * a = (lo - mu) / sigma, b = (hi - mu) / sigma, then mu + sigma Phi^-1(u) (as scipy's truncnorm, which HAQ uses).
   * One uniform per draw, whatever the parameters. mu must lie in [lo, hi], so Phi(a) <= 1/2 <= Phi(b) and the
   * interval never vanishes in floating point; the result is clamped against rounding at the ends.
   */
  truncatedNormal(mu: number, sigma: number, lo: number, hi: number): number {
    numberInRange('truncatedNormal mu', mu, lo, hi);
    numberInRange('truncatedNormal sigma', sigma, 0, Number.MAX_VALUE, { exclusiveMin: true });
    const pLo = normalCdf((lo - mu) / sigma, 0, 1);
    const pHi = normalCdf((hi - mu) / sigma, 0, 1);
    const x = mu + sigma * normalQuantile(pLo + this.next() * (pHi - pLo));
    return Math.min(hi, Math.max(lo, x));
  }
}
