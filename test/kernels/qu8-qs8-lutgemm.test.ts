// qu8-qs8-lutgemm (table lookup over activation bit planes): on every ISA level the CPU supports, the same codes as
// qgemm's scalar kernel on the same activations and weights, bit for bit: random shapes across the 64-row block,
// 512-row run and 16-column tile edges and k not a multiple of the 6-position group; every weight width (2..4) and
// activation width (1..4); extreme codes that fill the int8 byte sums to their flush limit and the int16 sums over
// thousands of groups; zero-point corrections and clamps; and argument validation.
import { describe, expect, test } from 'vitest';

import type { IsaName } from '../../src/native.js';
import { detected, LEVELS, qu8Kernels, rng } from '../support/native.js';

const q = qu8Kernels();

interface Case {
  m: number; n: number; k: number; wbits: number; abits: number;
  a: Uint8Array; w: Int8Array; multiplier: Float32Array; bias: Float32Array; correction: Int32Array | null;
  min: number; max: number;
}

function randomCase(seed: number, m: number, n: number, k: number, wbits: number, abits: number): Case {
  const next = rng(seed);
  const qmax = (1 << (wbits - 1)) - 1;
  const a = new Uint8Array(m * k).map(() => Math.floor(next() * (1 << abits)));
  const w = new Int8Array(n * k).map(() => Math.floor(next() * (2 * qmax + 1)) - qmax);
  // Scales that spread the sums over the whole code range, so a wrong sum shows as a wrong code.
  const span = Math.max(1, Math.sqrt(k) * qmax * ((1 << abits) - 1));
  const multiplier = new Float32Array(n).map(() => (20 + 40 * next()) / span);
  const bias = new Float32Array(n).map(() => 100 + 50 * next());
  const correction = seed % 2 === 0 ? null : new Int32Array(n).map(() => Math.round((next() - 0.5) * span));
  const min = seed % 3 === 0 ? 10 : 0;
  const max = seed % 3 === 1 ? 200 : 255;
  return { m, n, k, wbits, abits, a, w, multiplier, bias, correction, min, max };
}

const viaQgemm = (c: Case): Uint8Array =>
  q.qgemm('scalar', c.m, c.n, c.k, c.wbits, c.a, c.w, c.multiplier, c.bias, c.correction, c.min, c.max, false) as Uint8Array;
const viaLut = (isa: IsaName, c: Case): Uint8Array =>
  q.lutgemm(isa, c.m, c.n, c.k, c.wbits, c.abits, c.a, c.w, c.multiplier, c.bias, c.correction, c.min, c.max);

function expectSame(isa: IsaName, c: Case): void {
  const expected = viaQgemm(c);
  // A case of many outputs must spread them over many codes, so a wrong sum shows as a wrong code.
  if (c.m * c.n * c.k >= 4096) expect(new Set(expected).size, 'distinct codes').toBeGreaterThan(10);
  const got = viaLut(isa, c);
  let first = -1;
  for (let i = 0; i < expected.length && first < 0; i++) if (got[i] !== expected[i]) first = i;
  expect(first, `first differing code (row ${Math.floor(first / c.n)}, column ${first % c.n})`).toBe(-1);
}

describe.each(LEVELS.map((isa, i) => [isa, i] as const))('qu8-qs8-lutgemm at %s', (isa, level) => {
  const skip = level > detected;

  test.skipIf(skip)('random shapes, every width pair: the same codes as qgemm', () => {
    const shapes: [number, number, number][] = [
      [1, 1, 1], [5, 3, 7], [63, 15, 6], [64, 16, 144], [65, 17, 13], [130, 33, 288], [513, 20, 37], [600, 16, 576],
    ];
    let seed = 1;
    for (const [m, n, k] of shapes) {
      for (const wbits of [2, 3, 4]) {
        for (const abits of [1, 2, 3, 4]) expectSame(isa, randomCase(seed++, m, n, k, wbits, abits));
      }
    }
  });

  test.skipIf(skip)('extreme codes fill the byte sums to their flush limit and the int16 sums over long k', () => {
    for (const [wbits, abits, k] of [[4, 4, 6000], [4, 2, 600], [2, 2, 33000], [3, 4, 300]] as const) {
      const qmax = (1 << (wbits - 1)) - 1;
      for (const sign of [1, -1]) {
        const c = randomCase(7, 70, 3, k, wbits, abits);
        c.a.fill((1 << abits) - 1);
        c.w.fill(sign * qmax);
        c.w[0] = -sign * qmax;  // one column differs in its first weight, so columns are not all equal
        c.correction = null;
        c.min = 0;
        c.max = 255;
        // The sums, +-k * qmax * (2^abits - 1), map to codes 28 or 228; a byte or int16 sum that wrapped would not.
        const sum = k * qmax * ((1 << abits) - 1);
        c.multiplier.fill(100 / sum);
        c.bias.fill(128);
        const expected = viaQgemm(c);
        expect(expected[1]).toBe(sign > 0 ? 228 : 28);
        expect(viaLut(isa, c)).toEqual(expected);
      }
    }
  });
});

describe('qu8-qs8-lutgemm arguments and names', () => {
  const c = randomCase(3, 4, 2, 8, 2, 2);
  const call = (over: Partial<Case> & { isa?: IsaName }) => {
    const d = { ...c, ...over };
    return () => q.lutgemm(over.isa ?? 'scalar', d.m, d.n, d.k, d.wbits, d.abits, d.a, d.w, d.multiplier, d.bias, d.correction, d.min, d.max);
  };

  test('widths and codes outside the family are refused', () => {
    expect(call({ abits: 0 })).toThrow(/abits/);
    expect(call({ abits: 5 })).toThrow(/abits/);
    expect(call({ wbits: 5, w: new Int8Array(16).fill(9) })).toThrow(/wbits must be 2\.\.4/);
    expect(call({ a: new Uint8Array(32).fill(4) })).toThrow(/activation code 4 needs more than 2 bits/);
    expect(call({ w: new Int8Array(16).fill(2) })).toThrow(/weight code 2 outside \+-1/);
    expect(call({ a: new Uint8Array(31) })).toThrow(RangeError);
    expect(call({ min: 20, max: 10 })).toThrow(RangeError);
  });

  test('names: the VBMI kernel at avx512vnni where the CPU has VBMI (else AVX2), AVX2 at avx2, scalar at scalar', () => {
    expect(q.names('scalar').lutgemm).toBe('qu8_qs8_lutgemm_ukernel_64x16__scalar');
    if (detected >= LEVELS.indexOf('avx2')) expect(q.names('avx2').lutgemm).toBe('qu8_qs8_lutgemm_ukernel_32x16__avx2');
    if (detected === LEVELS.indexOf('avx512vnni')) {
      expect(q.names('avx512vnni').lutgemm).toMatch(/^qu8_qs8_lutgemm_ukernel_(64x16__avx512vbmi|32x16__avx2)$/);
    }
  });
});
