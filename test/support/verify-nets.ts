/**
 * Tiny integer networks for the verifier's soundness tests (test/verify/native-*.test.ts), built directly as plan
 * specs with seeded weights: a dense one (a float prefix with a negative constant, mixed-width Gemm layers) and a
 * convolutional one (a channel repeat and per-channel constants of both signs in the prefix, ReLU6, a residual add,
 * padding on codes, a clamp, max, average and global average pools), each under a policy of (wbits, abits) per layer.
 * Also random input boxes, and the per-pixel code representatives that make brute-force enumeration of a box exhaustive.
 */
import type { IntPlanOp, IntPlanSpec, NativeGrid, NativeIntPlan } from '../../src/native.js';
import { quantizeOnto, runValues } from '../reference/int-semantics.js';
import { rng } from './native.js';

const f = Math.fround;

export type Bits = [wbits: number, abits: number];

function weights(count: number, wbits: number, random: () => number): Int8Array {
  const limit = 2 ** (wbits - 1) - 1;
  return Int8Array.from({ length: count }, () => Math.floor(random() * (2 * limit + 1)) - limit);
}

/** A layer grid covering [lo, hi] with `bits` bits. */
function layerGrid(lo: number, hi: number, bits: number): NativeGrid & { bits: number } {
  const levels = 2 ** bits - 1;
  const scale = f((hi - lo) / levels);
  return { scale, zero: Math.min(levels, Math.max(0, Math.round(-lo / scale))), bits };
}

const carrier = (lo: number, hi: number): NativeGrid => {
  const { scale, zero } = layerGrid(lo, hi, 8);
  return { scale, zero };
};

/** Dense: 3x3 image -> (x - 0.5) * -2 -> flatten -> Gemm 9->6 ReLU -> Gemm 6->3 logits. Policy: 2 layers. */
export function denseNet(policy: Bits[], seed: number): IntPlanSpec {
  const random = rng(seed);
  const hidden = carrier(0, 3);
  const [[w1, a1], [w2, a2]] = policy;
  const ops: IntPlanOp[] = [
    { op: 'elementwise', inputs: [0], output: 1, operation: 'sub', constant: Float32Array.of(0.5), constantFirst: false },
    { op: 'elementwise', inputs: [1], output: 2, operation: 'mul', constant: Float32Array.of(-2), constantFirst: false },
    { op: 'flatten', inputs: [2], output: 3 },
    {
      op: 'gemm', inputs: [3], output: 4, clamp: [0, Infinity], weight: weights(54, w1, random), wbits: w1,
      weightScales: new Float32Array(6).fill(f(0.6 / (2 ** (w1 - 1) - 1))), bias: Float32Array.from({ length: 6 }, () => f(random() - 0.3)),
      outFeatures: 6, inputGrid: layerGrid(-1, 1, a1),
    },
    {
      op: 'gemm', inputs: [4], output: 5, weight: weights(18, w2, random), wbits: w2,
      weightScales: new Float32Array(3).fill(f(1 / (2 ** (w2 - 1) - 1))), bias: Float32Array.from({ length: 3 }, () => f(random() * 0.2)),
      outFeatures: 3, inputGrid: { ...layerGrid(0, 3, a2), zero: 0 },
    },
  ];
  return { input: [1, 3, 3], values: 6, output: 5, grids: [null, null, null, null, hidden, null], ops };
}

/**
 * Convolutional: 1x4x4 image -> repeat 2 channels -> * [-1.5, 2] -> + [0.75, -1] -> conv 3x3 ReLU6 (3 ch) -> conv 3x3
 * (3 ch) -> add (ReLU) -> pad 1 on codes -> maxpool 2x2/2 -> clamp -> avgpool 2x2/1 (pads bottom-right, padding not
 * counted) -> global average pool -> flatten -> Gemm 3->4 logits. Policy: 3 layers.
 */
