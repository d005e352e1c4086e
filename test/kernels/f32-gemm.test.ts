// f32-gemm: every ISA level the CPU supports against a naive double-precision reference, plus clamping, row
// independence (bit-equal whatever the row's position in M) and argument validation of _f32Kernels.f32Gemm.
import { describe, expect, test } from 'vitest';
import type { IsaName } from '../../src/native.js';
import { detected, f32Kernels, LEVELS, rng } from '../support/native.js';

const kernels = f32Kernels();

function randomArray(length: number, next: () => number, scale = 1): Float32Array {
  return Float32Array.from({ length }, () => scale * (2 * next() - 1));
}

interface Case {
  m: number;
  n: number;
  k: number;
  a: Float32Array;
  w: Float32Array;
  bias: Float32Array | null;
  min: number;
  max: number;
}

function makeCase(m: number, n: number, k: number, next: () => number, opts: Partial<Case> = {}): Case {
  return {
    m, n, k,
    a: randomArray(m * k, next),
    w: randomArray(n * k, next),
    bias: randomArray(n, next),
    min: -Infinity,
    max: Infinity,
    ...opts,
  };
}

// Returns the first mismatch as a string, or null: |got - ref| <= 1e-5 * (|bias| + sum |a*w|).
function compareWithReference(c: Case, got: Float32Array): string | null {
  if (got.length !== c.m * c.n) return `length ${got.length}, expected ${c.m * c.n}`;
  for (let i = 0; i < c.m; i++) {
    for (let j = 0; j < c.n; j++) {
      let ref = c.bias ? c.bias[j] : 0;
      let mag = Math.abs(ref);
      for (let p = 0; p < c.k; p++) {
        const t = c.a[i * c.k + p] * c.w[j * c.k + p];
        ref += t;
        mag += Math.abs(t);
      }
      ref = Math.min(Math.max(ref, c.min), c.max);
      const value = got[i * c.n + j];
      if (!(Math.abs(value - ref) <= 1e-5 * mag + 1e-30)) {
        return `m=${c.m} n=${c.n} k=${c.k} at (${i}, ${j}): got ${value}, reference ${ref}`;
      }
    }
  }
  return null;
}

function run(isa: IsaName, c: Case): Float32Array {
  return kernels.f32Gemm(isa, c.m, c.n, c.k, c.a, c.w, c.bias, c.min, c.max);
}

function bitEqual(a: Float32Array, b: Float32Array): boolean {
  return Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;
}

