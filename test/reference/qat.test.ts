// QAT's fake quantization (native/train, through src/train/qat.ts) against the independent references: the weight
// codes it derives from its current float weights equal the brute-force clip search, and its forward pass equals the
// reference of quantization.md (int-semantics.ts) run on those codes, before and after SGD steps, on a crafted
// network whose 2x2 average pool lands on rounding ties and on imported fixtures under mixed policies.
import { describe, expect, test } from 'vitest';
import { makeDataset, type Dataset } from '../../src/data/index.js';
import type { Graph } from '../../src/graph/ir.js';
import type { IntPlanOp, IntPlanSpec } from '../../src/native.js';
import { calibrate } from '../../src/quant/calibrate.js';
import { layerNames, type Policy } from '../../src/quant/policy.js';
import { QatNet, qatNetSpec } from '../../src/train/qat.js';
import { Random } from '../../src/util/random.js';
import { loadFixture } from '../support/fixtures.js';
import { referenceWeightCodes } from './clip-search.js';
import { runReference, runValues } from './int-semantics.js';

/** input [1,4,4] -> conv 3x3 pad 1 (3 channels) + ReLU -> 2x2 average pool -> flatten -> gemm to 4 classes. */
function pooledGraph(seed: number): Graph {
  const random = Random.fromSeed(seed);
  const values = (n: number, scale: number) => Float32Array.from({ length: n }, () => (random.uniform() - 0.5) * scale);
  return {
    input: { name: 'x', shape: [1, 4, 4], rank: 4 },
    output: 'logits',
    nodes: [
      { op: 'conv', name: 'conv', inputs: ['x'], output: 'c', weight: values(27, 1), bias: values(3, 0.2), outChannels: 3, kernel: [3, 3], strides: [1, 1], pads: [1, 1, 1, 1], group: 1 },
      { op: 'clamp', name: 'relu', inputs: ['c'], output: 'r', range: { min: 0, max: Infinity } },
      { op: 'avgpool', name: 'pool', inputs: ['r'], output: 'p', kernel: [2, 2], strides: [2, 2], pads: [0, 0, 0, 0], countIncludePad: false },
      { op: 'flatten', name: 'flat', inputs: ['p'], output: 'f' },
      { op: 'gemm', name: 'fc', inputs: ['f'], output: 'logits', weight: values(48, 1), bias: values(4, 0.2), outFeatures: 4 },
    ],
    shapes: new Map([['x', [1, 4, 4]], ['c', [3, 4, 4]], ['r', [3, 4, 4]], ['p', [3, 2, 2]], ['f', [12, 1, 1]], ['logits', [4, 1, 1]]]),
  };
}

function syntheticData(shape: readonly [number, number, number], classes: number, count: number, seed: number): Dataset {
  const random = Random.fromSeed(seed);
  const images = Float32Array.from({ length: count * shape[0] * shape[1] * shape[2] }, () => random.uniform());
  return makeDataset({ name: 'synthetic', shape, images, labels: Int32Array.from({ length: count }, () => random.integer(classes)), classes });
}

function mixedPolicy(graph: Graph, seed: number): Policy {
  const random = Random.fromSeed(seed);
  return { format: 'arq-policy/1', model: 'any', layers: layerNames(graph).map((name) => ({ name, wbits: 2 + random.integer(7), abits: 2 + random.integer(7) })) };
}

/** The net's current weights through the reference clip search, on the QAT description's grids: the integer plan the net should be. */
function referenceSpec(net: QatNet, graph: Graph, policy: Policy, calibration: Awaited<ReturnType<typeof calibrate>>): IntPlanSpec {
  const spec = qatNetSpec(net.trained(), policy, calibration);
  const layers = graph.nodes.filter((n) => n.op === 'conv' || n.op === 'gemm');
  let next = 0;
  const ops = spec.ops.map((op): IntPlanOp => {
    if (op.op !== 'conv' && op.op !== 'gemm') return op;
    const channels = layers[next++].op === 'conv' ? (op as { outChannels: number }).outChannels : (op as { outFeatures: number }).outFeatures;
    const { codes, scales } = referenceWeightCodes(op.weight, channels, op.wbits);
    return { ...op, weight: codes, weightScales: scales };
  });
  return { ...spec, ops };
}

