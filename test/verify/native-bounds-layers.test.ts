// Each Conv/Gemm's interval bounds (native/verify/bounds.cc: the GEMM kernels over rows [lo | hi], the kernels' own
// epilogue, the int32 and int64 loops) against an independent interval rule written here from quantization.md and
// the reference's per-element semantics (test/reference/int-semantics.ts): from the bounds the propagator gives the
// layer's input, the layer codes at both ends, the exact sign-split accumulators (w > 0 takes the low code for the
// lower sum, w < 0 the high code; padding adds 0), the whole int32 range where a sum may leave it, and the epilogue at
// both ends. Equal bit for bit, on wide random boxes, for layers of one and many channels, kernels of 1x1 to 5x5,
// strides and uneven padding, sums above 2^24 (the int32 path of the kernels), grouped convs and float logits.
import { describe, expect, test } from 'vitest';
import { addon, type IntPlanOp, type IntPlanSpec, type NativeGrid } from '../../src/native.js';
import { layerEpilogue, layerInput, runValues, type LayerOp } from '../reference/int-semantics.js';
import { rng } from '../support/native.js';
import { convNet, denseNet } from '../support/verify-nets.js';

const f = Math.fround;
const INT32_MIN = -(2 ** 31), INT32_MAX = 2 ** 31 - 1;

interface Bounds {
  lo: Float32Array;
  hi: Float32Array;
}

/** The bounds of a layer's output for one box, by the sign-split rule, from the bounds of its input. */
function layerBounds(op: LayerOp, input: Bounds, inGrid: NativeGrid | null, inShape: [number, number, number], outGrid: NativeGrid | null): Bounds {
  const ql = layerInput({ data: Array.from(input.lo), grid: inGrid }, op.inputGrid);
  const qh = layerInput({ data: Array.from(input.hi), grid: inGrid }, op.inputGrid);
  const z = op.inputGrid.zero;
  const { kernel, strides, pads, group, outChannels } =
    op.op === 'conv' ? op : { kernel: [1, 1], strides: [1, 1], pads: [0, 0, 0, 0], group: 1, outChannels: op.outFeatures };
  const [c, h, w] = op.op === 'conv' ? inShape : [inShape[0] * inShape[1] * inShape[2], 1, 1];
  const oh = Math.floor((h + pads[0] + pads[2] - kernel[0]) / strides[0]) + 1;
  const ow = Math.floor((w + pads[1] + pads[3] - kernel[1]) / strides[1]) + 1;
  const cin = c / group, coutPerGroup = outChannels / group;
  const lo = new Float32Array(outChannels * oh * ow), hi = new Float32Array(outChannels * oh * ow);
  for (let o = 0; o < outChannels; o++) {
    const g = Math.floor(o / coutPerGroup);
    const epilogue = layerEpilogue(op, o, outGrid);
    for (let y = 0; y < oh; y++) {
      for (let x = 0; x < ow; x++) {
        let accLo = 0, accHi = 0;
        for (let ci = 0; ci < cin; ci++) {
          for (let i = 0; i < kernel[0]; i++) {
            for (let j = 0; j < kernel[1]; j++) {
              const iy = y * strides[0] - pads[0] + i, ix = x * strides[1] - pads[1] + j;
              if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
              const weight = op.weight[((o * cin + ci) * kernel[0] + i) * kernel[1] + j];
              const at = ((g * cin + ci) * h + iy) * w + ix;
              accLo += weight * ((weight > 0 ? ql[at] : qh[at]) - z);
              accHi += weight * ((weight > 0 ? qh[at] : ql[at]) - z);
            }
          }
        }
        const exact = accLo >= INT32_MIN && accHi <= INT32_MAX;  // else the engine's int32 sum may hold any int32
        lo[(o * oh + y) * ow + x] = epilogue(exact ? accLo : INT32_MIN);
        hi[(o * oh + y) * ow + x] = epilogue(exact ? accHi : INT32_MAX);
      }
    }
  }
  return { lo, hi };
}