for (const [level, isa] of LEVELS.entries()) {
  describe.skipIf(level > detected)(`f32-gemm ${isa}`, () => {
    test('reports its kernel name', () => {
      const { gemm, gemmNarrow } = kernels.names(isa);
      expect(gemm).toMatch(/^f32_gemm_ukernel_\d+x\d+__/);
      expect(gemm.endsWith(isa === 'avx512vnni' ? '__avx512' : `__${isa}`)).toBe(true);
      expect(gemmNarrow).toBe(isa === 'avx512vnni' ? 'f32_gemm_ukernel_16x16__avx512' : gemm);
    });

    // f32Gemm runs the narrow kernel (names().gemmNarrow) for n <= 16 and the wide one above: both must give every
    // column the same bits, so that a conv's result does not depend on its output channel count's tile.
    test('a product of at most 16 columns equals those columns of a wider one, bit for bit', () => {
      const next = rng(41 + level);
      for (const [m, n, k] of [[1, 1, 1], [7, 5, 13], [16, 16, 300], [17, 15, 2], [33, 16, 144], [40, 9, 77]]) {
        const wide = makeCase(m, n + 17, k, next, { min: -3, max: 3 });
        const narrow = { ...wide, n, w: wide.w.slice(0, n * k), bias: wide.bias!.slice(0, n) };
        const got = run(isa, narrow);
        expect(compareWithReference(narrow, got)).toBeNull();
        const full = run(isa, wide);
        for (let i = 0; i < m; i++) {
          const row = full.subarray(i * wide.n, i * wide.n + n);
          expect(bitEqual(got.subarray(i * n, (i + 1) * n), row), `row ${i} of m=${m} n=${n} k=${k}`).toBe(true);
        }
      }
    });

    test('matches the reference on shapes with row and column tails', () => {
      const next = rng(17 + level);
      const cases: Case[] = [];
      // Systematic tails: every M up to two 8-row tiles, N around 8, 16 and 32 columns, K = 1 and small K.
      for (const m of [1, 2, 3, 5, 6, 7, 8, 9, 12, 13, 16, 17]) {
        for (const n of [1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 70]) {
          cases.push(makeCase(m, n, (m * 7 + n) % 3 === 0 ? 1 : 1 + ((m + n) % 5), next));
        }
      }
      // Random shapes: M in 1..40, N in 1..70, K in 1..300.
      for (let i = 0; i < 40; i++) {
        cases.push(makeCase(1 + Math.floor(next() * 40), 1 + Math.floor(next() * 70), 1 + Math.floor(next() * 300), next));
      }
      // K at and around common blocks, and an A larger than the driver's row block (crosses block boundaries).
      for (const k of [255, 256, 257, 512, 1024]) cases.push(makeCase(11, 37, k, next));
      cases.push(makeCase(70, 19, 2100, next));
      for (const c of cases) expect(compareWithReference(c, run(isa, c))).toBeNull();
    });

    // A conv reads its kernel rows straight from a padded image: K in segments of kseg values, segStride apart, rows
    // lda apart (overlapping). The product must equal f32Gemm on the gathered rows, bit for bit.
    test('A read in segments equals the gathered matrix, bit for bit', () => {
      const next = rng(63 + level);
      // [m, n, k, kseg, lda, segStride]: 3x3 convs over 3, 16 and 64 channels (padded rows of 10, 34 and 10 pixels),
      // a short last segment with overlapping segments, one segment, rows that coincide (lda 0), and A stored
      // transposed (segments of one value: the weight gradient's dy^T).
      const shapes = [[13, 16, 27, 9, 3, 30], [17, 37, 144, 48, 16, 544], [8, 64, 576, 192, 64, 640], [5, 9, 10, 3, 7, 2],
        [20, 5, 7, 7, 7, 0], [3, 33, 4, 1, 0, 5], [16, 40, 50, 1, 1, 16], [9, 70, 13, 1, 1, 9]];
      for (const [m, n, k, kseg, lda, segStride] of shapes) {
        const extent = (m - 1) * lda + Math.floor((k - 1) / kseg) * segStride + ((k - 1) % kseg) + 1;
        const a = randomArray(extent, next);
        const gathered = new Float32Array(m * k);
        for (let i = 0; i < m; i++) {
          for (let p = 0; p < k; p++) gathered[i * k + p] = a[i * lda + Math.floor(p / kseg) * segStride + (p % kseg)];
        }
        const c = makeCase(m, n, k, next, { a: gathered, min: -4, max: 4 });
        const got = kernels.f32GemmSegmented(isa, m, n, k, kseg, lda, segStride, a, c.w, c.bias, c.min, c.max);
        expect(compareWithReference(c, got)).toBeNull();
        expect(bitEqual(got, run(isa, c)), `m=${m} n=${n} k=${k} kseg=${kseg}`).toBe(true);
      }
    });

    test('null bias is zero', () => {
      const next = rng(5);
      const c = makeCase(9, 21, 33, next, { bias: null });
      expect(compareWithReference(c, run(isa, c))).toBeNull();
      const zeros = { ...c, bias: new Float32Array(c.n) };
      expect(bitEqual(run(isa, c), run(isa, zeros))).toBe(true);
    });

    test('clamps to [min, max]', () => {
      const next = rng(23);
      for (const [min, max] of [[0, 6], [-0.5, 0.75], [0, Infinity], [-Infinity, 0], [0.25, 0.25]] as const) {
        const c = makeCase(13, 45, 29, next, { min, max });
        const got = run(isa, c);
        expect(compareWithReference(c, got)).toBeNull();
        expect(got.every((v) => v >= min && v <= max)).toBe(true);
      }
    });

    test('a row gives bit-identical results at any position in M', () => {
      const next = rng(99);
      for (const [m, n, k] of [[13, 37, 1], [13, 70, 300], [29, 33, 77], [9, 16, 256]]) {
        const c = makeCase(m, n, k, next, { min: -2, max: 2 });
        const full = run(isa, c);
        for (let i = 0; i < m; i++) {
          const alone = run(isa, { ...c, m: 1, a: c.a.slice(i * k, (i + 1) * k) });
          expect(bitEqual(alone, full.subarray(i * n, (i + 1) * n)), `row ${i} of m=${m} n=${n} k=${k}`).toBe(true);
        }
        // The same rows shifted down by 3 (different tile rows and tile boundaries).
        const shifted = run(isa, { ...c, m: m + 3, a: Float32Array.from([...randomArray(3 * k, next), ...c.a]) });
        expect(bitEqual(shifted.subarray(3 * n), full)).toBe(true);
      }
    });
  });
}

