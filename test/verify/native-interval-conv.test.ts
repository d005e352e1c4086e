// The paired plan's convs computed by centre and radius (native/engine/interval_conv.h: the sums of both ends from a
// centre GEMM over lo + hi, or over [lo | hi] at 8-bit codes where lo + hi takes 9 bits, and a radius GEMM over
// hi - lo, then the qu8-interval two-end epilogue). On networks built to reach that epilogue's hard cases (8-bit codes
// whose lo + hi passes 255, 7-bit codes whose lo + hi reaches 254, requantization ties at every odd accumulator,
// saturation at both ends of the code range), on the strided (indirect) route and the im2col route, on every ISA level
// and thread count, the paired plan's output bounds and margins equal the propagator's own loops (bounds.cc) bit for
// bit, a box of width 0 gives the engine's logits, and the engine's logits at points of each box lie within the bounds.
import { afterAll, describe, expect, test } from 'vitest';
import { addon, setIsaCap, supportedIsas, type IntPlanOp, type IntPlanSpec } from '../../src/native.js';
import { rng } from '../support/native.js';

const f = Math.fround;
const isas = supportedIsas();
afterAll(() => setIsaCap(isas[isas.length - 1]));

/**
 * 1x5x5 image -> conv 3x3 pad 1 (C ch) ReLU onto a carrier of scale 1/16 -> conv 3x3 pad 1 (C ch) -> flatten -> Gemm
 * logits. The second conv, the one the centre-radius form computes, reads `abits`-bit codes (zero point `zero`, the
 * code of its padding too: its sums subtract 2 * zero * sum W from the centre), has the multiplier
 * s_a * s_w / s_out = 0.5 exactly and the bias 128 (zero point 128, no clamp), so every odd accumulator is a tie and
 * large ones saturate at 0 and 255; its weights are random within [-limit, limit], or all `limit` when `constant`
 * (with the first conv's bias `bias` and weights up to `size`, large sums). C = 4 takes the strided route on AVX-512 (kernel rows of 12 codes fill
 * k-groups of 4), C = 3 the im2col route.
 */
function tieNet(channels: number, abits: number, limit: number, seed: number, zero = 0, constant = false, bias = 6, size = 4): IntPlanSpec {
  const random = rng(seed);
  const codes = (count: number, bound: number) => Int8Array.from({ length: count }, () => Math.floor(random() * (2 * bound + 1)) - bound);
  const step = 2 ** (8 - abits);
  const hidden = { scale: f(1 / 16), zero: 0 };
  const out = { scale: f(1 / 16), zero: 128 };
  const conv = (input: number, weight: Int8Array, weightScale: number, bias: number, grid: { scale: number; zero: number; bits: number }, clamp?: [number, number]): IntPlanOp => ({
    op: 'conv', inputs: [input], output: input + 1, ...(clamp ? { clamp } : {}), weight, wbits: 8,
    weightScales: new Float32Array(channels).fill(f(weightScale)), bias: new Float32Array(channels).fill(bias), outChannels: channels,
    kernel: [3, 3], strides: [1, 1], pads: [1, 1, 1, 1], group: 1, inputGrid: grid,
  });
  const ops: IntPlanOp[] = [
    conv(0, codes(channels * 9, 127), size / 127, bias, { scale: f(1 / 255), zero: 0, bits: 8 }, [0, Infinity]),
    conv(1, constant ? new Int8Array(channels * channels * 9).fill(limit) : codes(channels * channels * 9, limit), 0.5 / step, 0, { scale: f(step / 16), zero, bits: abits }),
    { op: 'flatten', inputs: [2], output: 3 },
    {
      op: 'gemm', inputs: [3], output: 4, weight: codes(3 * channels * 25, 127), wbits: 8,
      weightScales: new Float32Array(3).fill(f(0.01 / 127)), bias: Float32Array.from({ length: 3 }, () => f(random() * 0.3)),
      outFeatures: 3, inputGrid: { ...out, bits: 8 },
    },
  ];
  return { input: [1, 5, 5], values: 5, output: 4, grids: [null, hidden, out, out, null], ops };
}

