/**
 * The trainer's conv and Gemm passes (native/train/conv.cc) on every ISA path, against plain loops in double written
 * here from the operator's definition: logits, the loss gradients of weight and bias, and the input gradient. Each
 * case reaches one code path: a pointwise conv or a Gemm multiplies the input rows, a conv without groups copies
 * whole pixel runs, a grouped one per tap; the input gradient of a stride-1 conv without groups is a conv of the output
 * gradient with the flipped kernel (pads kernel - 1 - pad: the asymmetric 3x2 case), other convs add columns back
 * (strided, grouped, and a pad as tall as the kernel). The 3x3 case fills several blocks of GEMM rows per chunk, and its K
 * (taps * channels per group, 45) is no multiple of any kernel's panel width and spans several panels on every ISA.
 */
import { afterAll, describe, expect, test } from 'vitest';
import { ISA_LEVELS, setIsaCap, supportedIsas } from '../../src/native.js';
import { GraphBuilder } from '../../src/train/architectures.js';
import type { TrainGraph } from '../../src/train/graph.js';
import { TrainNet } from '../../src/train/native-net.js';
import { uniformValues } from './graphs.js';

interface ConvCase {
  readonly input: [number, number, number];
  readonly out: number;
  readonly kernel: [number, number];
  readonly strides: [number, number];
  readonly pads: [number, number, number, number];
  readonly group: number;
}

const CASES: Record<string, ConvCase> = {
  'pointwise': { input: [5, 4, 3], out: 7, kernel: [1, 1], strides: [1, 1], pads: [0, 0, 0, 0], group: 1 },
  'pointwise, 2 groups': { input: [6, 3, 3], out: 4, kernel: [1, 1], strides: [1, 1], pads: [0, 0, 0, 0], group: 2 },
  '3x3, pad 1': { input: [5, 18, 18], out: 5, kernel: [3, 3], strides: [1, 1], pads: [1, 1, 1, 1], group: 1 },
  '3x2, stride 2, asymmetric pads, 3 groups': { input: [6, 7, 6], out: 9, kernel: [3, 2], strides: [2, 2], pads: [0, 1, 2, 0], group: 3 },
  '1x1, stride 2': { input: [4, 18, 18], out: 3, kernel: [1, 1], strides: [2, 2], pads: [0, 0, 0, 0], group: 1 },
  '3x3, 20 to 18 channels (panels wider than 16)': { input: [20, 6, 5], out: 18, kernel: [3, 3], strides: [1, 1], pads: [1, 1, 1, 1], group: 1 },
  '3x2, asymmetric pads': { input: [4, 7, 6], out: 6, kernel: [3, 2], strides: [1, 1], pads: [0, 1, 2, 0], group: 1 },
  '1x3, a pad as tall as the kernel': { input: [3, 5, 5], out: 4, kernel: [1, 3], strides: [1, 1], pads: [1, 1, 0, 1], group: 1 },
};
const BATCH = 11; // two chunks of images, the second partial

function convGraph(c: ConvCase, seed: number): TrainGraph {
  const b = new GraphBuilder(c.input, seed);
  const k = (c.input[0] / c.group) * c.kernel[0] * c.kernel[1];
  const y = b.append({
    op: 'conv', name: '/conv/Conv', inputs: ['input'], output: '/conv/out', weight: uniformValues(c.out * k, seed, -1, 1),
    bias: uniformValues(c.out, seed + 1, -1, 1), outChannels: c.out, kernel: c.kernel, strides: c.strides, pads: c.pads, group: c.group,
  });
  return b.finish(b.flatten(y, '/flatten'));
}

/** A Gemm as the same conv: a 1x1 kernel over [features, 1, 1]. */
function gemmGraph(features: number, out: number, seed: number): { graph: TrainGraph; conv: ConvCase } {
  const b = new GraphBuilder([features, 1, 1], seed);
  const y = b.append({
    op: 'gemm', name: '/fc/Gemm', inputs: ['input'], output: 'logits', weight: uniformValues(out * features, seed, -1, 1),
    bias: uniformValues(out, seed + 1, -1, 1), outFeatures: out,
  });
  return { graph: b.finish(y), conv: { input: [features, 1, 1], out, kernel: [1, 1], strides: [1, 1], pads: [0, 0, 0, 0], group: 1 } };
}