export function convNet(policy: Bits[], seed: number): IntPlanSpec {
  const random = rng(seed);
  const [[w1, a1], [w2, a2], [w3, a3]] = policy;
  const relu6 = carrier(0, 6);
  const second = carrier(-4, 4);
  const sum = carrier(0, 8);
  const scales = (n: number, wbits: number, size: number) => new Float32Array(n).fill(f(size / (2 ** (wbits - 1) - 1)));
  const conv = (input: number, output: number, inChannels: number, wbits: number, grid: NativeGrid & { bits: number }, size: number, clamp?: [number, number]): IntPlanOp => ({
    op: 'conv', inputs: [input], output, ...(clamp ? { clamp } : {}), weight: weights(3 * inChannels * 9, wbits, random), wbits,
    weightScales: scales(3, wbits, size), bias: Float32Array.from({ length: 3 }, () => f(random() - 0.5)), outChannels: 3,
    kernel: [3, 3], strides: [1, 1], pads: [1, 1, 1, 1], group: 1, inputGrid: grid,
  });
  const ops: IntPlanOp[] = [
    { op: 'repeat', inputs: [0], output: 1, factor: 2 },
    { op: 'elementwise', inputs: [1], output: 2, operation: 'mul', constant: Float32Array.of(-1.5, 2), constantFirst: false },
    { op: 'elementwise', inputs: [2], output: 3, operation: 'add', constant: Float32Array.of(0.75, -1), constantFirst: false },
    conv(3, 4, 2, w1, layerGrid(-1, 1, a1), 0.5, [0, 6]),
    conv(4, 5, 3, w2, { ...layerGrid(0, 6, a2), zero: 0 }, 0.3),
    { op: 'add', inputs: [4, 5], output: 6, clamp: [0, Infinity] },
    { op: 'pad', inputs: [6], output: 7, pads: [1, 1, 1, 1], value: 0 },
    { op: 'maxpool', inputs: [7], output: 8, kernel: [2, 2], strides: [2, 2], pads: [0, 0, 0, 0] },
    { op: 'clamp', inputs: [8], output: 9, clamp: [0, 5] },
    { op: 'avgpool', inputs: [9], output: 10, kernel: [2, 2], strides: [1, 1], pads: [0, 0, 1, 1], countIncludePad: false },
    { op: 'globalavgpool', inputs: [10], output: 11 },
    { op: 'flatten', inputs: [11], output: 12 },
    {
      op: 'gemm', inputs: [12], output: 13, weight: weights(12, w3, random), wbits: w3, weightScales: scales(4, w3, 1),
      bias: Float32Array.from({ length: 4 }, () => f(random() * 0.3)), outFeatures: 4, inputGrid: { ...layerGrid(0, 8, a3), zero: 0 },
    },
  ];
  const grids: (NativeGrid | null)[] = [null, null, null, null, relu6, second, sum, sum, sum, sum, sum, sum, sum, null];
  return { input: [1, 4, 4], values: 14, output: 13, grids, ops };
}

/**
 * Residual, with channel counts in whole k-groups so that the engine takes its indirect convs, zero-bordered values and
 * a residual add fused into the conv before it (the paths of ResNet-20): 1x6x6 image -> (x - 0.1) / 0.3 -> conv 3x3
 * (4 ch) ReLU -> conv 3x3 (4 ch) ReLU -> conv 3x3 (4 ch) -> add (ReLU) -> conv 3x3 stride 2 (8 ch) ReLU -> global
 * average pool -> flatten -> Gemm 8->3 logits. Policy: 5 layers.
 */