const size = 25;

/** Two points, then boxes of radius up to 0.05 and 0.3 around random images, and [0, 1] itself. */
function boxes(seed: number): { lo: Float32Array; hi: Float32Array; count: number } {
  const random = rng(seed);
  const radii = [0, 0, 0.01, 0.05, 0.05, 0.3, 0.3, 1];
  const lo = new Float32Array(radii.length * size), hi = new Float32Array(radii.length * size);
  radii.forEach((radius, b) => {
    const eps = radius === 1 ? 1 : random() * radius;
    for (let i = 0; i < size; i++) {
      const x = radius === 1 ? 0.5 : random();
      lo[b * size + i] = f(Math.max(0, x - eps));
      hi[b * size + i] = f(Math.min(1, x + eps));
    }
  });
  return { lo, hi, count: radii.length };
}

/** The paired plan's bounds against the propagator's, a width-0 box against the engine, points against the bounds. */
function equalToPropagator(spec: IntPlanSpec, lo: Float32Array, hi: Float32Array, count: number, labels: Int32Array) {
  test('on every ISA level and thread count the paired plan gives the propagator\'s bounds and margins bit for bit', async () => {
    for (const isa of isas) {
      setIsaCap(isa);
      const plan = new (addon().IntPlan)(spec);
      const full = await plan.intervalBounds(lo, hi, count, 2, labels);
      for (const threads of [1, 3]) {
        const paired = await plan.intervalBounds(lo, hi, count, threads, labels, { values: false });
        expect(paired.paired, isa).toBe(true);
        expect(paired.values[spec.output].lo, `${isa}, ${threads} threads`).toEqual(full.values[spec.output].lo);
        expect(paired.values[spec.output].hi, `${isa}, ${threads} threads`).toEqual(full.values[spec.output].hi);
        expect(paired.marginLower, `${isa}, ${threads} threads`).toEqual(full.marginLower);
      }
    }
  });

  test('a box of width 0 gives the engine\'s logits at both ends, and points of each box lie within its bounds, on every ISA level', async () => {
    const random = rng(10);
    const points = 16;
    const x = new Float32Array(count * points * size);
    for (let b = 0; b < count; b++) {
      for (let p = 0; p < points; p++) {
        for (let i = 0; i < size; i++) {
          const [l, h] = [lo[b * size + i], hi[b * size + i]];
          x[(b * points + p) * size + i] = p === 0 ? l : p === 1 ? h : f(l + (h - l) * random());
        }
      }
    }
    for (const isa of isas) {
      setIsaCap(isa);
      const plan = new (addon().IntPlan)(spec);
      const logits = await plan.run(x, count * points, 2);
      const exact = await plan.intervalBounds(x, x, count * points, 2, undefined, { values: false });
      expect(exact.values[spec.output].lo, isa).toEqual(logits);
      expect(exact.values[spec.output].hi, isa).toEqual(logits);
      const bounds = (await plan.intervalBounds(lo, hi, count, 2, labels, { values: false })).values[spec.output];
      for (let b = 0; b < count; b++) {
        for (let p = 0; p < points; p++) {
          for (let c = 0; c < 3; c++) {
            const y = logits[(b * points + p) * 3 + c];
            if (!(bounds.lo[b * 3 + c] <= y && y <= bounds.hi[b * 3 + c])) expect.fail(`${isa}: box ${b}, point ${p}, logit ${c}: ${y} outside`);
          }
        }
      }
    }
  });
}

