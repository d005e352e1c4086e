// Gaussian noise (native/noise): Philox4x32-10 against Random123's known answers, the documented counter mapping and
// Box-Muller transform against a double-precision reference, every ISA level bit-identical to scalar, results
// independent of how samples are batched or threaded, and the statistics of the stream (moments, Kolmogorov-Smirnov,
// binned chi-square, correlations across elements, samples and images). Plus argument validation of _noise and of
// addGaussianNoise, the production entry.
import { createRequire } from 'node:module';
import { describe, expect, test } from 'vitest';
import { addon, type IsaName, type NativeNoise } from '../../src/native.js';

const require = createRequire(import.meta.url);
const kstest = require('@stdlib/stats-kstest') as (x: ArrayLike<number>, cdf: string, ...params: number[]) => { pValue: number; statistic: number };
const normalQuantile = require('@stdlib/stats-base-dists-normal-quantile') as (p: number, mu: number, sigma: number) => number;

const noise: NativeNoise = addon()._noise;
const LEVELS: IsaName[] = ['scalar', 'avx2', 'avx512vnni'];
const detected = LEVELS.indexOf(addon().cpuInfo().detected);
const DOMAIN = 0x4e4f4953; // counter word c3 of the noise stream (noise.h)

// ---- A JavaScript Philox4x32-10 and the documented transform, in double precision -------------------------------

function mulhilo(a: number, b: number): [number, number] {
  const aLo = a & 0xffff, aHi = a >>> 16, bLo = b & 0xffff, bHi = b >>> 16;
  const lolo = aLo * bLo, lohi = aLo * bHi, hilo = aHi * bLo, hihi = aHi * bHi;
  const cross = (lolo >>> 16) + (lohi & 0xffff) + (hilo & 0xffff);
  const hi = (hihi + (lohi >>> 16) + (hilo >>> 16) + Math.floor(cross / 0x10000)) >>> 0;
  return [hi, Math.imul(a, b) >>> 0];
}

function philox(counter: readonly number[], key: readonly number[]): number[] {
  let [c0, c1, c2, c3] = counter;
  let [k0, k1] = key;
  for (let round = 0; round < 10; round++) {
    if (round > 0) {
      k0 = (k0 + 0x9e3779b9) >>> 0;
      k1 = (k1 + 0xbb67ae85) >>> 0;
    }
    const [hi0, lo0] = mulhilo(0xd2511f53, c0);
    const [hi1, lo1] = mulhilo(0xcd9e8d57, c2);
    [c0, c1, c2, c3] = [(hi1 ^ c1 ^ k0) >>> 0, lo1, (hi0 ^ c3 ^ k1) >>> 0, lo0];
  }
  return [c0, c1, c2, c3];
}

/** Element j of sample i of image k as noise.h defines it, computed in double from the same u and angle. */
function reference(seedHi: number, seedLo: number, image: number, sample: number, j: number): number {
  const x = philox([Math.floor(j / 4), sample, image, DOMAIN], [seedLo, seedHi]);
  const pair = (j % 4) >> 1;
  const xr = x[2 * pair], xt = x[2 * pair + 1];
  const u = Math.fround(Math.fround(xr >>> 1) + 0.5) * 2 ** -31;
  const radius = Math.sqrt(-2 * Math.log(u));
  const angle = (2 * Math.PI * xt) / 2 ** 32;
  return j % 2 === 0 ? radius * Math.cos(angle) : radius * Math.sin(angle);
}

// ---- Helpers ------------------------------------------------------------------------------------------------------

function bitEqual(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

function correlation(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let ma = 0, mb = 0;
  for (let i = 0; i < n; i++) { ma += a[i]; mb += b[i]; }
  ma /= n; mb /= n;
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = a[i] - ma, db = b[i] - mb;
    sab += da * db; saa += da * da; sbb += db * db;
  }
  return sab / Math.sqrt(saa * sbb);
}

const SEED: [number, number] = [0x2545f491, 0x4f6cdd1d];

// ---- Philox -------------------------------------------------------------------------------------------------------