export function residualNet(policy: Bits[], seed: number): IntPlanSpec {
  const random = rng(seed);
  const act = carrier(0, 4);
  const mixed = carrier(-3, 3);
  // A conv reading codes in [lo, hi] (zero point 0 when lo is 0) with abits bits.
  const conv = (input: number, output: number, inChannels: number, outChannels: number, [wbits, abits]: Bits, [lo, hi]: [number, number], stride: number, relu: boolean): IntPlanOp => ({
    op: 'conv', inputs: [input], output, ...(relu ? { clamp: [0, Infinity] as [number, number] } : {}), weight: weights(outChannels * inChannels * 9, wbits, random), wbits,
    weightScales: new Float32Array(outChannels).fill(f(0.4 / (2 ** (wbits - 1) - 1))), bias: Float32Array.from({ length: outChannels }, () => f(random() - 0.5)), outChannels,
    kernel: [3, 3], strides: [stride, stride], pads: [1, 1, 1, 1], group: 1, inputGrid: { ...layerGrid(lo, hi, abits), ...(lo === 0 ? { zero: 0 } : {}) },
  });
  const [p1, p2, p3, p4, p5] = policy;
  const ops: IntPlanOp[] = [
    { op: 'elementwise', inputs: [0], output: 1, operation: 'sub', constant: Float32Array.of(0.1), constantFirst: false },
    { op: 'elementwise', inputs: [1], output: 2, operation: 'div', constant: Float32Array.of(0.3), constantFirst: false },
    conv(2, 3, 1, 4, p1, [-0.4, 3.4], 1, true),
    conv(3, 4, 4, 4, p2, [0, 4], 1, true),
    conv(4, 5, 4, 4, p3, [0, 4], 1, false),
    { op: 'add', inputs: [5, 3], output: 6, clamp: [0, Infinity] },
    conv(6, 7, 4, 8, p4, [0, 4], 2, true),
    { op: 'globalavgpool', inputs: [7], output: 8 },
    { op: 'flatten', inputs: [8], output: 9 },
    {
      op: 'gemm', inputs: [9], output: 10, weight: weights(24, p5[0], random), wbits: p5[0], weightScales: new Float32Array(3).fill(f(1 / (2 ** (p5[0] - 1) - 1))),
      bias: Float32Array.from({ length: 3 }, () => f(random() * 0.3)), outFeatures: 3, inputGrid: { ...layerGrid(0, 4, p5[1]), zero: 0 },
    },
  ];
  const grids: (NativeGrid | null)[] = [null, null, null, act, act, mixed, act, act, act, act, null];
  return { input: [1, 6, 6], values: 11, output: 10, grids, ops };
}

/**
 * A chain of layers, the form the back-substituted bounds take (native/verify/linear_bounds.h): 1x6x6 image -> conv
 * 3x3 VALID (3 ch) ReLU -> conv 2x2 stride 2 (4 ch) ReLU -> flatten -> Gemm 16->6 ReLU -> Gemm 6->3 logits. Hidden
 * layers read 8-bit carriers on the carrier's own grid (an identity conversion, as at a8); the first layer reads the
 * pixels with its policy's abits. Policy: 4 layers, abits 8 after the first.
 */
