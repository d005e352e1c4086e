// The integer engine (its optimised executor on every ISA level this CPU has, and its plain reference executor)
// against the independent reference of quantization.md (int-semantics.ts), operator by operator, on crafted layers
// whose values land on rounding ties and saturate; the expected codes of the crafted cases are also written out by
// hand, so a change of the reference itself shows up as well.
import { afterAll, describe, expect, test } from 'vitest';
import { addon, setIsaCap, supportedIsas, type IntPlanOp, type IntPlanSpec, type NativeGrid } from '../../src/native.js';
import { rng } from '../support/native.js';
import { fmaF32, roundHalfEven } from '../support/requant.js';
import { runReference } from './int-semantics.js';

const f = Math.fround;
afterAll(() => setIsaCap(supportedIsas().at(-1)!));

type Layer = Extract<IntPlanOp, { op: 'conv' | 'gemm' }>;
type Conv = Extract<IntPlanOp, { op: 'conv' }>;

/** A layer's float input or carrier codes read on the grid (scale, zero) at `bits`. */
const grid = (scale: number, zero: number, bits = 8) => ({ scale, zero, bits });

/**
 * A 1x1 depthwise conv, weight code 1 and scale 1 per channel (`extra` overrides any field): reading integers x on
 * INPUT_GRID onto a carrier of scale 1, it writes the codes x + z_out.
 */
function copyConv(channels: number, input: number, output: number, inputGrid: NativeGrid & { bits: number }, extra: Partial<Conv> = {}): Conv {
  return {
    op: 'conv', inputs: [input], output, weight: new Int8Array(channels).fill(1), wbits: 2, weightScales: new Float32Array(channels).fill(1),
    bias: null, outChannels: channels, kernel: [1, 1], strides: [1, 1], pads: [0, 0, 0, 0], group: channels, inputGrid, ...extra,
  };
}

/**
 * The last layer, reading value `input` ([n] values) on its own carrier grid `g`: logits = s(q - z), so the codes of
 * the value are visible exactly in the logits.
 */
function probe(n: number, input: number, output: number, g: NativeGrid): Layer {
  const weight = new Int8Array(n * n);
  for (let i = 0; i < n; i++) weight[i * n + i] = 1;
  return { op: 'gemm', inputs: [input], output, weight, wbits: 2, weightScales: new Float32Array(n).fill(1), bias: null, outFeatures: n, inputGrid: { ...g, bits: 8 } };
}

/** A network of `ops` over values with `grids`, ending in flatten and a probe that reads value `read` ([n] codes on g). */
function probed(input: [number, number, number], grids: (NativeGrid | null)[], ops: IntPlanOp[], read: number, n: number, g: NativeGrid): IntPlanSpec {
  const flat = grids.length;
  const logits = flat + 1;
  return { input, values: logits + 1, output: logits, grids: [...grids, g, null], ops: [...ops, { op: 'flatten', inputs: [read], output: flat }, probe(n, flat, logits, g)] };
}

/** The codes a probe of grid g reads back from its logits. */
const codesOf = (logits: Float32Array, g: NativeGrid) => Array.from(logits, (y) => Math.round(y / f(g.scale)) + g.zero);

/** The spec's logits from the engine's executor at each supported ISA level and from its reference executor; all must agree with ours. */
async function runEverywhere(spec: IntPlanSpec, images: Float32Array, batch: number): Promise<Float32Array> {
  const ours = runReference(spec, images, batch);
  for (const isa of supportedIsas()) {
    setIsaCap(isa);
    const plan = new (addon().IntPlan)(spec);
    for (const threads of [1, 2]) expect(await plan.run(images, batch, threads), `${isa}, ${threads} threads`).toEqual(ours);
    expect(await plan._runReference(images, batch), 'the engine reference executor').toEqual(ours);
  }
  return ours;
}