describe('Philox4x32-10', () => {
  // Random123 kat_vectors: "philox4x32 10 <counter x4> <key x2> <output x4>".
  const KAT: [number[], number[], number[]][] = [
    [[0, 0, 0, 0], [0, 0], [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]],
    [[0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff], [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]],
    [[0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0], [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]],
  ];

  test.each(KAT)('native matches Random123 for counter %j key %j', (counter, key, expected) => {
    expect([...noise.philox(counter, key)]).toEqual(expected);
  });

  test('the JavaScript reference matches the known answers and the native code on random blocks', () => {
    for (const [counter, key, expected] of KAT) expect(philox(counter, key)).toEqual(expected);
    let state = 12345;
    const next = () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0);
    for (let i = 0; i < 200; i++) {
      const counter = [next(), next(), next(), next()];
      const key = [next(), next()];
      expect([...noise.philox(counter, key)]).toEqual(philox(counter, key));
    }
  });
});

// ---- Mapping and transform -------------------------------------------------------------------------------------------

describe('counter mapping and transform', () => {
  test('scalar values are the documented Box-Muller values within 1e-6 relative', () => {
    const cases = [
      { seed: SEED, image: 0, first: 0, samples: 4, elements: 3072 },
      { seed: [0, 0] as [number, number], image: 7, first: 1000, samples: 3, elements: 13 },
      { seed: [0xffffffff, 0xffffffff] as [number, number], image: 0xffffffff, first: 0xfffffffd, samples: 3, elements: 784 },
    ];
    let worst = 0;
    for (const c of cases) {
      const got = noise.gaussian('scalar', c.seed[0], c.seed[1], c.image, c.first, c.samples, c.elements, 1);
      for (let s = 0; s < c.samples; s++) {
        for (let j = 0; j < c.elements; j++) {
          const ref = reference(c.seed[0], c.seed[1], c.image, c.first + s, j);
          const err = Math.abs(got[s * c.elements + j] - ref);
          if (ref !== 0) worst = Math.max(worst, err / Math.abs(ref));
          expect(err, `sample ${c.first + s} element ${j}`).toBeLessThanOrEqual(1e-6 * Math.abs(ref));
        }
      }
    }
    expect(worst).toBeGreaterThan(0); // float results, not the double reference
  });

  test('sigma scales exactly and addGaussian adds the same noise in float', () => {
    const image = Float32Array.from({ length: 3 * 32 * 32 + 5 }, (_, i) => ((i * 37) % 256) / 255);
    const unit = noise.gaussian('scalar', SEED[0], SEED[1], 3, 10, 5, image.length, 1);
    const scaled = noise.gaussian('scalar', SEED[0], SEED[1], 3, 10, 5, image.length, 0.25);
    const noisy = noise.addGaussian('scalar', SEED[0], SEED[1], 3, 10, 5, image, 0.25);
    expect(bitEqual(scaled, unit.map((v) => Math.fround(0.25 * v)))).toBe(true);
    expect(bitEqual(noisy, scaled.map((v, i) => Math.fround(image[i % image.length] + v)))).toBe(true);
    expect(noise.gaussian('scalar', SEED[0], SEED[1], 3, 10, 5, image.length, 0).every((v) => v === 0)).toBe(true);
  });

  test('values are bounded by the smallest uniform (|n| <= sqrt(64 ln 2))', () => {
    const values = noise.gaussian(LEVELS[detected], SEED[0], SEED[1], 1, 0, 256, 4096, 1);
    const bound = Math.sqrt(-2 * Math.log(2 ** -32)) * (1 + 1e-6);
    expect(values.every((v) => Math.abs(v) <= bound)).toBe(true);
  });
});

// ---- Every ISA level ---------------------------------------------------------------------------------------------------