/** The shape of every value, by running the plan's shapes through the spec (NCHW). */
function shapes(spec: IntPlanSpec): [number, number, number][] {
  const out: [number, number, number][] = [spec.input];
  const window = (size: number, k: number, s: number, before: number, after: number) => Math.floor((size + before + after - k) / s) + 1;
  for (const op of spec.ops) {
    const [c, h, w] = out[op.inputs[0]];
    switch (op.op) {
      case 'conv':
        out[op.output] = [op.outChannels, window(h, op.kernel[0], op.strides[0], op.pads[0], op.pads[2]), window(w, op.kernel[1], op.strides[1], op.pads[1], op.pads[3])];
        break;
      case 'gemm':
        out[op.output] = [op.outFeatures, 1, 1];
        break;
      case 'maxpool':
      case 'avgpool':
        out[op.output] = [c, window(h, op.kernel[0], op.strides[0], op.pads[0], op.pads[2]), window(w, op.kernel[1], op.strides[1], op.pads[1], op.pads[3])];
        break;
      case 'globalavgpool':
        out[op.output] = [c, 1, 1];
        break;
      case 'flatten':
        out[op.output] = [c * h * w, 1, 1];
        break;
      case 'repeat':
        out[op.output] = [c * op.factor, h, w];
        break;
      case 'pad':
        out[op.output] = [c, h + op.pads[0] + op.pads[2], w + op.pads[1] + op.pads[3]];
        break;
      default:
        out[op.output] = [c, h, w];
    }
  }
  return out;
}

function weights(count: number, wbits: number, random: () => number): Int8Array {
  const limit = 2 ** (wbits - 1) - 1;
  return Int8Array.from({ length: count }, () => Math.floor(random() * (2 * limit + 1)) - limit);
}

/**
 * Convolutions of every shape the kernel path handles: `channels` input channels -> conv 5x5/2 with uneven padding
 * (ReLU) -> average pool 3x3 (padding counted) -> conv 1x1 -> conv 3x3 with padding -> grouped conv 3x3 (3 groups) -> flatten -> Gemm (ReLU) -> Gemm logits.
 * `wide`: the hidden Gemm's weights all +-127 over every input, so its sums pass 2^24.
 */
function layersNet(channels: number, [wbits, abits]: [number, number], wide: boolean, seed: number): IntPlanSpec {
  const random = rng(seed);
  const grid = (scale: number, zero: number): NativeGrid => ({ scale: f(scale), zero });
  const layerGrid = (scale: number, zero: number) => ({ scale: f(scale), zero: Math.min(zero, 2 ** abits - 1), bits: abits });
  const scales = (n: number) => Float32Array.from({ length: n }, () => f((0.2 + random()) / (2 ** (wbits - 1) - 1)));
  const bias = (n: number) => Float32Array.from({ length: n }, () => f(random() - 0.5));
  const conv = (input: number, output: number, cin: number, cout: number, kernel: [number, number], strides: [number, number], pads: [number, number, number, number], group: number, inputGrid: ReturnType<typeof layerGrid>, clamp?: [number, number]): IntPlanOp => ({
    op: 'conv', inputs: [input], output, ...(clamp ? { clamp } : {}), weight: weights((cout * cin * kernel[0] * kernel[1]) / group, wbits, random), wbits,
    weightScales: scales(cout), bias: bias(cout), outChannels: cout, kernel, strides, pads, group, inputGrid,
  });
  const hiddenIn = 6 * 20 * 20;  // the grouped conv's output: 40x40 -> 20x20 after the first conv
  if (wide && !(127 * hiddenIn * (2 ** abits - 1) > 2 ** 24)) throw new Error('the wide Gemm must pass 2^24');
  const ops: IntPlanOp[] = [
    conv(0, 1, channels, 6, [5, 5], [2, 2], [2, 1, 1, 2], 1, layerGrid(1 / (2 ** abits - 1), 0), [0, Infinity]),
    { op: 'avgpool', inputs: [1], output: 8, kernel: [3, 3], strides: [1, 1], pads: [1, 1, 1, 1], countIncludePad: true },
    conv(8, 2, 6, 8, [1, 1], [1, 1], [0, 0, 0, 0], 1, layerGrid(4 / (2 ** abits - 1), 0)),
    conv(2, 3, 8, 6, [3, 3], [1, 1], [1, 1, 1, 1], 1, layerGrid(8 / (2 ** abits - 1), 2 ** (abits - 1))),
    conv(3, 4, 6, 6, [3, 3], [1, 1], [1, 1, 1, 1], 3, layerGrid(8 / (2 ** abits - 1), 2 ** (abits - 1))),
    { op: 'flatten', inputs: [4], output: 5 },
    {
      op: 'gemm', inputs: [5], output: 6, clamp: [0, Infinity], weight: wide ? Int8Array.from({ length: 5 * hiddenIn }, () => (random() < 0.5 ? -127 : 127)) : weights(5 * hiddenIn, wbits, random),
      wbits: wide ? 8 : wbits, weightScales: new Float32Array(5).fill(f(0.0005)), bias: bias(5), outFeatures: 5, inputGrid: layerGrid(8 / (2 ** abits - 1), 2 ** (abits - 1)),
    },
    { op: 'gemm', inputs: [6], output: 7, weight: weights(15, wbits, random), wbits, weightScales: scales(3), bias: bias(3), outFeatures: 3, inputGrid: layerGrid(4 / (2 ** abits - 1), 0) },
  ];
  const carrier = grid(8 / 255, 128);
  return { input: [channels, 40, 40], values: 9, output: 7, grids: [null, grid(4 / 255, 20), carrier, carrier, carrier, carrier, grid(4 / 255, 0), null, grid(4 / 255, 20)], ops };
}