describe('input quantization', () => {
  test('the float input lands on the first layer grid with ties to even and saturation at both ends', async () => {
    const g = grid(0.5, 3, 4);
    const x = Float32Array.from([0.25, 0.75, -0.25, -0.75, 1.25, 100, -100, 5.5]);
    const spec: IntPlanSpec = { input: [8, 1, 1], values: 2, output: 1, grids: [null, null], ops: [{ ...probe(8, 0, 1, g), inputGrid: g }] };
    const logits = await runEverywhere(spec, x, 1);
    // x / 0.5 = 0.5, 1.5, -0.5, -1.5, 2.5 round to 0, 2, 0, -2, 2; +3 then [0, 15].
    expect(codesOf(logits, g)).toEqual([3, 5, 3, 1, 5, 15, 0, 14]);
  });
});

/** Input [1,1,n] integers x read on {1, 128}: a conv's accumulator is x times its weight code. */
const INPUT_GRID = grid(1, 128);

describe('conv requantization', () => {
  const x = Float32Array.from([1, 3, 5, -1, -3, 127, -128, 0]);
  function convSpec(out: NativeGrid, extra: Partial<Conv>): IntPlanSpec {
    return probed([1, 1, 8], [null, out], [copyConv(1, 0, 1, INPUT_GRID, extra)], 1, 8, out);
  }

  test('y = fma(acc, m, b) rounds ties to even and saturates to [0, 255]', async () => {
    const out = { scale: 2, zero: 10 };
    const plain = await runEverywhere(convSpec(out, {}), x, 1);
    // y = x / 2 + 10: 10.5, 11.5, 12.5, 9.5, 8.5, 73.5, -54, 10.
    expect(codesOf(plain, out)).toEqual([10, 12, 12, 10, 8, 74, 0, 10]);
    const scaled = await runEverywhere(convSpec(out, { weight: Int8Array.from([127]), wbits: 8, bias: Float32Array.from([-3]) }), x, 1);
    // y = 63.5 x - 1.5 + 10: 72, 199, 326, -55, ..., 8.5.
    expect(codesOf(scaled, out)).toEqual([72, 199, 255, 0, 0, 255, 0, 8]);
  });

  test('m = s_a * s_w / s_out is rounded to float32 once: a witness where rounding s_a * s_w first changes a code', async () => {
    // Rounding twice moves m by at most one ulp, so the witness is searched for: scales where the two multipliers
    // differ and an accumulator 127 k whose y = acc * m straddles a half between them.
    const next = rng(22);
    const codeOf = (acc: number, m: number) => roundHalfEven(fmaF32(acc, m, 0));
    let witness: { sa: number; sw: number; sout: number; k: number } | undefined;
    while (!witness) {
      const sa = f(0.5 + next() / 2);
      const sw = f(0.5 + next() / 2);
      const sout = f((sa * sw * 16129) / (100 + 150 * next()));
      const once = f((sa * sw) / sout);
      const twice = f(f(sa * sw) / sout);
      if (once === twice) continue;
      for (let k = 1; k <= 127 && !witness; k++) if (codeOf(127 * k, once) !== codeOf(127 * k, twice)) witness = { sa, sw, sout, k };
    }
    const { sa, sw, sout, k } = witness;
    const out = { scale: sout, zero: 0 };
    // Inputs k s_a read on {s_a, 128}: codes k + 128, accumulators 127 k.
    const ks = [k, 1, 2, 50, 100, 126, 127, k];
    const spec = probed([1, 1, 8], [null, out], [copyConv(1, 0, 1, grid(sa, 128), { weight: Int8Array.from([127]), wbits: 8, weightScales: Float32Array.from([sw]) })], 1, 8, out);
    const codes = codesOf(await runEverywhere(spec, Float32Array.from(ks, (v) => f(v * sa)), 1), out);
    expect(codes).toEqual(ks.map((v) => codeOf(127 * v, f((sa * sw) / sout))));
    expect(codes[0]).not.toBe(codeOf(127 * k, f(f(sa * sw) / sout)));
  });

  test('a fused ReLU clamps at z_out, a fused Clip at z_out + round(bound / s_out), ties to even', async () => {
    const out = { scale: 2, zero: 10 };
    const relu = await runEverywhere(convSpec(out, { clamp: [0, Infinity] }), x, 1);
    expect(codesOf(relu, out)).toEqual([10, 12, 12, 10, 10, 74, 10, 10]);
    // m = 0.5 again (weight scale 0.5, s_out 1): y = x / 2 + 10; Clip(-0.5, 2.5) bounds the codes to [10, 12].
    const unit = { scale: 1, zero: 10 };
    const clip = await runEverywhere(convSpec(unit, { weightScales: Float32Array.from([0.5]), clamp: [-0.5, 2.5] }), Float32Array.from([7, 5, -3, -1, 1, 3, 2, 4]), 1);
    expect(codesOf(clip, unit)).toEqual([12, 12, 10, 10, 10, 12, 11, 12]);
    // ReLU6 at s_out = 12: the upper bound z + round(0.5) = z.
    const coarse = { scale: 12, zero: 3 };
    const relu6 = await runEverywhere(convSpec(coarse, { clamp: [0, 6] }), Float32Array.from([24, 12, 5, 7, 0, -30, 127, 6]), 1);
    expect(codesOf(relu6, coarse)).toEqual([3, 3, 3, 3, 3, 3, 3, 3]);
  });

  test('padding reads the code of real zero: padded taps add nothing', async () => {
    // Input [1,3,3] on {1, 7, 4 bits}: codes x + 7; a 3x3 conv of ones, pad 1, onto {1, 128}: code = 128 + the sum of x over the taps inside.
    const g = grid(1, 7, 4);
    const out = { scale: 1, zero: 128 };
    const conv: Conv = { ...copyConv(1, 0, 1, g), weight: new Int8Array(9).fill(1), kernel: [3, 3], pads: [1, 1, 1, 1], group: 1 };
    const spec = probed([1, 3, 3], [null, out], [conv], 1, 9, out);
    const logits = await runEverywhere(spec, Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, -7]), 1);
    expect(codesOf(logits, out).map((q) => q - 128)).toEqual([12, 21, 16, 27, 29, 17, 24, 23, 12]);
  });
});