for (const [level, isa] of LEVELS.entries()) {
  describe.skipIf(level > detected)(`gaussian ${isa}`, () => {
    test('reports its variant name', () => {
      expect(noise.name(isa)).toBe(`gauss_row__${isa === 'avx512vnni' ? 'avx512' : isa}`);
    });

    test('bit-identical to scalar for every row length around the vector steps', () => {
      for (const elements of [1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 127, 128, 129, 784, 3072, 3079]) {
        const args = [SEED[0], SEED[1], 5, 123, 7, elements, 0.5] as const;
        expect(bitEqual(noise.gaussian(isa, ...args), noise.gaussian('scalar', ...args)), `elements ${elements}`).toBe(true);
        const image = Float32Array.from({ length: elements }, (_, i) => Math.sin(i));
        const added = noise.addGaussian(isa, SEED[0], SEED[1], 5, 123, 7, image, 0.5);
        expect(bitEqual(added, noise.addGaussian('scalar', SEED[0], SEED[1], 5, 123, 7, image, 0.5)), `add, elements ${elements}`).toBe(true);
      }
      // Extreme counters and keys.
      const extreme = [0xffffffff, 0xffffffff, 0xffffffff, 0xfffffff0, 16, 200, 3] as const;
      expect(bitEqual(noise.gaussian(isa, ...extreme), noise.gaussian('scalar', ...extreme))).toBe(true);
    });

    test('results do not depend on how samples are batched or threaded', () => {
      const elements = 3 * 32 * 32;
      const all = noise.gaussian(isa, SEED[0], SEED[1], 42, 500, 100, elements, 1);
      const split = concat([
        noise.gaussian(isa, SEED[0], SEED[1], 42, 500, 37, elements, 1),
        noise.gaussian(isa, SEED[0], SEED[1], 42, 537, 63, elements, 1),
      ]);
      expect(bitEqual(all, split)).toBe(true);
      const one = concat(Array.from({ length: 100 }, (_, s) => noise.gaussian(isa, SEED[0], SEED[1], 42, 500 + s, 1, elements, 1)));
      expect(bitEqual(all, one)).toBe(true);
      expect(bitEqual(all, noise.gaussian(isa, SEED[0], SEED[1], 42, 500, 100, elements, 1, 2))).toBe(true);
      expect(bitEqual(all, noise.gaussian(isa, SEED[0], SEED[1], 42, 500, 100, elements, 1, 7))).toBe(true);
      const image = new Float32Array(elements).fill(0.5);
      const added = noise.addGaussian(isa, SEED[0], SEED[1], 42, 500, 100, image, 1, 2);
      const addedSplit = concat([
        noise.addGaussian(isa, SEED[0], SEED[1], 42, 500, 50, image, 1),
        noise.addGaussian(isa, SEED[0], SEED[1], 42, 550, 50, image, 1),
      ]);
      expect(bitEqual(added, addedSplit)).toBe(true);
    });

    test('distinct seeds, images and samples give different streams', () => {
      const elements = 1024;
      const base = noise.gaussian(isa, SEED[0], SEED[1], 9, 77, 1, elements, 1);
      const variants = [
        noise.gaussian(isa, SEED[0] ^ 1, SEED[1], 9, 77, 1, elements, 1), // seed, high half
        noise.gaussian(isa, SEED[0], SEED[1] ^ 1, 9, 77, 1, elements, 1), // seed, low half
        noise.gaussian(isa, SEED[0], SEED[1], 10, 77, 1, elements, 1), // image
        noise.gaussian(isa, SEED[0], SEED[1], 9, 78, 1, elements, 1), // sample
        noise.gaussian(isa, SEED[0], SEED[1], 77, 9, 1, elements, 1), // image and sample swapped
      ];
      for (const [i, v] of variants.entries()) {
        let equal = 0;
        for (let j = 0; j < elements; j++) if (v[j] === base[j]) equal++;
        expect(equal, `variant ${i}`).toBeLessThan(3);
        expect(Math.abs(correlation(base, v)), `variant ${i}`).toBeLessThan(5 / Math.sqrt(elements));
      }
    });
  });
}

// ---- Statistics of the stream (scalar = every level, by the test above) ------------------------------------------------

