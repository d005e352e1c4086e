// qu8-qs8-dwconv: every ISA level the CPU supports against the scalar kernel, bit for bit, and the scalar kernel
// against a JavaScript reference (acc = sum over taps inside the image of w * (x - z), then requant_code with an
// exact fmaf emulation); 3x3 and 5x5 (interior fast paths) and other kernels, strides 1 and 2, padding, channel
// tails, zero points and clamps; plus argument validation of _qu8Kernels.qdwconv.
import { describe, expect, test } from 'vitest';

import type { IsaName, QDwconvShape } from '../../src/native.js';
import { detected, LEVELS, qu8Kernels, rng } from '../support/native.js';
import { requantCode, roundHalfEven } from '../support/requant.js';

const q = qu8Kernels();

const randInt = (next: () => number, lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1));

// ---- Reference (quantization.md, Operators; requantCode: test/support/requant.ts) ------------------------------

interface Case {
  shape: QDwconvShape; input: Uint8Array; zero: number; weights: Int8Array;
  multiplier: Float32Array; bias: Float32Array; min: number; max: number;
}

function reference(c: Case): Uint8Array {
  const s = c.shape;
  const C = s.channels;
  const out = new Uint8Array(s.outH * s.outW * C);
  for (let oy = 0; oy < s.outH; oy++) {
    for (let ox = 0; ox < s.outW; ox++) {
      for (let ch = 0; ch < C; ch++) {
        let acc = 0;
        for (let ky = 0; ky < s.kernelH; ky++) {
          const iy = oy * s.strideH - s.padTop + ky;
          if (iy < 0 || iy >= s.inH) continue;
          for (let kx = 0; kx < s.kernelW; kx++) {
            const ix = ox * s.strideW - s.padLeft + kx;
            if (ix < 0 || ix >= s.inW) continue;
            acc += c.weights[(ch * s.kernelH + ky) * s.kernelW + kx] * (c.input[(iy * s.inW + ix) * C + ch] - c.zero);
          }
        }
        out[(oy * s.outW + ox) * C + ch] = requantCode(acc, c.multiplier[ch], c.bias[ch], c.min, c.max);
      }
    }
  }
  return out;
}

// A valid ONNX-like shape: output size from pads (top/left given, bottom/right < kernel) with every window
// overlapping the image.
function makeShape(channels: number, inH: number, inW: number, k: [number, number], stride: [number, number], pads: [number, number, number, number]): QDwconvShape {
  const [kh, kw] = k;
  const [sh, sw] = stride;
  const [pt, pl, pb, pr] = pads;
  inH = Math.max(inH, kh - pt - pb);
  inW = Math.max(inW, kw - pl - pr);
  let outH = Math.floor((inH + pt + pb - kh) / sh) + 1;
  let outW = Math.floor((inW + pl + pr - kw) / sw) + 1;
  while (outH > 1 && (outH - 1) * sh >= inH + pt) outH--;
  while (outW > 1 && (outW - 1) * sw >= inW + pl) outW--;
  return { channels, inH, inW, outH, outW, kernelH: kh, kernelW: kw, strideH: sh, strideW: sw, padTop: pt, padLeft: pl };
}

function makeCase(shape: QDwconvShape, next: () => number, wbits: number, opts: { zero?: number; relu6?: boolean } = {}): Case {
  const qmax = 2 ** (wbits - 1) - 1;
  const taps = shape.kernelH * shape.kernelW;
  const zero = opts.zero ?? 0;
  const zOut = randInt(next, 0, 30);
  const multiplier = Float32Array.from({ length: shape.channels }, () => (40 + 80 * next()) / (qmax * 128 * Math.sqrt(taps) + 1));
  const bias = Float32Array.from({ length: shape.channels }, () => zOut + 60 * (next() - 0.3));
  return {
    shape,
    input: Uint8Array.from({ length: shape.inH * shape.inW * shape.channels }, () => randInt(next, 0, 255)),
    zero,
    weights: Int8Array.from({ length: shape.channels * taps }, () => randInt(next, -qmax, qmax)),
    multiplier, bias,
    min: zOut, max: opts.relu6 ? Math.min(255, zOut + randInt(next, 30, 200)) : 255,
  };
}

