import { describe, expect, test } from 'vitest';
import { makeDataset, type Dataset } from '../../src/data/index.js';
import type { Graph } from '../../src/graph/ir.js';
import { IntPlan } from '../../src/engine/int-plan.js';
import { calibrate } from '../../src/quant/calibrate.js';
import { layerNames, uniformPolicy, type Policy } from '../../src/quant/policy.js';
import { buildArchitecture, GraphBuilder } from '../../src/train/architectures.js';
import { certifiedCount, IbpNet, ibpSchedule, ibpTrain, withoutBatchNorm } from '../../src/train/ibp.js';
import { withLayerTensors } from '../../src/train/qat.js';
import { Random } from '../../src/util/random.js';

function syntheticData(shape: readonly [number, number, number], classes: number, count: number, seed: number): Dataset {
  const random = Random.fromSeed(seed);
  const images = Float32Array.from({ length: count * shape[0] * shape[1] * shape[2] }, () => random.uniform());
  const labels = Int32Array.from({ length: count }, () => random.integer(classes));
  return makeDataset({ name: 'synthetic', shape, images, labels, classes });
}

/** conv(1 -> 3, 3x3, stride 2, VALID) + ReLU -> flatten -> gemm(4) + ReLU -> gemm(3), random biases. */
function tinyGraph(seed: number): Graph {
  const b = new GraphBuilder([1, 7, 7], seed);
  let x = b.clamp(b.conv('input', '/conv', 3, 3, 2, 1, 0, true), '/relu1', { min: 0, max: Infinity });
  x = b.clamp(b.gemm(b.flatten(x, '/flatten'), '/fc1', 4), '/relu2', { min: 0, max: Infinity });
  const graph = b.finish(b.gemm(x, '/fc2', 3)) as Graph;
  const random = Random.fromSeed(seed, 7);
  return withLayerTensors(graph, layerTensors(graph).map((t) => t.map(() => random.normal() * 0.6)));
}

const layerTensors = (graph: Graph) => graph.nodes.flatMap((n) => (n.op === 'conv' || n.op === 'gemm' ? (n.bias ? [n.weight, n.bias] : [n.weight]) : []));

const hidden = { kappa: 0.7, delta: 0.3, lambda: 0.2 };

describe('the IBP loss gradient (float mode) matches central finite differences', () => {
  test('every weight and bias with eps, kappa and lambda on', async () => {
    const graph = tinyGraph(3);
    const data = syntheticData([1, 7, 7], 3, 4, 5);
    const request = { input: data.images, labels: data.labels, batch: 4, threads: 1, eps: 0.05, ...hidden };
    const net = IbpNet.build(graph);
    await net.gradients(request);
    const grads = net.grads();
    const tensors = net.tensors();
    const h = 1e-3;
    let checked = 0;
    let bad = 0;
    for (let t = 0; t < tensors.length; t++) {
      for (let i = 0; i < tensors[t].length; i++) {
        const loss = async (delta: number) => {
          const moved = tensors.map((x) => x.slice());
          moved[t][i] += delta;
          return (await IbpNet.build(withLayerTensors(graph, moved)).gradients(request)).loss;
        };
        const fd = ((await loss(h)) - (await loss(-h))) / (2 * h);
        checked++;
        if (Math.abs(fd - grads[t][i]) > 2e-3 + 0.02 * Math.abs(fd)) bad++;
      }
    }
    expect(checked).toBeGreaterThan(50);
    // A ReLU kink inside +-h may break one difference; the rule holds everywhere else.
    expect(bad).toBeLessThanOrEqual(1);
  });

  test('with eps = 0 the boxes are points: certified means correct with a positive margin, width 0', async () => {
    const graph = tinyGraph(4);
    const data = syntheticData([1, 7, 7], 3, 16, 6);
    const net = IbpNet.build(graph);
    const stats = await net.gradients({ input: data.images, labels: data.labels, batch: 16, threads: 1, eps: 0, ...hidden });
    expect(stats.width).toBe(0);
    const { logits, lower, upper } = await net.bounds(data.images, 16, 0, 1);
    expect(lower).toEqual(logits);
    expect(upper).toEqual(logits);
    expect(stats.certified).toBe(certifiedCount(lower, upper, logits, data.labels, 3).certified);
    expect(stats.certified).toBeLessThanOrEqual(stats.correct);
  });
});

