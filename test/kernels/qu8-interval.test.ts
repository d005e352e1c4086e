// qu8-interval (the two-end epilogue of a conv bounded by centre and radius): the scalar kernel against a JavaScript
// reference of interval.h (acc_lo = (c - r) / 2, acc_hi = (c + r) / 2 with c = centre - correction, each through
// requant_code: exact fmaf, clamp, round half to even), and every ISA level the CPU supports against the scalar kernel
// bit for bit, over channel counts around every vector width (tails), sums up to 2^24 - 1 in magnitude, negative
// corrections, multipliers that make every odd accumulator a tie, and clamps that saturate at both ends.
import { describe, expect, test } from 'vitest';
import type { IsaName } from '../../src/native.js';
import { detected, LEVELS, qu8Kernels, rng } from '../support/native.js';
import { fmaF32, roundHalfEven } from '../support/requant.js';

const q = qu8Kernels();
const f = Math.fround;
const CHANNELS = [1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 64];
const PIXELS = 5;

interface Case {
  centre: Float32Array;
  radius: Float32Array;
  multiplier: Float32Array;
  bias: Float32Array;
  correction: Int32Array;
  min: number;
  max: number;
}

/**
 * Random sums of magnitude below `limit` (at most 2^24 - 1), with centre - correction + radius even as the sign split
 * makes them. tie: multiplier 0.5 and an integer bias, so every odd accumulator requantizes to a tie.
 */
function randomCase(n: number, seed: number, limit: number, tie: boolean): Case {
  const next = rng(seed);
  const int = (bound: number) => Math.floor(next() * (2 * Math.floor(bound) + 1)) - Math.floor(bound);
  const correction = Int32Array.from({ length: n }, () => int(limit / 4));
  const centre = new Float32Array(PIXELS * n), radius = new Float32Array(PIXELS * n);
  for (let e = 0; e < centre.length; e++) {
    const r = Math.floor(next() * (limit / 2));
    let c = int(limit / 2);
    if ((c - correction[e % n] + r) % 2 !== 0) c += c > 0 ? -1 : 1;
    centre[e] = c;
    radius[e] = r;
  }
  const multiplier = Float32Array.from({ length: n }, () => (tie ? 0.5 : f(255 / limit * (0.5 + next()))));
  const bias = Float32Array.from({ length: n }, () => (tie ? 128 : f(128 + (next() - 0.5) * 40)));
  return { centre, radius, multiplier, bias, correction, min: 3, max: 250 };
}

function reference(k: Case, n: number): number[] {
  const out: number[] = [];
  for (let p = 0; p < PIXELS; p++) {
    const ends = [[] as number[], [] as number[]];
    for (let j = 0; j < n; j++) {
      const c = k.centre[p * n + j] - k.correction[j], r = k.radius[p * n + j];
      [(c - r) / 2, (c + r) / 2].forEach((acc, e) => {
        ends[e].push(roundHalfEven(Math.min(Math.max(fmaF32(acc, k.multiplier[j], k.bias[j]), k.min), k.max)));
      });
    }
    out.push(...ends[0], ...ends[1]);
  }
  return out;
}

const run = (isa: IsaName, k: Case, n: number) =>
  Array.from(q.intervalEpilogue(isa, PIXELS, n, k.centre, k.radius, k.multiplier, k.bias, k.correction, k.min, k.max));

const CASES: [string, number, boolean][] = [
  ['sums below 2^24', 2 ** 24 - 1, false],
  ['small sums, every odd accumulator a tie', 600, true],
  ['sums below 2^16', 2 ** 16, false],
];

describe.each(CASES)('scalar qu8-interval equals the JavaScript reference: %s', (_, limit, tie) => {
  test.each(CHANNELS)('%i channels', (n) => {
    const k = randomCase(n, n * 7 + limit, limit, tie);
    const expected = reference(k, n);
    expect(run('scalar', k, n)).toEqual(expected);
    // The cases reach both clamps and unsaturated codes.
    if (n >= 31) expect(expected.includes(k.min) && expected.includes(k.max) && expected.some((c) => c > k.min && c < k.max)).toBe(true);
  });
});

describe.each(LEVELS.slice(1))('%s qu8-interval equals scalar bit for bit', (isa: IsaName) => {
  const supported = LEVELS.indexOf(isa) <= detected;
  test.skipIf(!supported).each(CHANNELS)('%i channels', (n) => {
    for (const [, limit, tie] of CASES) {
      const k = randomCase(n, n * 13 + limit, limit, tie);
      expect(run(isa, k, n)).toEqual(run('scalar', k, n));
    }
  });
});

test('sums past 2^24, a negative radius or an odd sum are refused', () => {
  const ok = randomCase(4, 1, 1000, false);
  const call = (patch: Partial<Case>) => {
    const k = { ...ok, ...patch };
    return () => q.intervalEpilogue('scalar', PIXELS, 4, k.centre, k.radius, k.multiplier, k.bias, k.correction, k.min, k.max);
  };
  expect(call({})).not.toThrow();
  const big = Float32Array.from(ok.centre);
  big[0] = 2 ** 24;
  expect(call({ centre: big, radius: new Float32Array(PIXELS * 4) })).toThrow(RangeError);
  const negative = Float32Array.from(ok.radius);
  negative[0] = -2;
  expect(call({ radius: negative })).toThrow(RangeError);
  const odd = Float32Array.from(ok.radius);
  odd[0] += 1;
  expect(call({ radius: odd })).toThrow(RangeError);
});