export function chainNet(policy: Bits[], seed: number): IntPlanSpec {
  const random = rng(seed);
  const grid = (hi: number, bits: number) => ({ ...layerGrid(0, hi, bits), zero: 0 });
  const conv = (input: number, output: number, inChannels: number, outChannels: number, [wbits, abits]: Bits, range: number, size: number, kernel: number, stride: number): IntPlanOp => ({
    op: 'conv', inputs: [input], output, clamp: [0, Infinity], weight: weights(outChannels * inChannels * kernel * kernel, wbits, random), wbits,
    weightScales: new Float32Array(outChannels).fill(f(size / (2 ** (wbits - 1) - 1))), bias: Float32Array.from({ length: outChannels }, () => f(random() * 0.6 - 0.2)), outChannels,
    kernel: [kernel, kernel], strides: [stride, stride], pads: [0, 0, 0, 0], group: 1, inputGrid: grid(range, abits),
  });
  const gemm = (input: number, output: number, inFeatures: number, outFeatures: number, [wbits, abits]: Bits, range: number, size: number, relu: boolean): IntPlanOp => ({
    op: 'gemm', inputs: [input], output, ...(relu ? { clamp: [0, Infinity] as [number, number] } : {}), weight: weights(outFeatures * inFeatures, wbits, random), wbits,
    weightScales: new Float32Array(outFeatures).fill(f(size / (2 ** (wbits - 1) - 1))), bias: Float32Array.from({ length: outFeatures }, () => f(random() * 0.4 - 0.1)), outFeatures,
    inputGrid: grid(range, abits),
  });
  const [p1, p2, p3, p4] = policy;
  const ops: IntPlanOp[] = [
    conv(0, 1, 1, 3, p1, 1, 0.5, 3, 1),
    conv(1, 2, 3, 4, p2, 2, 0.4, 2, 2),
    { op: 'flatten', inputs: [2], output: 3 },
    gemm(3, 4, 16, 6, p3, 3, 0.3, true),
    gemm(4, 5, 6, 3, p4, 3, 1, false),
  ];
  return { input: [1, 6, 6], values: 6, output: 5, grids: [null, carrier(0, 2), carrier(0, 3), carrier(0, 3), carrier(0, 3), null], ops };
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
const bitsOf = (x: number) => ((f32[0] = x), u32[0]);
const floatOf = (bits: number) => ((u32[0] = bits), f32[0]);

/** The first layer's input bits. */
export function firstLayerBits(spec: IntPlanSpec): number {
  const first = spec.ops.find((op) => op.op === 'conv' || op.op === 'gemm') as Extract<IntPlanOp, { op: 'conv' | 'gemm' }>;
  return first.inputGrid.bits;
}

/**
 * The first layer's input codes that pixel `pixel` of `image` reaches when it holds x (the reference semantics): what
 * the rest of the network sees of that pixel.
 */
function signature(spec: IntPlanSpec, image: Float32Array, pixel: number, x: number): string {
  const first = spec.ops.find((op) => op.op === 'conv' || op.op === 'gemm') as Extract<IntPlanOp, { op: 'conv' | 'gemm' }>;
  const probe = Float32Array.from(image);
  probe[pixel] = x;
  const values = runValues(spec, probe);
  const g = first.inputGrid;
  return values[first.inputs[0]].data.map((v) => quantizeOnto(v, g.scale, g.zero, g.bits)).join(',');
}

/**
 * One float per distinct first-layer code signature of pixel `pixel` over [lo, hi] (non-negative floats, ordered as
 * their bits): each signature's floats form an interval (every code is monotone in the pixel), found by bisection.
 * Every input of the box sees one of these signatures at this pixel, so their product enumerates the box exhaustively.
 * Null when there are more than `limit`.
 */
export function representatives(spec: IntPlanSpec, image: Float32Array, pixel: number, lo: number, hi: number, limit = Infinity): number[] | null {
  const out: number[] = [];
  let from = bitsOf(lo);
  const end = bitsOf(hi);
  for (;;) {
    const here = signature(spec, image, pixel, floatOf(from));
    out.push(floatOf(from));
    if (out.length > limit) return null;
    if (signature(spec, image, pixel, floatOf(end)) === here) return out;
    let a = from, b = end;  // signature(a) === here !== signature(b)
    while (b - a > 1) {
      const mid = a + Math.floor((b - a) / 2);
      if (signature(spec, image, pixel, floatOf(mid)) === here) a = mid; else b = mid;
    }
    from = b;
  }
}

/** Pixels per input image of a plan spec. */
export const inputSize = (spec: IntPlanSpec): number => spec.input[0] * spec.input[1] * spec.input[2];

/** `count` boxes around random images: [x - eps, x + eps] clipped to [0, 1], eps random below maxEps, drawn from `random`. */
export function randomBoxes(spec: IntPlanSpec, count: number, maxEps: number, random: () => number): { lo: Float32Array; hi: Float32Array } {
  const n = inputSize(spec);
  const lo = new Float32Array(count * n), hi = new Float32Array(count * n);
  for (let b = 0; b < count; b++) {
    const eps = random() * maxEps;
    for (let i = 0; i < n; i++) {
      const x = random();
      lo[b * n + i] = f(Math.max(0, x - eps));
      hi[b * n + i] = f(Math.min(1, x + eps));
    }
  }
  return { lo, hi };
}

/** The engine's prediction per row of `logits`: the first index of the largest logit (the lowest index wins a tie). */
export function predictions(logits: Float32Array, classes: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < logits.length / classes; r++) {
    const row = Array.from(logits.subarray(r * classes, (r + 1) * classes));
    out.push(row.indexOf(Math.max(...row)));
  }
  return out;
}