describe('a layer reading a carrier on its own grid', () => {
  test('carrier codes convert through their real value with ties to even and saturation', async () => {
    // Carrier {1, 10}: codes x + 10; the last layer reads them at 3 bits on {2, 1}: round((q - 10) / 2) + 1 in [0, 7].
    const carrier = { scale: 1, zero: 10 };
    const layerGrid = grid(2, 1, 3);
    const last = { ...probe(8, 1, 2, carrier), inputGrid: layerGrid };
    const spec: IntPlanSpec = { input: [8, 1, 1], values: 3, output: 2, grids: [null, carrier, null], ops: [copyConv(8, 0, 1, INPUT_GRID), last] };
    const logits = await runEverywhere(spec, Float32Array.from([1, 3, 5, -1, -3, 20, -10, 4]), 1);
    expect(codesOf(logits, layerGrid)).toEqual([1, 3, 3, 1, 0, 7, 0, 3]);
  });
});

describe('residual add', () => {
  // v1 = x on {1, 20}, v2 = x on {0.5, 100}; their sum 2x lands on {4, z}: y = x / 2 + z.
  const v1 = { scale: 1, zero: 20 };
  const v2 = { scale: 0.5, zero: 100 };
  const x = Float32Array.from([1, 3, 5, -1, -3, 40, -40, 6]);
  function addSpec(out: NativeGrid, clamp?: [number, number], pooled = false): IntPlanSpec {
    const ops: IntPlanOp[] = [copyConv(8, 0, 1, INPUT_GRID), copyConv(8, 0, 2, INPUT_GRID)];
    let first = 1;
    // Through a 1x1 max pool the add no longer follows a conv directly (no fusion into the conv's epilogue).
    if (pooled) ops.push({ op: 'maxpool', inputs: [1], output: (first = 5), kernel: [1, 1], strides: [1, 1], pads: [0, 0, 0, 0] });
    ops.push({ op: 'add', inputs: [first, 2], output: 3, ...(clamp ? { clamp } : {}) }, probe(8, 3, 4, out));
    return { input: [8, 1, 1], values: pooled ? 6 : 5, output: 4, grids: [null, v1, v2, out, null, v1].slice(0, pooled ? 6 : 5), ops };
  }

  test.each([false, true])('ties to even and saturation (after a pool: %s)', async (pooled) => {
    const out = { scale: 4, zero: 7 };
    expect(codesOf(await runEverywhere(addSpec(out, undefined, pooled), x, 1), out)).toEqual([8, 8, 10, 6, 6, 27, 0, 10]);
    const high = { scale: 4, zero: 250 };
    expect(codesOf(await runEverywhere(addSpec(high, undefined, pooled), x, 1), high)).toEqual([250, 252, 252, 250, 248, 255, 235, 253]);
    const relu = await runEverywhere(addSpec(out, [0, Infinity], pooled), x, 1);
    expect(codesOf(relu, out)).toEqual([8, 8, 10, 7, 7, 27, 7, 10]);
  });
});