function run(isa: IsaName, c: Case): Uint8Array {
  return q.qdwconv(isa, c.shape, c.input, c.zero, c.weights, c.multiplier, c.bias, c.min, c.max);
}

function firstMismatch(c: Case, got: Uint8Array, want: Uint8Array, label: string): string | null {
  if (got.length !== want.length) return `${label}: length ${got.length}, want ${want.length}`;
  for (let i = 0; i < got.length; i++) {
    if (got[i] !== want[i]) {
      const C = c.shape.channels;
      return `${label} ${JSON.stringify(c.shape)} zero=${c.zero} at pixel ${Math.floor(i / C)} channel ${i % C}: got ${got[i]}, want ${want[i]}`;
    }
  }
  return null;
}

function cases(seed: number): Case[] {
  const next = rng(seed);
  const out: Case[] = [];
  const channelCounts = [1, 3, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 40, 64, 67];
  const kernels: [number, number][] = [[3, 3], [5, 5], [1, 1], [3, 5], [2, 2], [7, 7]];
  let i = 0;
  for (const k of kernels) {
    for (const stride of [[1, 1], [2, 2], [1, 2], [3, 3]] as [number, number][]) {
      for (let r = 0; r < 5; r++, i++) {
        const channels = channelCounts[(i * 5 + r) % channelCounts.length];
        const inH = randInt(next, 1, 13);
        const inW = randInt(next, 1, 17);
        const pads: [number, number, number, number] = [randInt(next, 0, k[0] - 1), randInt(next, 0, k[1] - 1), randInt(next, 0, k[0] - 1), randInt(next, 0, k[1] - 1)];
        const shape = makeShape(channels, inH, inW, k, stride, pads);
        out.push(makeCase(shape, next, 2 + (i % 7), { zero: i % 3 === 0 ? 0 : randInt(next, 1, 255), relu6: i % 4 === 1 }));
      }
    }
  }
  // MobileNet-like layers: "same" padding, wide rows (long interior runs), stride 1 and 2.
  for (const [k, s] of [[3, 1], [3, 2], [5, 1], [5, 2]]) {
    const p = (k - 1) / 2;
    out.push(makeCase(makeShape(40, 14, 23, [k, k], [s, s], [p, p, p, p]), next, 8, { zero: 0 }));
    out.push(makeCase(makeShape(19, 9, 30, [k, k], [s, s], [p, p, p, p]), next, 4, { zero: 128, relu6: true }));
  }
  return out;
}

const allCases = cases(4321);

describe('qu8-qs8-dwconv scalar reference', () => {
  test('matches the JavaScript reference of the formula', () => {
    for (const c of allCases) expect(firstMismatch(c, run('scalar', c), reference(c), 'scalar')).toBeNull();
  });

  test('rounds ties to even after one fused multiply-add', () => {
    // 1x1 kernel, weight 1, zero point 0: acc = x; y = x * 0.5 ties at odd x.
    const shape = makeShape(64, 1, 4, [1, 1], [1, 1], [0, 0, 0, 0]);
    const input = Uint8Array.from({ length: 256 }, (_, i) => i);
    const c: Case = {
      shape, input, zero: 0, weights: new Int8Array(64).fill(1),
      multiplier: new Float32Array(64).fill(0.5), bias: new Float32Array(64), min: 0, max: 255,
    };
    const got = run('scalar', c);
    expect(Array.from(got)).toEqual(Array.from(input, (x) => roundHalfEven(x / 2)));
    expect(Array.from(got.slice(0, 6))).toEqual([0, 0, 1, 2, 2, 2]);
  });
});