describe('distribution', () => {
  const samples = 250;
  const elements = 4000; // 10^6 values
  const values = noise.gaussian(LEVELS[detected], SEED[0], SEED[1], 2024, 0, samples, elements, 1);
  const n = values.length;

  test('moments of 10^6 values: mean, variance, skewness and kurtosis within 5 standard errors', () => {
    let mean = 0;
    for (let i = 0; i < n; i++) mean += values[i];
    mean /= n;
    let m2 = 0, m3 = 0, m4 = 0;
    for (let i = 0; i < n; i++) {
      const d = values[i] - mean;
      const d2 = d * d;
      m2 += d2; m3 += d2 * d; m4 += d2 * d2;
    }
    m2 /= n; m3 /= n; m4 /= n;
    expect(Math.abs(mean)).toBeLessThan(5 / Math.sqrt(n));
    expect(Math.abs(m2 - 1)).toBeLessThan(5 * Math.sqrt(2 / n));
    expect(Math.abs(m3 / m2 ** 1.5)).toBeLessThan(5 * Math.sqrt(6 / n));
    expect(Math.abs(m4 / (m2 * m2) - 3)).toBeLessThan(5 * Math.sqrt(24 / n));
  });

  test('Kolmogorov-Smirnov against N(0, 1) on 20000 values spread over the stream', () => {
    // stdlib's exact p-value costs O((n*D)^3): 20000 values keep it well under a second.
    const subset = Float64Array.from({ length: 20000 }, (_, i) => values[i * 50 + (i % 7)]);
    const result = kstest(subset, 'normal', 0, 1);
    expect(result.pValue).toBeGreaterThan(0.001);
  });

  test('binned chi-square of 10^6 values in 100 equiprobable bins', () => {
    const bins = 100;
    const edges = Array.from({ length: bins - 1 }, (_, b) => normalQuantile((b + 1) / bins, 0, 1));
    const counts = new Float64Array(bins);
    for (let i = 0; i < n; i++) {
      const v = values[i];
      let lo = 0, hi = bins - 1; // first edge above v
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (edges[mid] > v) hi = mid; else lo = mid + 1;
      }
      counts[lo]++;
    }
    const expected = n / bins;
    const chi2 = counts.reduce((sum, c) => sum + (c - expected) ** 2 / expected, 0);
    // 148.2 = the 0.999 quantile of chi-square with 99 degrees of freedom.
    expect(chi2).toBeLessThan(148.2);
  });

  test('independence: consecutive elements, samples and images are uncorrelated', () => {
    const bound = (count: number) => 5 / Math.sqrt(count);
    // Lag-1 and lag-4 (next Philox block) within rows, including the cos/sin pairs of one block.
    for (const lag of [1, 2, 4]) {
      const a: number[] = [], b: number[] = [];
      for (let s = 0; s < samples; s++) for (let j = 0; j + lag < elements; j++) { a.push(values[s * elements + j]); b.push(values[s * elements + j + lag]); }
      expect(Math.abs(correlation(a, b)), `lag ${lag}`).toBeLessThan(bound(a.length));
    }
    // Squared values of a Box-Muller pair share the radius: check that their magnitudes are uncorrelated too.
    const sq = (x: number) => x * x;
    const pa: number[] = [], pb: number[] = [];
    for (let i = 0; i < n; i += 2) { pa.push(sq(values[i])); pb.push(sq(values[i + 1])); }
    expect(Math.abs(correlation(pa, pb))).toBeLessThan(bound(pa.length));
    // The same element of consecutive samples.
    const sa = values.subarray(0, (samples - 1) * elements), sb = values.subarray(elements);
    expect(Math.abs(correlation(sa, sb))).toBeLessThan(bound(sa.length));
    // The same sample and element of consecutive images.
    const next = noise.gaussian(LEVELS[detected], SEED[0], SEED[1], 2025, 0, samples, elements, 1);
    expect(Math.abs(correlation(values, next))).toBeLessThan(bound(n));
    // Image k sample i+1 against image k+1 sample i (counter words swapped between neighbours).
    const shifted = noise.gaussian(LEVELS[detected], SEED[0], SEED[1], 2025, 1, samples - 1, elements, 1);
    expect(Math.abs(correlation(values.subarray(elements), shifted))).toBeLessThan(bound(shifted.length));
  });
});

// ---- Argument checks -------------------------------------------------------------------------------------------------