describe('pooling on codes', () => {
  const carrier = { scale: 1, zero: 5 };
  /** Input [1,4,4] codes c (carrier {1, 5}), a pool, a probe of its n outputs. */
  function poolSpec(pool: IntPlanOp, n: number): IntPlanSpec {
    return probed([1, 4, 4], [null, carrier, carrier], [copyConv(1, 0, 1, INPUT_GRID), pool], 2, n, carrier);
  }
  const codes = [1, 1, 3, 3, 0, 0, 2, 2, 5, 5, 7, 7, 5, 6, 7, 8];
  const x = Float32Array.from(codes, (c) => c - 5);

  test('average pool: the sum of codes over the divisor, ties to even', async () => {
    const logits = await runEverywhere(poolSpec({ op: 'avgpool', inputs: [1], output: 2, kernel: [2, 2], strides: [2, 2], pads: [0, 0, 0, 0], countIncludePad: false }, 4), x, 1);
    // Window sums 2, 10, 21, 29: 0.5 -> 0, 2.5 -> 2, 5.25 -> 5, 7.25 -> 7.
    expect(codesOf(logits, carrier)).toEqual([0, 2, 5, 7]);
  });

  test.each([true, false])('average pool with padding (count_include_pad %s): padded taps hold the code z', async (include) => {
    const pool: IntPlanOp = { op: 'avgpool', inputs: [1], output: 2, kernel: [2, 2], strides: [2, 2], pads: [1, 1, 1, 1], countIncludePad: include };
    const logits = await runEverywhere(poolSpec(pool, 9), x, 1);
    // Windows (3x3 outputs): corners hold 1 real tap, edges 2, the centre 4.
    const expected = include
      ? [(1 + 15) / 4, (1 + 3 + 10) / 4, (3 + 15) / 4, (0 + 5 + 10) / 4, (0 + 2 + 5 + 7) / 4, (2 + 7 + 10) / 4, (5 + 15) / 4, (6 + 7 + 10) / 4, (8 + 15) / 4]
      : [1, (1 + 3) / 2, 3, (0 + 5) / 2, (0 + 2 + 5 + 7) / 4, (2 + 7) / 2, 5, (6 + 7) / 2, 8];
    const even = (v: number) => (Math.abs(v - Math.floor(v) - 0.5) < 1e-9 ? Math.floor(v) + (Math.floor(v) % 2) : Math.round(v));
    expect(codesOf(logits, carrier)).toEqual(expected.map(even));
  });

  test('global average pool: ties to even', async () => {
    const logits = await runEverywhere(poolSpec({ op: 'globalavgpool', inputs: [1], output: 2 }, 1), Float32Array.from({ length: 16 }, (_, i) => (i === 0 ? 8 : 0) - 5), 1);
    // Sum 8 over 16 codes: 0.5 -> 0.
    expect(codesOf(logits, carrier)).toEqual([0]);
    const other = await runEverywhere(poolSpec({ op: 'globalavgpool', inputs: [1], output: 2 }, 1), Float32Array.from({ length: 16 }, (_, i) => (i < 8 ? 3 : 0) - 5), 1);
    // Sum 24 over 16: 1.5 -> 2.
    expect(codesOf(other, carrier)).toEqual([2]);
  });

  test('max pool ignores padding, even where every real code is below z', async () => {
    const low = Float32Array.from([0, 1, 4, 2, 3, 0, 1, 1, 2, 4, 0, 0, 9, 9, 9, 9], (c) => c - 5);
    const logits = await runEverywhere(poolSpec({ op: 'maxpool', inputs: [1], output: 2, kernel: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }, 4), low, 1);
    expect(codesOf(logits, carrier)).toEqual([3, 4, 9, 9]);
  });

  test('a standalone clamp bounds the codes at z + round(bound / s), ties to even', async () => {
    const clamp: IntPlanOp = { op: 'clamp', inputs: [1], output: 2, clamp: [-0.5, 2.5] };
    const logits = await runEverywhere(poolSpec(clamp, 16), x, 1);
    expect(codesOf(logits, carrier)).toEqual(codes.map((c) => Math.min(Math.max(c, 5), 7)));
  });
});

