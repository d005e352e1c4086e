// qu8-qs8-gemm: every ISA level the CPU supports against the scalar kernel, bit for bit (codes and float outputs),
// and the scalar kernel against a JavaScript reference of quantization.md's formula with an exact emulation of
// fmaf; plus crafted rounding ties, clamps, zero-point corrections, every weight width (packed storage and both
// sub-byte paths) and argument validation of _qu8Kernels.qgemm.
import { describe, expect, test } from 'vitest';

import type { IsaName } from '../../src/native.js';
import { detected, LEVELS, qu8Kernels, rng } from '../support/native.js';
import { fmaF32, requantCode, roundHalfEven } from '../support/requant.js';

const q = qu8Kernels();

const randInt = (next: () => number, lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1));

// ---- The reference: quantization.md, Operators (fmaF32, requantCode: test/support/requant.ts) ---------------

interface Case {
  m: number; n: number; k: number; wbits: number;
  a: Uint8Array; w: Int8Array; multiplier: Float32Array; bias: Float32Array; correction: Int32Array | null;
  min: number; max: number;
}

function accumulators(c: Case): Float64Array {
  const acc = new Float64Array(c.m * c.n);
  for (let i = 0; i < c.m; i++) {
    for (let j = 0; j < c.n; j++) {
      let s = 0;
      for (let p = 0; p < c.k; p++) s += c.a[i * c.k + p] * c.w[j * c.k + p];
      acc[i * c.n + j] = (s - (c.correction ? c.correction[j] : 0)) | 0;  // int32, as the kernels wrap
    }
  }
  return acc;
}

function reference(c: Case, floatOut: boolean): Uint8Array | Float32Array {
  const acc = accumulators(c);
  const out = floatOut ? new Float32Array(c.m * c.n) : new Uint8Array(c.m * c.n);
  for (let i = 0; i < c.m; i++) {
    for (let j = 0; j < c.n; j++) {
      const v = acc[i * c.n + j];
      out[i * c.n + j] = floatOut ? fmaF32(v, c.multiplier[j], c.bias[j]) : requantCode(v, c.multiplier[j], c.bias[j], c.min, c.max);
    }
  }
  return out;
}

// ---- Cases ------------------------------------------------------------------------------------------------------

// A layer-like case: activation codes with zero point za (correction = za * sum_k w), weights of `wbits`, per-column
// multipliers that map the accumulator range onto roughly [0, 255] around z_out, and a clamp.
function makeCase(m: number, n: number, k: number, wbits: number, next: () => number, opts: { za?: number; relu6?: boolean } = {}): Case {
  const qmax = 2 ** (wbits - 1) - 1;
  const a = Uint8Array.from({ length: m * k }, () => randInt(next, 0, 255));
  const w = Int8Array.from({ length: n * k }, () => randInt(next, -qmax, qmax));
  const za = opts.za ?? 0;
  let correction: Int32Array | null = null;
  if (za !== 0) {
    correction = new Int32Array(n);
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += w[j * k + p];
      correction[j] = za * s;
    }
  }
  const zOut = randInt(next, 0, 40);
  const spread = 128 * qmax * Math.sqrt(k) + 1;
  const multiplier = Float32Array.from({ length: n }, () => (60 + 100 * next()) / spread);
  const bias = Float32Array.from({ length: n }, () => zOut + 40 * (next() - 0.5));
  const max = opts.relu6 ? Math.min(255, zOut + randInt(next, 20, 200)) : 255;
  return { m, n, k, wbits, a, w, multiplier, bias, correction, min: zOut, max };
}

function run(isa: IsaName, c: Case, floatOut = false, path: 'auto' | 'unpack' | 'indirect' = 'auto', tap?: number): Uint8Array | Float32Array {
  return q.qgemm(isa, c.m, c.n, c.k, c.wbits, c.a, c.w, c.multiplier, c.bias, c.correction, c.min, c.max, floatOut, path, tap);
}

function bytesOf(x: Uint8Array | Float32Array): Buffer {
  return Buffer.from(x.buffer, x.byteOffset, x.byteLength);
}

