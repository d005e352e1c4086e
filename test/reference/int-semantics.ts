/**
 * An independent reference of arq's integer semantics, written from the design note quantization.md alone (it shares no
 * code with native/engine): it runs an integer plan spec (src/native.ts IntPlanSpec) one image at a time, NCHW, in
 * plain loops, with every float32 operation emulated by Math.fround and the one fused multiply-add emulated exactly.
 *
 * The rules, as the note states them:
 * - a float value goes onto a grid as clamp(roundHalfEven(x / s) + z, 0, 2^b - 1);
 * - carrier codes reach a layer's own abits grid through their real value s_c * (q - z_c), put on the layer grid;
 * - Conv/Gemm: acc = sum(q_w * (q_a - z_a)) exactly, padding reads the code z_a;
 * - requantization: y = fma(acc, m, b) in float32, m = s_a*s_w/s_out, b = bias/s_out + z_out, clamped on codes by
 *   the fused activation (lower bound z_out + round(min/s_out), upper z_out + round(max/s_out)), rounded half to
 *   even and saturated to [0, 255]. "Precomputed in float32" is read as: each constant is its formula evaluated on
 *   the float32 scales (in double, where the products are exact) and rounded to float32 once; so are the clamp
 *   bounds' quotients before rounding. (Rounding s_a*s_w to float32 before the division changes m on about one
 *   channel in a few hundred: the note should say which.)
 * - the network's last layer writes s_a*s_w*acc + bias as float32 (the same fused multiply-add);
 * - Add: s1(q1 - z1) + s2(q2 - z2) in float32, requantized onto the output carrier;
 * - MaxPool on codes; AveragePool/GlobalAveragePool: the int32 sum of codes requantized (the output keeps the input's
 *   grid, so the code is the sum over the divisor, rounded half to even);
 * - elementwise operators at the input in float32.
 */
import type { IntPlanOp, IntPlanSpec, NativeGrid } from '../../src/native.js';
import { fmaF32, roundHalfEven } from '../support/requant.js';

const f = Math.fround;

interface Value {
  c: number;
  h: number;
  w: number;
  /** Float32 values (the input, its float prefix, the logits) or codes on `grid`. */
  data: number[];
  grid: NativeGrid | null;
}

/** x onto the grid (scale, zero) with codes 0 .. 2^bits - 1. */
export function quantizeOnto(x: number, scale: number, zero: number, bits: number): number {
  const t = roundHalfEven(f(f(x) / f(scale))) + zero;
  return Math.min(Math.max(t, 0), 2 ** bits - 1);
}

/** The real value of a code. */
export function realOf(q: number, grid: NativeGrid): number {
  return f(f(grid.scale) * (q - grid.zero));
}

/** The fused activation's bounds on output codes; a real bound of -inf/+inf leaves the carrier's [0, 255]. */
export function clampCodes(range: [number, number] | undefined, grid: NativeGrid): [number, number] {
  if (!range) return [0, 255];
  const bound = (x: number) => (Number.isFinite(x) ? grid.zero + roundHalfEven(f(x) / f(grid.scale)) : x);
  return [Math.max(0, bound(range[0])), Math.min(255, bound(range[1]))];
}

/** Requantization (quantization.md, Operators): the fused y, clamped on codes, rounded half to even, saturated. */
export function requantize(acc: number, m: number, b: number, bounds: [number, number]): number {
  const y = fmaF32(acc, m, b);
  const clamped = Math.min(Math.max(y, bounds[0]), bounds[1]);
  return Math.min(Math.max(roundHalfEven(clamped), 0), 255);
}

/** A Conv/Gemm's input codes on its own grid. */
export function layerInput(value: Pick<Value, 'data' | 'grid'>, grid: NativeGrid & { bits: number }): Int32Array {
  if (!value.grid) return Int32Array.from(value.data, (x) => quantizeOnto(x, grid.scale, grid.zero, grid.bits));
  const source = value.grid;
  return Int32Array.from(value.data, (q) => quantizeOnto(realOf(q, source), grid.scale, grid.zero, grid.bits));
}

export type LayerOp = Extract<IntPlanOp, { op: 'conv' | 'gemm' }>;