describe('whole networks of random layers', () => {
  function randomGrid(next: () => number): NativeGrid {
    return { scale: f(0.01 + next() * 0.1), zero: Math.floor(next() * 256) };
  }
  function randomLayer(next: () => number, fields: Omit<Conv, 'weight' | 'wbits' | 'weightScales' | 'bias' | 'inputGrid'> | Omit<Extract<Layer, { op: 'gemm' }>, 'weight' | 'wbits' | 'weightScales' | 'bias' | 'inputGrid'>, weights: number, channels: number): Layer {
    const wbits = 2 + Math.floor(next() * 7);
    const max = 2 ** (wbits - 1) - 1;
    const abits = 2 + Math.floor(next() * 7);
    return {
      ...fields,
      weight: Int8Array.from({ length: weights }, () => Math.round((next() * 2 - 1) * max)),
      wbits,
      weightScales: Float32Array.from({ length: channels }, () => 0.005 + next() * 0.05),
      bias: Float32Array.from({ length: channels }, () => next() - 0.5),
      inputGrid: { ...randomGrid(next), bits: abits, zero: Math.floor(next() * 2 ** abits) },
    };
  }

  test.each([1, 2, 3])('seed %i: normalisation, strided, depthwise, grouped convs, add, pools, gemm', async (seed) => {
    const next = rng(seed);
    // values: 0 input [4,7,7], 1 normalised, 2 conv 3x3/2 [8,4,4], 3 depthwise [8,4,4], 4 grouped 1x1 [8,4,4],
    // 5 add, 6 maxpool [8,2,2], 7 avgpool [8,2,2], 8 add, 9 global pool [8,1,1], 10 flatten, 11 logits [5]
    const ops: IntPlanOp[] = [
      { op: 'elementwise', inputs: [0], output: 1, operation: 'sub', constant: Float32Array.from([0.5, 0.4, 0.3, 0.2]), constantFirst: false },
      randomLayer(next, { op: 'conv', inputs: [1], output: 2, outChannels: 8, kernel: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], group: 1, clamp: [0, Infinity] }, 8 * 4 * 9, 8),
      randomLayer(next, { op: 'conv', inputs: [2], output: 3, outChannels: 8, kernel: [3, 3], strides: [1, 1], pads: [1, 1, 1, 1], group: 8, clamp: [0, 6] }, 8 * 9, 8),
      randomLayer(next, { op: 'conv', inputs: [3], output: 4, outChannels: 8, kernel: [1, 1], strides: [1, 1], pads: [0, 0, 0, 0], group: 2 }, 8 * 4, 8),
      { op: 'add', inputs: [4, 2], output: 5, clamp: [0, Infinity] },
      { op: 'maxpool', inputs: [5], output: 6, kernel: [2, 2], strides: [2, 2], pads: [0, 0, 0, 0] },
      { op: 'avgpool', inputs: [5], output: 7, kernel: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], countIncludePad: seed === 2 },
      { op: 'add', inputs: [6, 7], output: 8 },
      { op: 'globalavgpool', inputs: [8], output: 9 },
      { op: 'flatten', inputs: [9], output: 10 },
      randomLayer(next, { op: 'gemm', inputs: [10], output: 11, outFeatures: 5 }, 5 * 8, 5),
    ];
    const g = () => randomGrid(next);
    const g5 = g();
    const g8 = g();
    // Pools, the global pool and flatten keep their input's grid.
    const grids = [null, null, g(), g(), g(), g5, g5, g5, g8, g8, g8, null];
    const spec: IntPlanSpec = { input: [4, 7, 7], values: 12, output: 11, grids, ops };
    const images = Float32Array.from({ length: 3 * 4 * 49 }, () => next() * 1.5 - 0.25);
    const logits = await runEverywhere(spec, images, 3);
    expect(logits.length).toBe(15);
  });
});