const nets: [string, IntPlanSpec][] = [
  ['dense w3a4 w8a2', denseNet([[3, 4], [8, 2]], 2)],
  ['conv w8a8 w8a8 w8a8', convNet([[8, 8], [8, 8], [8, 8]], 4)],
  ['conv w4a3 w2a8 w5a6', convNet([[4, 3], [2, 8], [5, 6]], 5)],
  ['layers 1 channel w8a8', layersNet(1, [8, 8], false, 21)],
  ['layers 3 channels w4a4', layersNet(3, [4, 4], false, 22)],
  ['layers 8 channels w2a6, sums past 2^24', layersNet(8, [2, 6], true, 23)],
  ['layers 5 channels w8a8, sums past 2^24', layersNet(5, [8, 8], true, 24)],
];

describe.each(nets)('%s', (_, spec) => {
  test('a box of width 0 gives every value as the reference, bit for bit', async () => {
    const n = spec.input[0] * spec.input[1] * spec.input[2];
    const random = rng(30);
    const image = Float32Array.from({ length: n }, () => f(random()));
    const bounds = await new (addon().IntPlan)(spec).intervalBounds(image, image, 1, 1);
    runValues(spec, image).forEach((value, v) => {
      expect(Array.from(bounds.values[v].lo), `value ${v}`).toEqual(value.data);
      expect(Array.from(bounds.values[v].hi), `value ${v}`).toEqual(value.data);
    });
  });

  test('every Conv/Gemm bound equals the sign-split rule applied to its input bounds, bit for bit', async () => {
    const plan = new (addon().IntPlan)(spec);
    const shape = shapes(spec);
    const n = spec.input[0] * spec.input[1] * spec.input[2];
    const random = rng(31);
    const boxes = 6;
    const lo = new Float32Array(boxes * n), hi = new Float32Array(boxes * n);
    for (let b = 0; b < boxes; b++) {
      const eps = [0, 0.01, 0.05, 0.2, 0.5, 1][b];  // a point, narrow and wide boxes, the whole [0, 1]
      for (let i = 0; i < n; i++) {
        const x = random();
        lo[b * n + i] = f(Math.max(0, x - eps));
        hi[b * n + i] = f(Math.min(1, x + eps));
      }
    }
    const bounds = await plan.intervalBounds(lo, hi, boxes, 2);
    let layers = 0;
    for (const op of spec.ops) {
      if (op.op !== 'conv' && op.op !== 'gemm') continue;
      layers++;
      const v = op.inputs[0];
      const inSize = shape[v][0] * shape[v][1] * shape[v][2];
      const outSize = shape[op.output][0] * shape[op.output][1] * shape[op.output][2];
      for (let b = 0; b < boxes; b++) {
        const input = { lo: bounds.values[v].lo.subarray(b * inSize, (b + 1) * inSize), hi: bounds.values[v].hi.subarray(b * inSize, (b + 1) * inSize) };
        const expected = layerBounds(op, input, spec.grids[v], shape[v], spec.grids[op.output]);
        expect(Array.from(bounds.values[op.output].lo.subarray(b * outSize, (b + 1) * outSize)), `value ${op.output}, box ${b}, lower`).toEqual(Array.from(expected.lo));
        expect(Array.from(bounds.values[op.output].hi.subarray(b * outSize, (b + 1) * outSize)), `value ${op.output}, box ${b}, upper`).toEqual(Array.from(expected.hi));
      }
    }
    expect(layers).toBeGreaterThan(1);
  });
});