for (const [level, isa] of LEVELS.entries()) {
  describe.skipIf(level > detected)(`qu8-qs8-dwconv ${isa}`, () => {
    test('reports its kernel name', () => {
      expect(q.names(isa).dwconv).toMatch(new RegExp(`^qu8_qs8_dwconv_c\\d+__${isa}$`));
    });

    test('equals the scalar kernel bit for bit (kernels, strides, padding, channel tails, zero points)', () => {
      for (const c of allCases) expect(firstMismatch(c, run(isa, c), run('scalar', c), isa)).toBeNull();
    });

    test('padding contributes nothing whatever the zero point', () => {
      // An all-zero-point image gives acc = 0 everywhere, padded or not: every output is the rounded bias.
      const next = rng(9 + level);
      const shape = makeShape(21, 5, 6, [3, 3], [2, 2], [1, 1, 1, 1]);
      const c = makeCase(shape, next, 8, { zero: 77 });
      c.input.fill(77);
      const want = new Uint8Array(shape.outH * shape.outW * 21);
      for (let i = 0; i < want.length; i++) want[i] = roundHalfEven(Math.min(Math.max(c.bias[i % 21], c.min), c.max));
      expect(Array.from(run(isa, c))).toEqual(Array.from(want));
    });
  });
}

describe('qu8-qs8-dwconv argument checks', () => {
  const shape = makeShape(3, 4, 4, [3, 3], [1, 1], [1, 1, 1, 1]);
  const input = new Uint8Array(48);
  const weights = new Int8Array(27);
  const f = new Float32Array(3);
  const good: unknown[] = ['scalar', shape, input, 0, weights, f, f, 0, 255];
  const withArg = (index: number, value: unknown) => good.map((v, i) => (i === index ? value : v));
  const call = (...args: unknown[]) => () => (q.qdwconv as (...x: unknown[]) => unknown)(...args);

  test('a valid call returns outH*outW*channels codes', () => {
    expect(call(...good)()).toHaveLength(shape.outH * shape.outW * 3);
  });

  test('bad shapes, lengths and values throw RangeError', () => {
    expect(call(...withArg(1, { ...shape, padTop: 3 }))).toThrow(RangeError);
    expect(call(...withArg(1, { ...shape, outH: 9 }))).toThrow(/outH/);
    expect(call(...withArg(1, { ...shape, channels: 0 }))).toThrow(RangeError);
    expect(call(...withArg(2, new Uint8Array(47)))).toThrow(RangeError);
    expect(call(...withArg(4, new Int8Array(26)))).toThrow(RangeError);
    expect(call(...withArg(5, new Float32Array(4)))).toThrow(/multiplier/);
    expect(call(...withArg(3, 256))).toThrow(RangeError);
    expect(call(...withArg(3, -1))).toThrow(RangeError);
    expect(call(...withArg(7, 300))).toThrow(RangeError);
    expect(call(...withArg(8, 256))).toThrow(RangeError);
    expect(call('scalar', shape, input, 0, weights, f, f, 9, 8)).toThrow(/min must not exceed max/);
  });

  test('wrong types throw TypeError', () => {
    expect(call(...withArg(1, null))).toThrow(TypeError);
    expect(call(...withArg(1, { ...shape, kernelH: undefined }))).toThrow(TypeError);
    expect(call(...withArg(2, new Int8Array(48)))).toThrow(TypeError);
    expect(call(...withArg(4, new Uint8Array(27)))).toThrow(TypeError);
    expect(call(...withArg(3, 0.5))).toThrow(TypeError);
    expect(call(...withArg(0, 2))).toThrow(TypeError);
    expect(call('scalar', shape, input)).toThrow(TypeError);
  });

  test.skipIf(detected === LEVELS.length - 1)('levels above the CPU throw "not supported by this CPU"', () => {
    expect(call(...withArg(0, LEVELS[detected + 1]))).toThrow(/not supported by this CPU/);
  });
});
