// qu8-elementwise: every ISA level the CPU supports against the scalar kernel, bit for bit, and the scalar kernel
// against a JavaScript reference of int_semantics.h (float32 arithmetic via Math.fround, exact fmaf, round half to
// even), over lengths around every vector width (tails) and parameters that hit the clamps and rounding ties.
import { describe, expect, test } from 'vitest';
import type { IsaName } from '../../src/native.js';
import { detected, LEVELS, qu8Kernels, rng } from '../support/native.js';
import { fmaF32, roundHalfEven } from '../support/requant.js';

const q = qu8Kernels();
const LENGTHS = [1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 64, 100, 257];
const f = Math.fround;

function quantizeRef(x: number, p: { scale: number; lo: number; hi: number; zero: number }): number {
  let t = f(x / p.scale);
  if (Number.isNaN(t)) t = 0;
  t = Math.min(Math.max(t, p.lo), p.hi);
  return roundHalfEven(t) + p.zero;
}

function randomCodes(n: number, next: () => number): Uint8Array {
  return Uint8Array.from({ length: n }, () => Math.floor(next() * 256));
}

const vaddParams = { aScale: f(0.0173), aZero: 7, bScale: f(0.041), bZero: 130, invScale: f(1 / 0.05), zero: 11, min: 11, max: 251 };
// Sums far beyond int32 either way: the clamps must act before any conversion to integers.
const vaddExtreme = { ...vaddParams, invScale: f(3e9), min: 0, max: 200 };
// Zero points at both ends of the code range.
const vaddZero = { ...vaddParams, aZero: 0, bZero: 255, zero: 0, min: 0, max: 255 };
// Scales so large that lhs + rhs is inf - inf = NaN for most codes: NaN takes the lower clamp, never a conversion of NaN.
const vaddNaN = { ...vaddParams, aScale: f(3e38), aZero: 0, bScale: f(3e38), bZero: 255, min: 11, max: 251 };
const quantizeParams = { scale: f(0.02), lo: -3, hi: 12, zero: 3 };
const convertParams = { fromScale: f(0.0173), fromZero: 7, scale: f(0.25), lo: 0, hi: 15, zero: 0 };

describe('scalar qu8-elementwise equals the JavaScript reference', () => {
  test('vadd', () => {
    const next = rng(1);
    const a = randomCodes(1000, next);
    const b = randomCodes(1000, next);
    const p = vaddParams;
    const expected = Array.from(a, (qa, i) => {
      const sum = f(f(p.aScale * (qa - p.aZero)) + f(p.bScale * (b[i] - p.bZero)));
      return roundHalfEven(Math.min(Math.max(fmaF32(sum, p.invScale, p.zero), p.min), p.max));
    });
    expect(Array.from(q.vadd('scalar', a, b, p))).toEqual(expected);
  });

  test('vadd whose sum is NaN (infinite scales) gives the lower clamp code', () => {
    const a = Uint8Array.from({ length: 256 }, (_, i) => i);
    const b = Uint8Array.from({ length: 256 }, (_, i) => 255 - i);
    const expected = Array.from(a, (qa, i) => {
      const sum = f(f(vaddNaN.aScale * qa) + f(vaddNaN.bScale * (b[i] - 255)));
      return Number.isNaN(sum) ? vaddNaN.min : roundHalfEven(Math.min(Math.max(fmaF32(sum, vaddNaN.invScale, vaddNaN.zero), vaddNaN.min), vaddNaN.max));
    });
    expect(expected.filter((code, i) => code === vaddNaN.min && i > 1 && i < 254)).toHaveLength(252);
    expect(Array.from(q.vadd('scalar', a, b, vaddNaN))).toEqual(expected);
  });

  test('quantize, with NaN, infinities and exact ties', () => {
    const next = rng(2);
    const x = Float32Array.from({ length: 1000 }, () => (next() - 0.3) * 0.5);
    x.set([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, f(0.01), f(0.03), f(-0.05)], 0);
    expect(Array.from(q.quantize('scalar', x, quantizeParams))).toEqual(Array.from(x, (v) => quantizeRef(v, quantizeParams)));
  });

  test('convert', () => {
    const x = Uint8Array.from({ length: 256 }, (_, i) => i);
    const p = convertParams;
    const expected = Array.from(x, (c) => quantizeRef(f(p.fromScale * (c - p.fromZero)), p));
    expect(Array.from(q.convert('scalar', x, p))).toEqual(expected);
  });
});