// First mismatch as a string, or null (bitwise comparison, so -0 and NaN patterns count too).
function firstMismatch(c: Case, got: Uint8Array | Float32Array, want: Uint8Array | Float32Array, label: string): string | null {
  if (got.length !== want.length || got.constructor !== want.constructor) return `${label}: wrong result type or length`;
  if (bytesOf(got).equals(bytesOf(want))) return null;
  for (let i = 0; i < got.length; i++) {
    if (!Object.is(got[i], want[i])) {
      return `${label} m=${c.m} n=${c.n} k=${c.k} w${c.wbits} at (${Math.floor(i / c.n)}, ${i % c.n}): got ${got[i]}, want ${want[i]}`;
    }
  }
  return `${label}: bit patterns differ`;
}

// Shapes around every tile and block size in use (mr 4/6/8/12, nr 8/16/32 (the VNNI level picks the 16-column
// panel for n <= 16), kr 4, storage blocks of 64 bytes, the AVX2
// kernel's 512-k chunk), with odd M and N and K = 1.
function shapeCases(seed: number): Case[] {
  const next = rng(seed);
  const cases: Case[] = [];
  const ms = [1, 2, 3, 5, 6, 7, 8, 9, 13, 16, 17, 25];
  const ns = [1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 40, 63, 65];
  const ks = [1, 2, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 255, 256, 257, 511, 512, 513, 1000];
  let i = 0;
  for (const m of ms) {
    for (const n of ns) {
      const k = ks[(i * 7) % ks.length];
      const wbits = 2 + (i % 7);
      cases.push(makeCase(m, n, k, wbits, next, { za: i % 3 === 0 ? 0 : randInt(next, 1, 255), relu6: i % 4 === 1 }));
      i++;
    }
  }
  for (const k of ks) {
    for (let wbits = 2; wbits <= 8; wbits++) cases.push(makeCase(9, 33, k, wbits, next, { za: 128 }));
  }
  // Larger: several row tiles and panels, a K past the AVX2 chunk, every width.
  for (let wbits = 2; wbits <= 8; wbits++) cases.push(makeCase(37, 70, 600 + 4 * wbits + (wbits % 3), wbits, next, { za: 3 }));
  return cases;
}

const casesForIsa = shapeCases(1234);

// ---- Tests --------------------------------------------------------------------------------------------------------

describe('qu8-qs8-gemm scalar reference', () => {
  test('matches the JavaScript reference of the formula (codes and float outputs)', () => {
    for (const c of casesForIsa.filter((_, i) => i % 2 === 0)) {
      expect(firstMismatch(c, run('scalar', c), reference(c, false), 'codes')).toBeNull();
      expect(firstMismatch(c, run('scalar', c, true), reference(c, true), 'float')).toBeNull();
    }
  });

  test('the fma emulation itself: single rounding where a multiply then add would round twice', () => {
    // acc = 5, m = 1 + 2^-23: acc * m = 5 + 1.25 ulp(5) rounds to 5 + 1 ulp; with b = -(4.5 + 2^-21) a separate
    // add gives exactly 0.5 (code 0), the fused result 0.5 + 2^-23 (code 1).
    const m = 1 + 2 ** -23;
    const b = -(4.5 + 2 ** -21);
    expect(fmaF32(5, m, b)).toBe(0.5 + 2 ** -23);
    expect(Math.fround(Math.fround(5 * m) + b)).toBe(0.5);
  });

  test('float(acc) rounds to nearest even above 2^24', () => {
    expect(fmaF32(2 ** 24 + 1, 1, 0)).toBe(2 ** 24);
    expect(fmaF32(2 ** 24 + 3, 1, 0)).toBe(2 ** 24 + 4);
  });
});

// Cases whose accumulator is set exactly through the correction (a = 0): acc = -correction[j].
function accCase(accs: number[], multiplier: number[], bias: number[], min = 0, max = 255): Case {
  const n = accs.length;
  return {
    m: 1, n, k: 1, wbits: 8,
    a: new Uint8Array(1), w: new Int8Array(n).fill(1),
    multiplier: Float32Array.from(multiplier), bias: Float32Array.from(bias),
    correction: Int32Array.from(accs, (v) => -v), min, max,
  };
}