/**
 * Runs `steps` SGD steps, checking logits and codes before the first (unless `onlyLast`) and after each; returns the
 * last reference spec and the images.
 */
async function checkAgainstReference(graph: Graph, policy: Policy, classes: number, { steps = 3, count = 7, onlyLast = false } = {}): Promise<{ spec: IntPlanSpec; images: Float32Array }> {
  const shape = graph.input.shape;
  const size = shape[0] * shape[1] * shape[2];
  const data = syntheticData(shape, classes, 40, 1);
  const calibration = await calibrate(graph, data, { sigma: 0.25, count: 32, seed: 3, threads: 2 });
  const net = QatNet.build(graph, policy, calibration);
  const images = syntheticData(shape, classes, count, 9).images;
  const trainStep = (step: number) => net.step(
    { input: data.images.slice(step * 8 * size, (step + 1) * 8 * size), labels: data.labels.slice(step * 8, (step + 1) * 8), batch: 8, threads: 2 },
    { lr: 0.1, momentum: 0.9, weightDecay: 1e-3 },
  );
  for (let step = 0; ; step++) {
    if (onlyLast && step < steps) {
      await trainStep(step);
      continue;
    }
    const spec = referenceSpec(net, graph, policy, calibration);
    const layerOps = spec.ops.filter((op): op is Extract<IntPlanOp, { op: 'conv' | 'gemm' }> => op.op === 'conv' || op.op === 'gemm');
    expect(await net.predict(images, count, 2), `logits before step ${step + 1}`).toEqual(runReference(spec, images, count));
    // (codes() reports the codes of the last forward pass: after a step they are stale until the next one.)
    const codes = net.codes();
    layerOps.forEach((op, i) => {
      expect(codes[i].codes, `layer ${i} codes before step ${step + 1}`).toEqual(op.weight);
      expect(codes[i].scales, `layer ${i} scales before step ${step + 1}`).toEqual(op.weightScales);
    });
    if (step === steps) return { spec, images };
    await trainStep(step);
  }
}

describe('QAT fake quantization equals the reference of quantization.md', () => {
  test.each([1, 2, 3])('a conv, an average pool on ties and a gemm (seed %i)', async (seed) => {
    const graph = pooledGraph(seed);
    const { spec, images } = await checkAgainstReference(graph, mixedPolicy(graph, seed), 4);
    // The pool's windows whose average is a tie that half away from zero would round up: the case must exist.
    let ties = 0;
    for (let n = 0; n < 7; n++) {
      const codes = runValues(spec, images.subarray(n * 16, (n + 1) * 16))[1].data;
      for (let c = 0; c < 3; c++)
        for (const [y, x] of [[0, 0], [0, 2], [2, 0], [2, 2]]) {
          const sum = [0, 1, 4, 5].reduce((s, k) => s + codes[c * 16 + (y + (k >> 2)) * 4 + x + (k & 1)], 0);
          if (sum % 4 === 2 && (sum >> 2) % 2 === 0) ties++;
        }
    }
    expect(ties).toBeGreaterThan(0);
  });

  test.each(['tiny_mlp', 'mnist_cnn'] as const)('%s under a mixed policy', async (name) => {
    const { graph } = loadFixture(name);
    await checkAgainstReference(graph, mixedPolicy(graph, 5), graph.shapes.get(graph.output)![0], { steps: 2, count: 3 });
  });

  test('resnet20 (residual adds, global pool) under a mixed policy, after two steps', async () => {
    // Two steps move the weights enough that many channels' multipliers show how they are rounded to float32.
    const { graph } = loadFixture('resnet20');
    await checkAgainstReference(graph, mixedPolicy(graph, 5), 10, { steps: 2, count: 2, onlyLast: true });
  });
});