describe.each(LEVELS.slice(1))('%s qu8-elementwise equals scalar bit for bit', (isa: IsaName) => {
  const supported = LEVELS.indexOf(isa) <= detected;
  test.skipIf(!supported).each(LENGTHS)('length %i', (n) => {
    const next = rng(100 + n);
    const a = randomCodes(n, next);
    const b = randomCodes(n, next);
    const x = Float32Array.from({ length: n }, () => (next() - 0.3) * 0.5);
    for (const p of [vaddParams, vaddExtreme, vaddZero, vaddNaN]) {
      const want = q.vadd('scalar', a, b, p);
      expect(q.vadd(isa, a, b, p)).toEqual(want);
      // AVX-512 with and without VBMI (the default takes VBMI where the CPU has it).
      if (isa === 'avx512vnni') expect(q.vadd(isa, a, b, p, false)).toEqual(want);
    }
    expect(q.quantize(isa, x, quantizeParams)).toEqual(q.quantize('scalar', x, quantizeParams));
    expect(q.convert(isa, a, convertParams)).toEqual(q.convert('scalar', a, convertParams));
  });
});

// Whether the level's config has a lookup kernel on this CPU (scalar always; AVX-512 where the CPU has VBMI);
// levels without one are reported as skipped.
function hasLookup(isa: IsaName): boolean {
  if (LEVELS.indexOf(isa) > detected) return false;
  try {
    q.lookup(isa, new Uint8Array(1), new Uint8Array(256));
    return true;
  } catch {
    return false;
  }
}

describe.each(LEVELS)('%s table lookup equals the table', (isa: IsaName) => {
  test.skipIf(!hasLookup(isa)).each([...LENGTHS, 63, 65, 128, 1000])('length %i', (n) => {
    const next = rng(300 + n);
    const table = randomCodes(256, next);
    const x = randomCodes(n, next);
    if (n >= 256) x.set(Uint8Array.from({ length: 256 }, (_, i) => i)); // every code, both halves of the table
    expect(Array.from(q.lookup(isa, x, table))).toEqual(Array.from(x, (c) => table[c]));
  });
});

test('bad arguments throw instead of crashing', () => {
  expect(() => q.lookup('scalar', new Uint8Array(3), new Uint8Array(255))).toThrow(/table must have 256 elements/);
  expect(() => q.vadd('scalar', new Uint8Array(3), new Uint8Array(2), vaddParams)).toThrow(/b must have 3 elements/);
  expect(() => q.vadd('scalar', new Uint8Array(3), new Uint8Array(3), { ...vaddParams, max: 300 })).toThrow(RangeError);
  // vadd clamps are integer codes with min <= max (VaddParams).
  expect(() => q.vadd('scalar', new Uint8Array(3), new Uint8Array(3), { ...vaddParams, min: 10.5 })).toThrow(/integer/);
  expect(() => q.vadd('scalar', new Uint8Array(3), new Uint8Array(3), { ...vaddParams, max: 256 })).toThrow(RangeError);
  expect(() => q.vadd('scalar', new Uint8Array(3), new Uint8Array(3), { ...vaddParams, min: 30, max: 20 })).toThrow(/min <= max/);
  expect(() => q.vadd('scalar', new Uint8Array(3), new Uint8Array(3), vaddParams, 1 as unknown as boolean)).toThrow(TypeError);
  expect(() => q.quantize('scalar', new Uint8Array(3) as unknown as Float32Array, quantizeParams)).toThrow(/Float32Array/);
  expect(() => q.quantize('scalar', new Float32Array(3), { ...quantizeParams, scale: 0 })).toThrow(/scale > 0/);
  expect(() => q.convert('scalar', new Uint8Array(3), { ...convertParams, hi: 300 })).toThrow(RangeError);
  expect(() => q.convert('fast' as IsaName, new Uint8Array(3), convertParams)).toThrow(/isa must be/);
});