/** Points drawn uniformly in each image's box [x - eps, x + eps] ∩ [0, 1], plus the box's two corners. */
function boxSamples(images: Float32Array, size: number, eps: number, perImage: number, seed: number): Float32Array {
  const random = Random.fromSeed(seed);
  const count = images.length / size;
  const out = new Float32Array(count * perImage * size);
  for (let b = 0; b < count; b++) {
    for (let s = 0; s < perImage; s++) {
      for (let i = 0; i < size; i++) {
        const x = images[b * size + i];
        const lo = Math.max(x - eps, 0);
        const hi = Math.min(x + eps, 1);
        const u = s === 0 ? 0 : s === 1 ? 1 : random.uniform();
        out[(b * perImage + s) * size + i] = Math.fround(lo + u * (hi - lo));
      }
    }
  }
  return out;
}

describe('QA-IBP: the trained network is the deployed integer network, and its bounds hold for it', () => {
  const policies: [string, (graph: Graph) => Policy][] = [
    ['w8a8', (graph) => uniformPolicy(graph, 'x', 8, 8)],
    ['w4a4', (graph) => uniformPolicy(graph, 'x', 4, 4)],
    ['mixed', (graph) => ({ format: 'arq-policy/1', model: 'x', layers: layerNames(graph).map((name, i) => ({ name, wbits: [8, 3, 6, 5][i % 4], abits: [8, 4, 7, 2][i % 4] })) })],
  ];
  test.each(policies)('ibp-small under %s: point logits = the integer plan, every sampled point inside the bounds, after Adam steps', async (_, policyOf) => {
    const graph = withoutBatchNorm(buildArchitecture('ibp-small', { input: [1, 28, 28], classes: 10, seed: 2 }));
    const data = syntheticData([1, 28, 28], 10, 48, 1);
    const calibration = await calibrate(graph, data, { sigma: 0, count: 32, seed: 3, threads: 2 });
    const policy = policyOf(graph);
    const net = IbpNet.build(graph, { policy, calibration });
    const size = 784;
    for (let step = 0; step < 3; step++) {
      const input = data.images.slice(step * 8 * size, (step + 1) * 8 * size);
      const labels = data.labels.slice(step * 8, (step + 1) * 8);
      await net.step({ input, labels, batch: 8, threads: 2, eps: 4 / 255, ...hidden, lr: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 });
    }
    const plan = IntPlan.build(net.trained(), policy, calibration);
    const images = data.images.slice(0, 6 * size);
    const eps = 8 / 255;
    const { logits, lower, upper } = await net.bounds(images, 6, eps, 2);
    expect(logits).toEqual(await plan.run(images, 6, 2));
    const perImage = 40;
    const samples = await plan.run(boxSamples(images, size, eps, perImage, 11), 6 * perImage, 2);
    let violations = 0;
    let slack = Infinity;
    for (let b = 0; b < 6; b++) {
      for (let s = 0; s < perImage; s++) {
        for (let k = 0; k < 10; k++) {
          const z = samples[(b * perImage + s) * 10 + k];
          if (z < lower[b * 10 + k] || z > upper[b * 10 + k]) violations++;
          slack = Math.min(slack, upper[b * 10 + k] - lower[b * 10 + k]);
        }
      }
    }
    expect(violations).toBe(0);
    expect(slack).toBeGreaterThanOrEqual(0);
    // The verifier's IBP (native/verify) on the same boxes gives the very same logit bounds, and certifies every
    // image training counted as certified.
    const lo = images.map((x) => Math.max(x - eps, 0));
    const hi = images.map((x) => Math.min(x + eps, 1));
    const labels = data.labels.slice(0, 6);
    const reference = await plan.intervalBounds(lo, hi, 6, 2, labels);
    const out = reference.values[reference.values.length - 1];
    expect(lower).toEqual(out.lo);
    expect(upper).toEqual(out.hi);
    for (let b = 0; b < 6; b++) {
      if (certifiedCount(lower.subarray(b * 10, b * 10 + 10), upper.subarray(b * 10, b * 10 + 10), logits.subarray(b * 10, b * 10 + 10), labels.subarray(b, b + 1), 10).certified) expect(reference.verified[b]).toBe(1);
    }
  });
});

