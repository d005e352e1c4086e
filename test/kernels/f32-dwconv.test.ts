// f32-dwconv: every ISA level the CPU supports against a naive double-precision reference (NHWC, zero padding,
// strides 1-3, kernels 1x1 to 5x5, channel tails), plus clamping and argument validation of _f32Kernels.f32Dwconv.
import { describe, expect, test } from 'vitest';
import type { DwconvShape, IsaName } from '../../src/native.js';
import { detected, f32Kernels, LEVELS, rng } from '../support/native.js';

const kernels = f32Kernels();

const randomArray = (length: number, next: () => number) => Float32Array.from({ length }, () => 2 * next() - 1);
const randomInt = (next: () => number, lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1));

// A shape with ONNX-style output size: pads below the kernel size on every side.
function makeShape(channels: number, inH: number, inW: number, kernelH: number, kernelW: number, strideH: number,
                   strideW: number, pads: [number, number, number, number]): DwconvShape {
  const [padTop, padLeft, padBottom, padRight] = pads;
  return {
    channels, inH, inW, kernelH, kernelW, strideH, strideW, padTop, padLeft,
    outH: Math.floor((inH + padTop + padBottom - kernelH) / strideH) + 1,
    outW: Math.floor((inW + padLeft + padRight - kernelW) / strideW) + 1,
  };
}

interface Case {
  shape: DwconvShape;
  input: Float32Array;
  weights: Float32Array;
  bias: Float32Array | null;
  min: number;
  max: number;
}

function makeCase(shape: DwconvShape, next: () => number, opts: Partial<Case> = {}): Case {
  const { channels, inH, inW, kernelH, kernelW } = shape;
  return {
    shape,
    input: randomArray(inH * inW * channels, next),
    weights: randomArray(channels * kernelH * kernelW, next),
    bias: randomArray(channels, next),
    min: -Infinity,
    max: Infinity,
    ...opts,
  };
}

// Returns the first mismatch as a string, or null: |got - ref| <= 1e-5 * (|bias| + sum |x*w|).
function compareWithReference(c: Case, got: Float32Array): string | null {
  const s = c.shape;
  if (got.length !== s.outH * s.outW * s.channels) return `length ${got.length}`;
  for (let oy = 0; oy < s.outH; oy++) {
    for (let ox = 0; ox < s.outW; ox++) {
      for (let ch = 0; ch < s.channels; ch++) {
        let ref = c.bias ? c.bias[ch] : 0;
        let mag = Math.abs(ref);
        for (let ky = 0; ky < s.kernelH; ky++) {
          const iy = oy * s.strideH + ky - s.padTop;
          if (iy < 0 || iy >= s.inH) continue;
          for (let kx = 0; kx < s.kernelW; kx++) {
            const ix = ox * s.strideW + kx - s.padLeft;
            if (ix < 0 || ix >= s.inW) continue;
            const t = c.input[(iy * s.inW + ix) * s.channels + ch] * c.weights[(ch * s.kernelH + ky) * s.kernelW + kx];
            ref += t;
            mag += Math.abs(t);
          }
        }
        ref = Math.min(Math.max(ref, c.min), c.max);
        const value = got[(oy * s.outW + ox) * s.channels + ch];
        if (!(Math.abs(value - ref) <= 1e-5 * mag + 1e-30)) {
          return `${JSON.stringify(s)} at (${oy}, ${ox}, ${ch}): got ${value}, reference ${ref}`;
        }
      }
    }
  }
  return null;
}

const run = (isa: IsaName, c: Case) => kernels.f32Dwconv(isa, c.shape, c.input, c.weights, c.bias, c.min, c.max);