/** A box small enough to enumerate: every first-layer code combination of its free pixels, one input each. */
export interface EnumeratedBox {
  readonly lo: Float32Array;
  readonly hi: Float32Array;
  /** The engine's class at the box's centre. */
  readonly centreClass: number;
  /** `count` inputs of inputSize(spec) values, one per code combination (together they cover the box). */
  readonly points: Float32Array;
  readonly count: number;
}

/** How enumerable boxes are drawn: free pixels, widths of 0.5 to 0.5 + `extraSteps` first-layer code steps, limits. */
export interface EnumerationLimits {
  readonly freePixels: number;
  readonly extraSteps: number;
  readonly codesPerPixel: number;
  readonly combinations: number;
}

/**
 * `count` boxes around random images (drawn from rng(seed)) with `freePixels` pixels widened by half a code step of the
 * first layer's grid up to 0.5 + extraSteps steps, kept when each pixel has at most codesPerPixel code signatures and
 * the box at most `combinations` inputs: the brute-force ground truth of the verifier tests.
 */
export async function enumeratedBoxes(spec: IntPlanSpec, plan: NativeIntPlan, count: number, seed: number, limits: EnumerationLimits): Promise<EnumeratedBox[]> {
  const random = rng(seed);
  const n = inputSize(spec);
  const boxes: EnumeratedBox[] = [];
  while (boxes.length < count) {
    const image = Float32Array.from({ length: n }, () => f(random()));
    const lo = Float32Array.from(image), hi = Float32Array.from(image);
    const free = new Set<number>();
    while (free.size < limits.freePixels) free.add(Math.floor(random() * n));
    const eps = (0.5 + random() * limits.extraSteps) / (2 ** firstLayerBits(spec) - 1);
    const choices: number[][] = [];
    for (const p of free) {
      lo[p] = f(Math.max(0, image[p] - eps));
      hi[p] = f(Math.min(1, image[p] + eps));
      const values = representatives(spec, image, p, lo[p], hi[p], limits.codesPerPixel);
      if (values) choices.push(values);
    }
    const combinations = choices.reduce((a, c) => a * c.length, 1);
    if (choices.length < free.size || combinations > limits.combinations) continue;
    const points = new Float32Array(combinations * n);
    const pixels = [...free];
    for (let k = 0; k < combinations; k++) {
      const point = points.subarray(k * n, (k + 1) * n);
      point.set(lo);
      let rest = k;
      pixels.forEach((p, c) => {
        point[p] = choices[c][rest % choices[c].length];
        rest = Math.floor(rest / choices[c].length);
      });
    }
    const [centreClass] = predictions(await plan.run(Float32Array.from(lo, (a, i) => f(a + (hi[i] - a) / 2)), 1, 1), plan.classes);
    boxes.push({ lo, hi, centreClass, points, count: combinations });
  }
  return boxes;
}

/** The arrays one after the other in one array. */
export function concatenated(arrays: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(arrays.reduce((a, x) => a + x.length, 0));
  let at = 0;
  for (const a of arrays) out.set(a, at), (at += a.length);
  return out;
}