const nets: [string, IntPlanSpec][] = [
  ['strided route, 8-bit codes', tieNet(4, 8, 2, 41)],
  ['strided route, 8-bit codes, zero point 9', tieNet(4, 8, 2, 49, 9)],
  ['strided route, 7-bit codes, zero point 3', tieNet(4, 7, 3, 42, 3)],
  ['strided route, 4-bit codes', tieNet(4, 4, 31, 43)],
  ['im2col route, 8-bit codes, zero point 7', tieNet(3, 8, 2, 44, 7)],
  ['im2col route, 7-bit codes', tieNet(3, 7, 4, 45)],
  ['im2col route, 3-bit codes, zero point 1', tieNet(3, 3, 60, 46, 1)],
];

describe.each(nets)('%s', (_, spec) => {
  const { lo, hi, count } = boxes(9);
  const labels = Int32Array.from({ length: count }, (_, b) => b % 3);

  test('the boxes reach the hard cases: lo + hi past the codes\' range, saturated and tied outputs', async () => {
    const full = await new (addon().IntPlan)(spec).intervalBounds(lo, hi, count, 1, labels);
    const { bits, zero } = (spec.ops[1] as Extract<IntPlanOp, { op: 'conv' }>).inputGrid;
    const levels = 2 ** bits - 1;
    // The second conv's input codes on its own grid, whose scale is 2^(8 - bits) times the carrier's (zero point 0).
    const onGrid = (x: Float32Array) => Array.from(x, (q) => Math.min(levels, Math.round(q / 2 ** (8 - bits)) + zero));
    const [inLo, inHi] = [onGrid(full.values[1].lo), onGrid(full.values[1].hi)];
    expect(inLo.some((l, i) => l + inHi[i] > levels), 'lo + hi past the largest code').toBe(true);
    const [outLo, outHi] = [Array.from(full.values[2].lo), Array.from(full.values[2].hi)];
    expect(outLo.includes(0) && outHi.includes(255), 'saturated at both ends').toBe(true);
    // Unsaturated ends of wide boxes: requantized where half the accumulators (the odd ones) are ties.
    expect(outLo.some((l, i) => l > 0 && l < outHi[i] && outHi[i] < 255), 'unsaturated boxes').toBe(true);
  });

  equalToPropagator(spec, lo, hi, count, labels);
});

// Every centre sum of the first net is below 2^24 (2 * 255 * 252 * 127 = 16,322,040), where float holds it exactly:
// the centre-radius form, its sums near that limit on the strided route (all weights 127, input codes near 255). The
// second net's sums may pass 2^24 (2 * 255 * 261 * 127): its conv keeps the paired GEMM.
describe.each([
  ['sums just below 2^24', tieNet(28, 8, 127, 47, 0, true, 20)],
  ['sums that may reach 2^24', tieNet(29, 8, 127, 48, 0, true, 20)],
])('%s', (_, spec) => {
  const { lo, hi, count } = boxes(11);
  const labels = Int32Array.from({ length: count }, (_, b) => b % 3);
  equalToPropagator(spec, lo, hi, count, labels);
});

// 8-bit codes whose lo + hi all fit a byte (the first conv's outputs stay below 8, codes below 128): the centre GEMM
// over lo + hi at 8 bits, with the zero point's padding (2z) on the im2col route.
describe.each([
  ['strided route, 8-bit codes below 128', tieNet(4, 8, 2, 50, 0, false, 2, 0.5)],
  ['im2col route, 8-bit codes below 128, zero point 7', tieNet(3, 8, 2, 51, 7, false, 2, 0.5)],
])('%s', (_, spec) => {
  const { lo, hi, count } = boxes(12);
  const labels = Int32Array.from({ length: count }, (_, b) => b % 3);
  test('every lo + hi of the second conv\'s input fits a byte', async () => {
    const full = await new (addon().IntPlan)(spec).intervalBounds(lo, hi, count, 1, labels);
    const { zero } = (spec.ops[1] as Extract<IntPlanOp, { op: 'conv' }>).inputGrid;
    const [l, h] = [full.values[1].lo, full.values[1].hi];
    expect(l.every((q, i) => q + zero + h[i] + zero <= 255)).toBe(true);
  });
  equalToPropagator(spec, lo, hi, count, labels);
});