describe('the schedule', () => {
  test('zero through the warm-up, linear to 1 at 90% of the steps, then held; the learning rate drops for the last 10%', () => {
    expect(ibpSchedule(0, 100, 0.1)).toEqual({ ramp: 0, lrFactor: 1 });
    expect(ibpSchedule(10, 100, 0.1).ramp).toBe(0);
    expect(ibpSchedule(50, 100, 0.1).ramp).toBeCloseTo(0.5, 12);
    expect(ibpSchedule(90, 100, 0.1)).toEqual({ ramp: 1, lrFactor: 0.1 });
    expect(ibpSchedule(99, 100, 0.1)).toEqual({ ramp: 1, lrFactor: 0.1 });
  });

  test('a ramp from a start fraction holds it through the warm-up and still reaches 1 at 90%', () => {
    expect(ibpSchedule(0, 100, 0.1, 0.5)).toEqual({ ramp: 0.5, lrFactor: 1 });
    expect(ibpSchedule(10, 100, 0.1, 0.5).ramp).toBe(0.5);
    expect(ibpSchedule(50, 100, 0.1, 0.5).ramp).toBeCloseTo(0.75, 12);
    expect(ibpSchedule(90, 100, 0.1, 0.5)).toEqual({ ramp: 1, lrFactor: 0.1 });
    for (const step of [0, 10, 50, 95]) expect(ibpSchedule(step, 100, 0.1, 1).ramp).toBe(1);
  });
});

describe('ibpTrain', () => {
  test('a run interrupted after its first epoch and resumed from the checkpoint ends with the uninterrupted weights', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const path = await import('node:path');
    const dir = mkdtempSync(path.join(tmpdir(), 'arq-ibp-'));
    try {
      const data = syntheticData([1, 7, 7], 3, 40, 8);
      const options = { graph: tinyGraph(5), start: 'tiny', eps: 0.05, epochs: 3, batch: 16, lr: 0.01, threads: 2, train: data, test: data };
      const whole = await ibpTrain(options);
      const checkpoint = path.join(dir, 'c.json');
      const controller = new AbortController();
      await expect(ibpTrain({ ...options, checkpoint, signal: controller.signal, onEpoch: () => controller.abort() })).rejects.toThrow();
      const resumed = await ibpTrain({ ...options, checkpoint, resume: true });
      expect(resumed.history).toEqual(whole.history.map((r, i) => ({ ...r, seconds: resumed.history[i].seconds })));
      expect(layerTensors(resumed.graph)).toEqual(layerTensors(whole.graph));
      const eps = whole.history.map((r) => r.eps);
      expect(eps[0] < eps[1] && eps[1] < eps[2] && eps[2] <= 0.05).toBe(true);
      await expect(ibpTrain({ ...options, kappa: 0.1, checkpoint, resume: true })).rejects.toThrow(/different settings \(kappa: 0.5 there, 0.1 here\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('epsStart: the first step trains at that eps, kappa and lambda at the same fraction of their targets', async () => {
    const data = syntheticData([1, 7, 7], 3, 32, 9);
    const firstStep = async (epsStart?: number) => {
      const seen: { eps: number; kappa: number; lambda: number }[] = [];
      const result = await ibpTrain({ graph: tinyGraph(6), start: 'tiny', eps: 0.04, epsStart, epochs: 2, batch: 16, lr: 0.01, kappa: 0.5, lambda: 0.002, threads: 1, train: data, onProgress: (p) => seen.push(p) });
      return { first: seen[0], settings: result.settings, history: result.history };
    };
    const atTarget = await firstStep(0.04);
    expect(atTarget.first).toMatchObject({ eps: 0.04, kappa: 0.5, lambda: 0.002 });
    expect(atTarget.history.map((r) => r.eps)).toEqual([0.04, 0.04]);
    expect(atTarget.settings.epsStart).toBe(0.04);
    const half = await firstStep(0.02);
    expect(half.first.eps).toBeCloseTo(0.02, 12);
    expect(half.first.kappa).toBeCloseTo(0.25, 12);
    expect(half.first.lambda).toBeCloseTo(0.001, 12);
    expect((await firstStep()).first).toMatchObject({ eps: 0, kappa: 0, lambda: 0 });
    await expect(firstStep(0.05)).rejects.toThrow(/epsStart/);
  });
});