/** Output channel o's epilogue: the requantized code of an accumulator, or the float logit (no grid). */
export function layerEpilogue(op: LayerOp, o: number, outGrid: NativeGrid | null): (acc: number) => number {
  const [sa, swc] = [f(op.inputGrid.scale), f(op.weightScales[o])];
  const bias = op.bias ? op.bias[o] : 0;
  if (!outGrid) return (acc) => fmaF32(acc, f(sa * swc), f(bias));
  const [m, b, bounds] = [f((sa * swc) / f(outGrid.scale)), f(f(bias) / f(outGrid.scale) + outGrid.zero), clampCodes(op.clamp, outGrid)];
  return (acc) => requantize(acc, m, b, bounds);
}

/** Conv or Gemm: exact int accumulators, then requantized codes or float logits. */
function layer(op: LayerOp, input: Value, outGrid: NativeGrid | null): Value {
  const a = layerInput(input, op.inputGrid);
  const za = op.inputGrid.zero;
  const { kernel, strides, pads, group, outChannels } =
    op.op === 'conv' ? op : { kernel: [1, 1], strides: [1, 1], pads: [0, 0, 0, 0], group: 1, outChannels: op.outFeatures };
  // A Gemm reads its input flattened in NCHW order: as a 1x1 image of all its values.
  const [c, h, w] = op.op === 'conv' ? [input.c, input.h, input.w] : [input.c * input.h * input.w, 1, 1];
  const [kh, kw] = kernel;
  const oh = Math.floor((h + pads[0] + pads[2] - kh) / strides[0]) + 1;
  const ow = Math.floor((w + pads[1] + pads[3] - kw) / strides[1]) + 1;
  const cinPerGroup = c / group;
  const coutPerGroup = outChannels / group;
  const data = new Array<number>(outChannels * oh * ow);
  for (let o = 0; o < outChannels; o++) {
    const g = Math.floor(o / coutPerGroup);
    const epilogue = layerEpilogue(op, o, outGrid);
    for (let y = 0; y < oh; y++) {
      for (let x = 0; x < ow; x++) {
        let acc = 0;
        for (let ci = 0; ci < cinPerGroup; ci++) {
          for (let i = 0; i < kh; i++) {
            const iy = y * strides[0] - pads[0] + i;
            if (iy < 0 || iy >= h) continue; // a padded row holds z_a: q_a - z_a = 0
            for (let j = 0; j < kw; j++) {
              const ix = x * strides[1] - pads[1] + j;
              if (ix < 0 || ix >= w) continue;
              acc += op.weight[((o * cinPerGroup + ci) * kh + i) * kw + j] * (a[((g * cinPerGroup + ci) * h + iy) * w + ix] - za);
            }
          }
        }
        data[(o * oh + y) * ow + x] = epilogue(acc);
      }
    }
  }
  return op.op === 'conv' ? { c: outChannels, h: oh, w: ow, data, grid: outGrid } : { c: outChannels, h: 1, w: 1, data, grid: outGrid };
}

function add(a: Value, b: Value, out: NativeGrid, range: [number, number] | undefined): Value {
  const bounds = clampCodes(range, out);
  const inverse = f(1 / f(out.scale));
  const data = a.data.map((qa, i) => requantize(f(realOf(qa, a.grid!) + realOf(b.data[i], b.grid!)), inverse, out.zero, bounds));
  return { ...a, data, grid: out };
}

/** Max or average pooling on codes; the output keeps the input's grid. */
function pool(input: Value, kernel: [number, number], strides: [number, number], pads: [number, number, number, number], kind: 'max' | 'avg', includePad: boolean): Value {
  const { c, h, w } = input;
  const oh = Math.floor((h + pads[0] + pads[2] - kernel[0]) / strides[0]) + 1;
  const ow = Math.floor((w + pads[1] + pads[3] - kernel[1]) / strides[1]) + 1;
  const zero = input.grid!.zero;
  const data: number[] = [];
  for (let ch = 0; ch < c; ch++) {
    for (let y = 0; y < oh; y++) {
      for (let x = 0; x < ow; x++) {
        let max = -Infinity;
        let sum = 0;
        let count = 0;
        for (let i = 0; i < kernel[0]; i++) {
          for (let j = 0; j < kernel[1]; j++) {
            const iy = y * strides[0] - pads[0] + i;
            const ix = x * strides[1] - pads[1] + j;
            // A padded position of a pool that counts it holds real zero, the code z.
            if (iy < 0 || iy >= h || ix < 0 || ix >= w) {
              if (includePad) { sum += zero; count++; }
              continue;
            }
            const q = input.data[(ch * h + iy) * w + ix];
            max = Math.max(max, q);
            sum += q;
            count++;
          }
        }
        data.push(kind === 'max' ? max : averageCode(sum, count));
      }
    }
  }
  return { c, h: oh, w: ow, data, grid: input.grid };
}