for (const [level, isa] of LEVELS.entries()) {
  describe.skipIf(level > detected)(`qu8-qs8-gemm ${isa}`, () => {
    test('reports its kernel name and tile', () => {
      const { gemm, gemmTile } = q.names(isa);
      expect(gemm).toMatch(new RegExp(`^qu8_qs8_gemm_ukernel_\\d+x\\d+c4__${isa}$`));
      expect(gemm).toContain(`${gemmTile[0]}x${gemmTile[1]}c${gemmTile[2]}`);
    });

    test('equals the scalar kernel bit for bit on shapes with tails, every width and zero point', () => {
      for (const c of casesForIsa) {
        const codes = run(isa, c);
        const floats = run(isa, c, true);
        expect(firstMismatch(c, codes, run('scalar', c), 'codes')).toBeNull();
        expect(firstMismatch(c, floats, run('scalar', c, true), 'float')).toBeNull();
        if (c.wbits < 5) expect(firstMismatch(c, run(isa, c, false, 'unpack'), codes, 'unpack path')).toBeNull();
      }
    });

    test.skipIf(!q.names(isa).indirect)('indirect kernel (rows through pointers and tap offsets) equals the scalar kernel', () => {
      const next = rng(4242 + level);
      // Conv-like shapes: 9 taps of 4/16/32/64 channels (narrow and wide panels), 1 tap, and row counts around
      // every tile; every weight width (sub-byte panels are unpacked).
      const shapes: [number, number, number, number][] = [
        [1, 16, 9 * 16, 16], [13, 16, 9 * 16, 16], [25, 10, 9 * 4, 4], [37, 32, 9 * 32, 32], [17, 64, 9 * 64, 64],
        [9, 33, 3 * 8, 8], [8, 7, 16, 16], [26, 48, 4 * 12, 12], [3, 70, 2 * 100, 100], [40, 16, 36, 4],
      ];
      let i = 0;
      for (const [m, n, k, tap] of shapes) {
        for (let wbits = 2; wbits <= 8; wbits += 2) {
          const c = makeCase(m, n, k, wbits + (i % 2 === 1 && wbits < 8 ? 1 : 0), next, { za: i % 3 === 0 ? 0 : randInt(next, 1, 255), relu6: i % 4 === 1 });
          i++;
          expect(firstMismatch(c, run(isa, c, false, 'indirect', tap), run('scalar', c), 'indirect codes')).toBeNull();
          expect(firstMismatch(c, run(isa, c, true, 'indirect', tap), run('scalar', c, true), 'indirect float')).toBeNull();
        }
      }
      // Every row position of a tile, alone and in a block.
      const c = makeCase(30, 16, 64, 8, next, { za: 7 });
      expect(firstMismatch(c, run(isa, c, false, 'indirect', 16), run('scalar', c), 'indirect rows')).toBeNull();
      expect(() => run(isa, c, false, 'indirect', 6)).toThrow(RangeError);
      expect(() => run(isa, c, false, 'indirect', 48)).toThrow(RangeError);
    });

    test.skipIf(!q.names(isa).strided)('strided kernel (one conv row: windows equally spaced, rows overlapping) equals the scalar kernel', () => {
      const next = rng(5151 + level);
      // [m, n, tap, taps, rowStride]: the compiled strides (4, 16, 32, 64, 128 for both tile shapes), each
      // in full and short tiles (every height is compiled), conv-like shapes (9 taps of 4 or 16 bytes, 3 of 8),
      // other strides (12, 48, 100), rows overlapping (stride < tap) and not, every width. Kernel rows of 3 pixels
      // (tap = 3 * rowStride: the 16-column tile shares broadcasts across taps) at compiled and other strides.
      const shapes: [number, number, number, number, number][] = [
        [10, 16, 24, 3, 8], [5, 12, 96, 2, 32], [19, 16, 36, 1, 12], [3, 16, 12, 9, 4],
        [32, 16, 48, 3, 16], [16, 16, 12, 3, 4], [40, 16, 96, 3, 32], [17, 16, 192, 3, 64], [32, 10, 48, 3, 16],
        [7, 16, 48, 3, 12], [16, 32, 96, 3, 32], [24, 64, 192, 3, 64], [8, 64, 64, 1, 128], [9, 48, 96, 3, 32],
        [13, 70, 24, 2, 48], [3, 33, 8, 3, 100], [1, 16, 16, 1, 4], [33, 20, 48, 3, 16], [28, 16, 48, 3, 16],
        [21, 16, 12, 3, 4], [7, 64, 192, 3, 64], [6, 32, 64, 2, 128], [28, 16, 16, 9, 16], [16, 16, 4, 9, 4],
        [14, 32, 16, 9, 32], [11, 16, 8, 3, 16], [5, 16, 16, 2, 32], [9, 24, 12, 3, 4],
      ];
      let i = 0;
      for (const [m, n, tap, taps, rowStride] of shapes) {
        const wbits = [8, 4, 2, 7, 3, 5, 6][i % 7];
        const k = tap * taps;
        const tapStride = m * rowStride + tap + 8 * (i % 3);
        const buffer = Uint8Array.from({ length: (m - 1) * rowStride + (taps - 1) * tapStride + tap }, () => randInt(next, 0, 255));
        const c = makeCase(m, n, k, wbits, next, { za: i % 3 === 0 ? 0 : randInt(next, 1, 255), relu6: i % 4 === 1 });
        // The logical A: row i, tap t = the buffer at i * rowStride + t * tapStride.
        for (let r = 0; r < m; r++)
          for (let t = 0; t < taps; t++) c.a.set(buffer.subarray(r * rowStride + t * tapStride, r * rowStride + t * tapStride + tap), r * k + t * tap);
        i++;
        const strided = (floatOut: boolean) => q.qgemm(isa, m, n, k, c.wbits, buffer, c.w, c.multiplier, c.bias, c.correction, c.min, c.max, floatOut, 'strided', tap, rowStride, tapStride);
        expect(firstMismatch(c, strided(false), run('scalar', c), 'strided codes')).toBeNull();
        expect(firstMismatch(c, strided(true), run('scalar', c, true), 'strided float')).toBeNull();
      }
      const c = makeCase(4, 16, 48, 8, next, {});
      expect(() => q.qgemm(isa, 4, 16, 48, 8, new Uint8Array(10), c.w, c.multiplier, c.bias, null, 0, 255, false, 'strided', 48, 16, 64)).toThrow(RangeError);
    });

    test('values far outside [0, 255] (beyond int32) clamp exactly in full tiles of every kernel', () => {
      // Full 16- and 32-column tiles take the packed epilogue, which clamps below after rounding.
      const next = rng(6262 + level);
      for (const n of [16, 32]) {
        const c = makeCase(32, n, 64, 8, next, { za: 9, relu6: true });
        c.multiplier = c.multiplier.map((m, j) => m * (j % 2 === 0 ? 1e7 : -1e7));
        c.min = randInt(next, 1, Math.min(60, c.max));
        const want = run('scalar', c);
        expect(firstMismatch(c, run(isa, c), want, 'direct')).toBeNull();
        if (q.names(isa).indirect) expect(firstMismatch(c, run(isa, c, false, 'indirect', 16), want, 'indirect')).toBeNull();
        if (q.names(isa).strided) {
          // Row i, tap t at i * 64 + t * 16: A's own layout read as a conv row.
          const strided = q.qgemm(isa, c.m, n, c.k, 8, c.a, c.w, c.multiplier, c.bias, c.correction, c.min, c.max, false, 'strided', 16, 64, 16);
          expect(firstMismatch(c, strided, want, 'strided')).toBeNull();
        }
        expect(new Set(want).has(c.min) && new Set(want).has(c.max)).toBe(true);
      }
    });

    test('rounds ties to even and applies one fused multiply-add', () => {
      // y = acc * 0.5: every odd acc is a tie.
      const accs = Array.from({ length: 64 }, (_, i) => i);
      const half = accCase(accs, accs.map(() => 0.5), accs.map(() => 0));
      expect(Array.from(run(isa, half))).toEqual(accs.map((v) => roundHalfEven(v / 2)));
      expect(Array.from(run(isa, half)).slice(0, 8)).toEqual([0, 0, 1, 2, 2, 2, 3, 4]);
      // Ties from the bias: (acc + 1) / 4.
      const quarter = accCase(accs, accs.map(() => 0.25), accs.map(() => 0.25));
      expect(Array.from(run(isa, quarter))).toEqual(accs.map((v) => roundHalfEven((v + 1) / 4)));
      // Fused versus separate rounding (see the reference test): code 1, not 0; float 0.5 + 2^-23.
      const fused = accCase([5, 5, 7], [1 + 2 ** -23, 1 + 2 ** -23, 0.5], [-(4.5 + 2 ** -21), -(4.5 + 2 ** -21), 0]);
      expect(Array.from(run(isa, fused))).toEqual([1, 1, 4]);
      expect(run(isa, fused, true)[0]).toBe(0.5 + 2 ** -23);
      // float(acc) above 2^24 (nearest even) and negative accumulators clamp at min.
      const big = accCase([2 ** 24 + 1, 2 ** 24 + 3, -(2 ** 30), 2 ** 31 - 1, -1000], [2 ** -17, 2 ** -17, 1e-3, 1e-7, 1], [0, 0, 0, 0, 0]);
      expect(Array.from(run(isa, big, true))).toEqual([
        128, 128 + 2 ** -15, fmaF32(-(2 ** 30), Math.fround(1e-3), 0), fmaF32(2 ** 31 - 1, Math.fround(1e-7), 0), -1000,
      ]);
      expect(Array.from(run(isa, big))).toEqual([128, 128, 0, 215, 0]);
      for (const c of [half, quarter, fused, big]) {
        expect(firstMismatch(c, run(isa, c), reference(c, false), 'codes')).toBeNull();
        expect(firstMismatch(c, run(isa, c, true), reference(c, true), 'float')).toBeNull();
      }
    });

    test('clamps to [min, max] before rounding (ReLU and ReLU6 in codes)', () => {
      const accs = Array.from({ length: 40 }, (_, i) => 10 * i - 100);
      const c = accCase(accs, accs.map(() => 1), accs.map(() => 20));
      for (const [min, max] of [[20, 255], [20, 62], [0, 255], [1, 254], [100, 100], [19, 41]]) {
        const got = run(isa, { ...c, min, max });
        expect(Array.from(got)).toEqual(accs.map((v) => roundHalfEven(Math.min(Math.max(v + 20, min), max))));
      }
    });

    test('extreme accumulators at the largest K stay exact (every width)', () => {
      // All codes at their extremes: |acc| up to 65536 * 255 * 127, the bound the binding's K limit keeps in int32.
      for (const [k, wbits] of [[65536, 8], [65536, 4], [65533, 4], [65536, 3], [65536, 2], [65533, 2]]) {
        const qmax = 2 ** (wbits - 1) - 1;
        const n = 33;
        const w = new Int8Array(n * k);
        for (let j = 0; j < n; j++) w.fill(j % 3 === 0 ? qmax : j % 3 === 1 ? -qmax : (j % 2) * qmax, j * k, (j + 1) * k);
        const c: Case = {
          m: 2, n, k, wbits, a: new Uint8Array(2 * k).fill(255), w,
          multiplier: new Float32Array(n).fill(1 / (255 * 127 * 65536)), bias: new Float32Array(n).fill(100),
          correction: null, min: 0, max: 255,
        };
        c.a.fill(0, k + 1, 2 * k);  // row 1: a single 255
        const floats = run(isa, c, true);
        expect(firstMismatch(c, floats, reference(c, true), 'float')).toBeNull();
        expect(firstMismatch(c, run(isa, c), reference(c, false), 'codes')).toBeNull();
      }
    });

    test('null correction is zero and a row does not depend on its position in M', () => {
      const next = rng(77 + level);
      const c = makeCase(21, 45, 70, 4, next);
      const zeros = { ...c, correction: new Int32Array(c.n) };
      expect(bytesOf(run(isa, c)).equals(bytesOf(run(isa, zeros)))).toBe(true);
      const full = run(isa, c, true) as Float32Array;
      for (const i of [0, 7, 8, 20]) {
        const alone = run(isa, { ...c, m: 1, a: c.a.slice(i * c.k, (i + 1) * c.k) }, true) as Float32Array;
        expect(bytesOf(alone).equals(bytesOf(full.subarray(i * c.n, (i + 1) * c.n)))).toBe(true);
      }
    });
  });
}