describe('_noise argument checks', () => {
  const gaussian = (...args: unknown[]) => () => (noise.gaussian as (...x: unknown[]) => unknown)(...args);
  const addGaussian = (...args: unknown[]) => () => (noise.addGaussian as (...x: unknown[]) => unknown)(...args);
  const image = new Float32Array(12);

  test('valid calls return samples * elements values', () => {
    expect(gaussian('scalar', 0, 1, 2, 3, 4, 5, 0.5)()).toHaveLength(20);
    expect(gaussian('scalar', 0, 1, 2, 3, 0, 5, 0.5)()).toHaveLength(0);
    expect(addGaussian('scalar', 0, 1, 2, 3, 4, image, 0.5)()).toHaveLength(48);
    expect(gaussian('scalar', 0, 1, 0xffffffff, 0xffffffff, 1, 5, 0.5)()).toHaveLength(5);
  });

  test('wrong types throw TypeError naming the function', () => {
    expect(gaussian('scalar', 0, 1, 2, 3, 4, 5)).toThrow(TypeError);
    expect(gaussian('scalar', '0', 1, 2, 3, 4, 5, 0.5)).toThrow(TypeError);
    expect(gaussian('scalar', 0, 1.5, 2, 3, 4, 5, 0.5)).toThrow(/_noise.gaussian: seedLo/);
    expect(gaussian('scalar', 0, 1, 2, 3, 4, 5, '0.5')).toThrow(TypeError);
    expect(gaussian(3, 0, 1, 2, 3, 4, 5, 0.5)).toThrow(TypeError);
    expect(addGaussian('scalar', 0, 1, 2, 3, 4, [0, 1], 0.5)).toThrow(TypeError);
    expect(addGaussian('scalar', 0, 1, 2, 3, 4, new Float64Array(4), 0.5)).toThrow(/_noise.addGaussian: imageData/);
    expect(() => (noise.philox as (...x: unknown[]) => unknown)([0, 0, 0], [0, 0])).toThrow(RangeError);
    expect(() => (noise.philox as (...x: unknown[]) => unknown)('abcd', [0, 0])).toThrow(TypeError);
  });

  test('out-of-range values throw RangeError', () => {
    expect(gaussian('scalar', 2 ** 32, 1, 2, 3, 4, 5, 0.5)).toThrow(/seedHi/);
    expect(gaussian('scalar', 0, -1, 2, 3, 4, 5, 0.5)).toThrow(RangeError);
    expect(gaussian('scalar', 0, 1, 2 ** 32, 3, 4, 5, 0.5)).toThrow(/image/);
    expect(gaussian('scalar', 0, 1, 2, 2 ** 32, 1, 5, 0.5)).toThrow(/firstSample/);
    expect(gaussian('scalar', 0, 1, 2, 0xffffffff, 2, 5, 0.5)).toThrow(/samples/);
    expect(gaussian('scalar', 0, 1, 2, 3, 4, 0, 0.5)).toThrow(RangeError);
    expect(gaussian('scalar', 0, 1, 2, 3, 2 ** 16, 2 ** 16, 0.5)).toThrow(/samples \* elements/);
    expect(gaussian('scalar', 0, 1, 2, 3, 4, 5, -0.5)).toThrow(/sigma/);
    expect(gaussian('scalar', 0, 1, 2, 3, 4, 5, NaN)).toThrow(RangeError);
    expect(gaussian('scalar', 0, 1, 2, 3, 4, 5, Infinity)).toThrow(RangeError);
    expect(gaussian('scalar', 0, 1, 2, 3, 4, 5, 0.5, 0)).toThrow(/threads/);
    expect(addGaussian('scalar', 0, 1, 2, 3, 4, new Float32Array(0), 0.5)).toThrow(RangeError);
    expect(() => (noise.fillTime as (...x: unknown[]) => unknown)('scalar', 0, 1)).toThrow(RangeError);
  });

  test('unknown ISA names throw RangeError', () => {
    expect(gaussian('sse9', 0, 1, 2, 3, 4, 5, 0.5)).toThrow(RangeError);
    expect(() => noise.name('sse9' as IsaName)).toThrow(/_noise.name/);
  });

  test.skipIf(detected === LEVELS.length - 1)('levels above the CPU throw "not supported by this CPU"', () => {
    expect(gaussian(LEVELS[detected + 1], 0, 1, 2, 3, 4, 5, 0.5)).toThrow(/not supported by this CPU/);
  });
});

// ---- The production entry ----------------------------------------------------------------------------------------

describe('addGaussianNoise (the production entry)', () => {
  const add = (...args: unknown[]) => () => (addon().addGaussianNoise as (...x: unknown[]) => unknown)(...args);
  const image = Float32Array.from({ length: 12 }, (_, j) => j / 12);

  test('gives _noise.addGaussian\'s values (every level gives the same)', () => {
    const active = addon().cpuInfo().active;
    expect(add(7, 9, 2, 3, 4, image, 0.5)()).toEqual(noise.addGaussian(active, 7, 9, 2, 3, 4, image, 0.5));
    expect(add(7, 9, 2, 3, 4, image, 0.5)()).toEqual(noise.addGaussian('scalar', 7, 9, 2, 3, 4, image, 0.5));
  });

  test('validates its arguments, naming itself', () => {
    expect(add(0, 1, 2, 3, 4, image)).toThrow(TypeError);
    expect(add(0, 1.5, 2, 3, 4, image, 0.5)).toThrow(/^addGaussianNoise: seedLo/);
    expect(add(0, 1, 2, 0xffffffff, 2, image, 0.5)).toThrow(/samples/);
    expect(add(0, 1, 2, 3, 4, new Float64Array(4), 0.5)).toThrow(/^addGaussianNoise: imageData/);
    expect(add(0, 1, 2, 3, 4, new Float32Array(0), 0.5)).toThrow(RangeError);
    expect(add(0, 1, 2, 3, 4, image, -0.5)).toThrow(/sigma/);
  });
});