for (const [level, isa] of LEVELS.entries()) {
  describe.skipIf(level > detected)(`f32-dwconv ${isa}`, () => {
    test('reports its kernel name', () => {
      expect(kernels.names(isa).dwconv).toMatch(/^f32_dwconv_c\d+__(scalar|avx2|avx512)$/);
    });

    test('3x3 and 5x5, strides 1 and 2, same padding, channel tails', () => {
      const next = rng(41 + level);
      for (const channels of [1, 3, 4, 7, 8, 9, 15, 16, 17, 31, 33, 64, 72, 100]) {
        for (const [kernel, stride] of [[3, 1], [3, 2], [5, 1], [5, 2]]) {
          const pad = kernel >> 1;
          const c = makeCase(makeShape(channels, 8, 11, kernel, kernel, stride, stride, [pad, pad, pad, pad]), next);
          expect(compareWithReference(c, run(isa, c))).toBeNull();
        }
      }
    });

    test('random shapes: rectangular kernels, asymmetric pads, stride 3, tiny images', () => {
      const next = rng(7 + level);
      for (let i = 0; i < 150; i++) {
        const kernelH = randomInt(next, 1, 5);
        const kernelW = i % 3 === 0 ? randomInt(next, 1, 5) : kernelH;
        const strideH = randomInt(next, 1, 2);
        const strideW = i % 4 === 0 ? randomInt(next, 1, 3) : strideH;
        const pads: [number, number, number, number] = [
          randomInt(next, 0, kernelH - 1), randomInt(next, 0, kernelW - 1),
          randomInt(next, 0, kernelH - 1), randomInt(next, 0, kernelW - 1),
        ];
        const inH = randomInt(next, 1, 10);
        const inW = randomInt(next, 1, 10);
        if (inH + pads[0] + pads[2] < kernelH || inW + pads[1] + pads[3] < kernelW) continue;
        const shape = makeShape(randomInt(next, 1, 40), inH, inW, kernelH, kernelW, strideH, strideW, pads);
        const c = makeCase(shape, next, i % 5 === 0 ? { bias: null } : {});
        expect(compareWithReference(c, run(isa, c))).toBeNull();
      }
    });

    test('clamps to [min, max]', () => {
      const next = rng(3);
      for (const [min, max] of [[0, 6], [-0.5, 0.75], [0.25, 0.25]] as const) {
        const c = makeCase(makeShape(37, 6, 5, 3, 3, 1, 1, [1, 1, 1, 1]), next, { min, max });
        const got = run(isa, c);
        expect(compareWithReference(c, got)).toBeNull();
        expect(got.every((v) => v >= min && v <= max)).toBe(true);
      }
    });
  });
}

describe('f32-dwconv argument checks', () => {
  const shape = makeShape(3, 4, 4, 3, 3, 1, 1, [1, 1, 1, 1]);
  const input = new Float32Array(4 * 4 * 3);
  const weights = new Float32Array(3 * 9);
  const bias = new Float32Array(3);
  const call = (...args: unknown[]) => () => (kernels.f32Dwconv as (...x: unknown[]) => unknown)(...args);

  test('valid call returns outH*outW*channels values', () => {
    expect(call('scalar', shape, input, weights, bias, 0, 6)()).toHaveLength(4 * 4 * 3);
    expect(call('scalar', shape, input, weights, null, 0, 6)()).toHaveLength(4 * 4 * 3);
  });

  test('wrong lengths throw RangeError', () => {
    expect(call('scalar', shape, new Float32Array(47), weights, bias, 0, 6)).toThrow(RangeError);
    expect(call('scalar', shape, input, new Float32Array(28), bias, 0, 6)).toThrow(RangeError);
    expect(call('scalar', shape, input, weights, new Float32Array(4), 0, 6)).toThrow(RangeError);
  });

  test('wrong types throw TypeError', () => {
    expect(call('scalar', 'shape', input, weights, bias, 0, 6)).toThrow(TypeError);
    expect(call('scalar', { ...shape, padLeft: undefined, inH: 4 }, input, weights, bias, 0, 6)).toThrow(TypeError);
    const { channels: _drop, ...noChannels } = shape;
    expect(call('scalar', noChannels, input, weights, bias, 0, 6)).toThrow(/channels/);
    expect(call('scalar', shape, Array.from(input), weights, bias, 0, 6)).toThrow(TypeError);
    expect(call('scalar', shape, input, new Float64Array(27), bias, 0, 6)).toThrow(TypeError);
    expect(call('scalar', shape, input, weights, bias, 0)).toThrow(TypeError);
  });

  test('bad sizes throw RangeError', () => {
    expect(call('scalar', { ...shape, strideH: 0 }, input, weights, bias, 0, 6)).toThrow(RangeError);
    expect(call('scalar', { ...shape, channels: -3 }, input, weights, bias, 0, 6)).toThrow(RangeError);
    expect(call('scalar', { ...shape, padTop: 3 }, input, weights, bias, 0, 6)).toThrow(RangeError);
    expect(call('scalar', { ...shape, outH: 9 }, input, weights, bias, 0, 6)).toThrow(RangeError);
    expect(call('scalar', shape, input, weights, bias, 6, 0)).toThrow(RangeError);
    expect(call('avx3', shape, input, weights, bias, 0, 6)).toThrow(/f32Dwconv/);
  });

  test.skipIf(detected === LEVELS.length - 1)('levels above the CPU throw "not supported by this CPU"', () => {
    expect(call(LEVELS[detected + 1], shape, input, weights, bias, 0, 6)).toThrow(/not supported by this CPU/);
  });
});