describe('f32-gemm argument checks', () => {
  const a = new Float32Array(6);
  const w = new Float32Array(9);
  const bias = new Float32Array(3);
  const call = (...args: unknown[]) => () => (kernels.f32Gemm as (...x: unknown[]) => unknown)(...args);

  test('valid call returns m*n values', () => {
    expect(call('scalar', 2, 3, 3, a, w, bias, -Infinity, Infinity)()).toHaveLength(6);
  });

  test('f32GemmSegmented checks kseg and the extent of a', () => {
    const segmented = (...args: unknown[]) => () => (kernels.f32GemmSegmented as (...x: unknown[]) => unknown)(...args);
    // m 2, k 3 in segments of 2, 5 apart, rows 4 apart: the last element read is a[4 + 5 + 0] (extent 10).
    expect(segmented('scalar', 2, 3, 3, 2, 4, 5, new Float32Array(10), w, bias, 0, 1)()).toHaveLength(6);
    expect(segmented('scalar', 2, 3, 3, 2, 4, 5, new Float32Array(11), w, bias, 0, 1)).toThrow(/10 elements/);
    expect(segmented('scalar', 2, 3, 3, 4, 4, 5, new Float32Array(10), w, bias, 0, 1)).toThrow(/kseg/);
    expect(segmented('scalar', 2, 3, 3, 0, 4, 5, new Float32Array(10), w, bias, 0, 1)).toThrow(RangeError);
  });

  test('wrong lengths throw RangeError', () => {
    expect(call('scalar', 2, 3, 3, new Float32Array(5), w, bias, 0, 1)).toThrow(RangeError);
    expect(call('scalar', 2, 3, 3, a, new Float32Array(10), bias, 0, 1)).toThrow(RangeError);
    expect(call('scalar', 2, 3, 3, a, w, new Float32Array(2), 0, 1)).toThrow(/bias/);
  });

  test('non-typed arrays and wrong element types throw TypeError', () => {
    expect(call('scalar', 2, 3, 3, [0, 0, 0, 0, 0, 0], w, bias, 0, 1)).toThrow(TypeError);
    expect(call('scalar', 2, 3, 3, new Float64Array(6), w, bias, 0, 1)).toThrow(TypeError);
    expect(call('scalar', 2, 3, 3, a, w, 'bias', 0, 1)).toThrow(TypeError);
    expect(call('scalar', 2, 3, 3, a, w)).toThrow(TypeError);
  });

  test('bad sizes and bounds throw', () => {
    expect(call('scalar', -2, 3, 3, a, w, bias, 0, 1)).toThrow(RangeError);
    expect(call('scalar', 0, 3, 3, a, w, bias, 0, 1)).toThrow(RangeError);
    expect(call('scalar', 2, 3, 1.5, a, w, bias, 0, 1)).toThrow(TypeError);
    expect(call('scalar', 2, '3', 3, a, w, bias, 0, 1)).toThrow(TypeError);
    expect(call('scalar', 2 ** 40, 3, 3, a, w, bias, 0, 1)).toThrow(RangeError);
    expect(call('scalar', 2, 3, 3, a, w, bias, 1, 0)).toThrow(RangeError);
    expect(call('scalar', 2, 3, 3, a, w, bias, NaN, 0)).toThrow(RangeError);
  });

  test('unknown ISA names throw and name the function', () => {
    expect(call('sse9', 2, 3, 3, a, w, bias, 0, 1)).toThrow(RangeError);
    expect(call(3, 2, 3, 3, a, w, bias, 0, 1)).toThrow(TypeError);
    expect(call('sse9', 2, 3, 3, a, w, bias, 0, 1)).toThrow(/f32Gemm/);
    expect(() => kernels.names('sse9' as IsaName)).toThrow(RangeError);
  });

  test.skipIf(detected === LEVELS.length - 1)('levels above the CPU throw "not supported by this CPU"', () => {
    expect(call(LEVELS[detected + 1], 2, 3, 3, a, w, bias, 0, 1)).toThrow(/not supported by this CPU/);
  });
});