describe('qu8-qs8-gemm argument checks', () => {
  const a = new Uint8Array(6);
  const w = new Int8Array(9);
  const f = new Float32Array(3);
  const corr = new Int32Array(3);
  const call = (...args: unknown[]) => () => (q.qgemm as (...x: unknown[]) => unknown)(...args);
  const good = ['scalar', 2, 3, 3, 8, a, w, f, f, corr, 0, 255, false];
  const withArg = (index: number, value: unknown) => good.map((v, i) => (i === index ? value : v));

  test('a valid call returns m*n codes or floats', () => {
    expect(call(...good)()).toBeInstanceOf(Uint8Array);
    expect(call(...withArg(12, true))()).toBeInstanceOf(Float32Array);
    expect(call(...withArg(9, null))()).toHaveLength(6);
  });

  test('wrong lengths and out-of-range values throw RangeError', () => {
    expect(call(...withArg(5, new Uint8Array(5)))).toThrow(RangeError);
    expect(call(...withArg(6, new Int8Array(10)))).toThrow(RangeError);
    expect(call(...withArg(7, new Float32Array(2)))).toThrow(/multiplier/);
    expect(call(...withArg(9, new Int32Array(4)))).toThrow(/correction/);
    expect(call(...withArg(4, 9))).toThrow(RangeError);
    expect(call(...withArg(4, 1))).toThrow(RangeError);
    expect(call(...withArg(3, 0))).toThrow(RangeError);
    expect(call(...withArg(3, 65537))).toThrow(RangeError);
    expect(call(...withArg(1, 2 ** 40))).toThrow(RangeError);
    expect(call(...withArg(10, 300))).toThrow(RangeError);
    expect(call(...withArg(10, -1))).toThrow(RangeError);
    expect(call(...withArg(11, 256))).toThrow(RangeError);
    expect(call('scalar', 2, 3, 3, 8, a, w, f, f, corr, 9, 8, false)).toThrow(/min must not exceed max/);
    expect(call(...withArg(10, NaN))).toThrow(RangeError);
    expect(call(...withArg(10, 0.5))).toThrow(/integer codes/);  // code clamps are integers (RequantParams)
    expect(call(...good.map((v, i) => (i === 10 ? 0.5 : i === 12 ? true : v)))).not.toThrow();  // float logits: any bounds
    expect(call(...good, 'fast')).toThrow(RangeError);
    expect(call(...good, 'indirect')).toThrow(RangeError);  // scalar has no indirect kernel (and k = 3)
  });

  test('weight codes outside the symmetric range of wbits throw RangeError naming the code', () => {
    const withCode = (code: number, wbits: number) => {
      const codes = new Int8Array(9);
      codes[4] = code;
      return call(...good.map((v, i) => (i === 6 ? codes : i === 4 ? wbits : v)));
    };
    expect(withCode(2, 2)).toThrow(/weight code 2 .*\[-1, 1\]/);
    expect(withCode(-2, 2)).toThrow(RangeError);
    expect(withCode(1, 2)()).toHaveLength(6);
    expect(withCode(-3, 3)()).toHaveLength(6);
    expect(withCode(4, 3)).toThrow(RangeError);
    expect(withCode(7, 4)()).toHaveLength(6);
    expect(withCode(-8, 4)).toThrow(RangeError);
    expect(withCode(-128, 8)).toThrow(RangeError);
    expect(withCode(127, 8)()).toHaveLength(6);
  });

  test('wrong types throw TypeError', () => {
    expect(call(...withArg(5, new Int8Array(6)))).toThrow(TypeError);
    expect(call(...withArg(5, [0, 0, 0, 0, 0, 0]))).toThrow(TypeError);
    expect(call(...withArg(6, new Uint8Array(9)))).toThrow(TypeError);
    expect(call(...withArg(7, new Float64Array(3)))).toThrow(TypeError);
    expect(call(...withArg(9, new Uint32Array(3)))).toThrow(TypeError);
    expect(call(...withArg(12, 1))).toThrow(TypeError);
    expect(call(...withArg(2, '3'))).toThrow(TypeError);
    expect(call(...withArg(3, 1.5))).toThrow(TypeError);
    expect(call(...good, 3)).toThrow(TypeError);
    expect(call('scalar', 2, 3, 3)).toThrow(TypeError);
  });

  test('unknown ISA names throw and name the function', () => {
    expect(call(...withArg(0, 'sse9'))).toThrow(RangeError);
    expect(call(...withArg(0, 'sse9'))).toThrow(/qgemm/);
    expect(call(...withArg(0, 3))).toThrow(TypeError);
    expect(() => q.names('sse9' as IsaName)).toThrow(RangeError);
  });

  test.skipIf(detected === LEVELS.length - 1)('levels above the CPU throw "not supported by this CPU"', () => {
    expect(call(...withArg(0, LEVELS[detected + 1]))).toThrow(/not supported by this CPU/);
  });
});