/** Plain-loop conv over NCHW images: forward, and the adjoints for weights, bias and input, in double. */
function reference(c: ConvCase, weight: Float32Array, bias: Float32Array, x: Float32Array) {
  const [cin, h, w] = c.input;
  const [kh, kw] = c.kernel;
  const oh = Math.floor((h + c.pads[0] + c.pads[2] - kh) / c.strides[0]) + 1;
  const ow = Math.floor((w + c.pads[1] + c.pads[3] - kw) / c.strides[1]) + 1;
  const cinG = cin / c.group;
  const coutG = c.out / c.group;
  const outSize = c.out * oh * ow;
  /** Calls fn(output index, weight index, input index) for every product of the conv, image b. */
  const products = (b: number, fn: (o: number, wi: number, xi: number) => void) => {
    for (let co = 0; co < c.out; co++) {
      const g = Math.floor(co / coutG);
      for (let y = 0; y < oh; y++) {
        for (let xo = 0; xo < ow; xo++) {
          for (let ci = 0; ci < cinG; ci++) {
            for (let i = 0; i < kh; i++) {
              for (let j = 0; j < kw; j++) {
                const iy = y * c.strides[0] - c.pads[0] + i;
                const ix = xo * c.strides[1] - c.pads[1] + j;
                if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                fn(b * outSize + (co * oh + y) * ow + xo, ((co * cinG + ci) * kh + i) * kw + j, ((b * cin + g * cinG + ci) * h + iy) * w + ix);
              }
            }
          }
        }
      }
    }
  };
  const forward = (batch: number) => {
    const y = new Float64Array(batch * outSize);
    for (let b = 0; b < batch; b++) {
      for (let o = 0; o < outSize; o++) y[b * outSize + o] = bias[Math.floor(o / (oh * ow))];
      products(b, (o, wi, xi) => (y[o] += weight[wi] * x[xi]));
    }
    return y;
  };
  const backward = (batch: number, dy: Float64Array) => {
    const dw = new Float64Array(weight.length);
    const db = new Float64Array(c.out);
    const dx = new Float64Array(x.length);
    for (let b = 0; b < batch; b++) {
      for (let o = 0; o < outSize; o++) db[Math.floor(o / (oh * ow))] += dy[b * outSize + o];
      products(b, (o, wi, xi) => {
        dw[wi] += dy[o] * x[xi];
        dx[xi] += dy[o] * weight[wi];
      });
    }
    return { dw, db, dx };
  };
  return { outSize, forward, backward };
}

/** max |a - b| over max |b|. */
function relative(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0;
  let scale = 1e-12;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / scale;
}

async function check(graph: TrainGraph, c: ConvCase, weight: Float32Array, bias: Float32Array) {
  const size = c.input[0] * c.input[1] * c.input[2];
  const x = uniformValues(BATCH * size, 17, -1, 1);
  const ref = reference(c, weight, bias, x);
  const classes = ref.outSize;
  const labels = Int32Array.from({ length: BATCH }, (_, i) => (i * 7) % classes);
  const targets = Int32Array.from(labels, (l) => (l + 1) % classes);
  const logits = ref.forward(BATCH);
  // Softmax cross-entropy: d/dlogits = (softmax - onehot) / batch.
  const dce = new Float64Array(logits.length);
  for (let b = 0; b < BATCH; b++) {
    const row = logits.subarray(b * classes, (b + 1) * classes);
    const top = Math.max(...row);
    const total = row.reduce((sum, z) => sum + Math.exp(z - top), 0);
    for (let k = 0; k < classes; k++) dce[b * classes + k] = (Math.exp(row[k] - top) / total - (k === labels[b] ? 1 : 0)) / BATCH;
  }
  const expected = ref.backward(BATCH, dce);
  const margin = new Float64Array(logits.length);
  for (let b = 0; b < BATCH; b++) {
    margin[b * classes + targets[b]] = 1;
    margin[b * classes + labels[b]] = -1;
  }
  const expectedDx = ref.backward(BATCH, margin).dx;

  const results = [];
  for (const threads of [1, 2]) {
    const net = TrainNet.build(graph);
    await net.gradients({ input: x, labels, batch: BATCH, threads });
    const grads = net.grads();
    const { logits: predicted, gradient } = await net.inputGradients({ input: x, labels, targets, batch: BATCH, threads });
    results.push({ grads, predicted, gradient });
  }
  const [one, two] = results;
  expect(relative(one.predicted, logits)).toBeLessThan(1e-5);
  expect(relative(one.grads[0], expected.dw)).toBeLessThan(1e-5);
  expect(relative(one.grads[1], expected.db)).toBeLessThan(1e-5);
  expect(relative(one.gradient, expectedDx)).toBeLessThan(1e-5);
  expect(two).toEqual(one);
}

afterAll(() => setIsaCap(supportedIsas().at(-1)!));

describe('trainer conv and Gemm passes on every ISA path', () => {
  test.for(ISA_LEVELS)('%s: logits, weight, bias and input gradients equal plain loops', async (isa, { skip }) => {
    if (!supportedIsas().includes(isa)) skip(`${isa} is not supported by this CPU`);
    setIsaCap(isa);
    for (const [index, c] of Object.values(CASES).entries()) {
      const graph = convGraph(c, 30 + index);
      const node = graph.nodes[0];
      if (node.op !== 'conv') throw new Error('expected a conv');
      await check(graph, c, node.weight, node.bias!);
    }
    const { graph, conv } = gemmGraph(37, 6, 50);
    const node = graph.nodes[0];
    if (node.op !== 'gemm') throw new Error('expected a gemm');
    await check(graph, conv, node.weight, node.bias!);
  });
});