/** The code of an average on the input's own grid: sum / count, rounded half to even (exact: a rational). */
export function averageCode(sum: number, count: number): number {
  const quotient = Math.floor(sum / count);
  const twice = 2 * (sum - quotient * count);
  if (twice > count) return quotient + 1;
  if (twice < count) return quotient;
  return quotient % 2 === 0 ? quotient : quotient + 1;
}

function elementwise(op: Extract<IntPlanOp, { op: 'elementwise' }>, input: Value): Value {
  const plane = input.h * input.w;
  const data = input.data.map((x, i) => {
    const k = op.constant.length === 1 ? op.constant[0] : op.constant[Math.floor(i / plane)];
    const [l, r] = op.constantFirst ? [k, x] : [x, k];
    switch (op.operation) {
      case 'add': return f(l + r);
      case 'sub': return f(l - r);
      case 'mul': return f(l * r);
      case 'div': return f(l / r);
    }
  });
  return { ...input, data };
}

function step(op: IntPlanOp, spec: IntPlanSpec, values: Value[]): Value {
  const input = values[op.inputs[0]];
  switch (op.op) {
    case 'conv':
    case 'gemm':
      return layer(op, input, spec.grids[op.output]);
    case 'add':
      return add(input, values[op.inputs[1]], spec.grids[op.output]!, op.clamp);
    case 'clamp': {
      const [lo, hi] = clampCodes(op.clamp, input.grid!);
      return { ...input, data: input.data.map((q) => Math.min(Math.max(q, lo), hi)) };
    }
    case 'maxpool':
      return pool(input, op.kernel, op.strides, op.pads, 'max', false);
    case 'avgpool':
      return pool(input, op.kernel, op.strides, op.pads, 'avg', op.countIncludePad);
    case 'globalavgpool':
      return pool(input, [input.h, input.w], [1, 1], [0, 0, 0, 0], 'avg', false);
    case 'flatten':
      return { ...input, c: input.c * input.h * input.w, h: 1, w: 1 };
    case 'elementwise':
      return elementwise(op, input);
    case 'repeat': {
      const plane = input.h * input.w;
      const data = Array.from({ length: input.c * op.factor * plane }, (_, i) => input.data[i % (input.c * plane)]);
      return { ...input, c: input.c * op.factor, data };
    }
    case 'pad': {
      const [top, left, bottom, right] = op.pads;
      const h = input.h + top + bottom;
      const w = input.w + left + right;
      const fill = input.grid ? quantizeOnto(op.value, input.grid.scale, input.grid.zero, 8) : f(op.value);
      const data = new Array<number>(input.c * h * w).fill(fill);
      for (let ch = 0; ch < input.c; ch++)
        for (let y = 0; y < input.h; y++)
          for (let x = 0; x < input.w; x++) data[(ch * h + y + top) * w + x + left] = input.data[(ch * input.h + y) * input.w + x];
      return { ...input, h, w, data };
    }
  }
}

/** Every value of the plan for one NCHW image (value 0 is the image). */
export function runValues(spec: IntPlanSpec, image: ArrayLike<number>): Value[] {
  const [c, h, w] = spec.input;
  const values: Value[] = [{ c, h, w, data: Array.from(image, f), grid: null }];
  for (const op of spec.ops) values[op.output] = step(op, spec, values);
  return values;
}

/** Logits [batch x classes] of `batch` NCHW images, as the integer engine must compute them. */
export function runReference(spec: IntPlanSpec, images: Float32Array, batch: number): Float32Array {
  const size = spec.input[0] * spec.input[1] * spec.input[2];
  const rows: number[] = [];
  for (let n = 0; n < batch; n++) rows.push(...runValues(spec, images.subarray(n * size, (n + 1) * size))[spec.output].data);
  return Float32Array.from(rows);
}
