/**
 * arq's one seeded generator on the TypeScript side (the Gaussian noise of certification and training is the native
 * counter-based one): a 32-bit Mersenne Twister (@stdlib/random-base-mt19937) whose whole state is a Uint32Array
 * that can be read and written back, so a checkpoint resumes the exact stream. The search agent (weight init, replay
 * sampling, random actions, exploration), random search and the trainer (initial weights, shuffling, shifts) draw
 * from it; independent streams of one seed are keyed by a stream number.
 */
import { createRequire } from 'node:module';
import { ArqError } from './errors.js';
import { integerInRange, numberInRange } from './check.js';

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
const normalQuantile = require('@stdlib/stats-base-dists-normal-quantile') as (p: number, mu: number, sigma: number) => number;

export class Random {
  private constructor(private readonly next: NormalizedPrng) {}

  /**
   * A generator for any safe integer seed, 0 included: stdlib's numeric seeds must be positive, so the seed goes in
   * as the two 32-bit words of MT19937's init_by_array, followed by the stream number when one is given (streams of
   * one seed are independent generators: the trainer keys its epochs this way).
   */
  static fromSeed(seed: number, stream?: number): Random {
    integerInRange('seed', seed, 0, Number.MAX_SAFE_INTEGER);
    const low = seed % 2 ** 32;
    const key = [low, (seed - low) / 2 ** 32];
    if (stream !== undefined) key.push(integerInRange('stream', stream, 0, 2 ** 32 - 1));
    return new Random(mt19937.factory({ seed: key }).normalized);
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

  /** Standard normal, by Box-Muller on two uniforms (1 - u keeps the logarithm finite). */
  normal(): number {
    const u = 1 - this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }

  /** A uniformly random permutation of [0, n) (Fisher-Yates). */
  permutation(n: number): Int32Array {
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.integer(i + 1);
      const t = out[i];
      out[i] = out[j];
      out[j] = t;
    }
    return out;
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
    const x = mu + sigma * normalQuantile(pLo + this.next() * (pHi - pLo), 0, 1);
    return Math.min(hi, Math.max(lo, x));
  }
}
