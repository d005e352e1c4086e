// The trainer's optimiser over several steps against an independent computation: SGD with momentum and weight decay
// (g = grad + wd * w; v = momentum * v + g; w -= lr * v, in float32), fed the gradients the net reports at the same
// weights, under a changing learning rate; and the schedules' rates against their formulas at hand-checkable steps.
import { describe, expect, test } from 'vitest';
import { GraphBuilder } from '../../src/train/architectures.js';
import { graphTensors } from '../../src/train/graph.js';
import { TrainNet } from '../../src/train/native-net.js';
import { learningRate, type TrainSettings } from '../../src/train/train.js';
import { uniformValues } from '../train/graphs.js';

const f = Math.fround;

/** Conv 3x3 with bias, ReLU, flatten, gemm: input [2, 4, 4], 3 classes. */
function smallNet(): TrainNet {
  const b = new GraphBuilder([2, 4, 4], 5);
  const y = b.clamp(b.conv('input', '/conv', 3, 3, 1), '/relu', { min: 0, max: Infinity });
  return TrainNet.build(b.finish(b.gemm(b.flatten(y, '/flatten'), '/fc', 3)));
}

function batchOf(step: number): { input: Float32Array; labels: Int32Array; batch: number; threads: number } {
  return { input: uniformValues(6 * 32, 100 + step, -1, 1), labels: Int32Array.from({ length: 6 }, (_, i) => (i + step) % 3), batch: 6, threads: 2 };
}

describe('SGD with momentum and weight decay, step by step', () => {
  test.each([
    ['momentum and weight decay', 0.9, 0.05],
    ['momentum only', 0.5, 0],
    ['weight decay only', 0, 0.1],
  ])('%s over five steps with a changing rate', async (_, momentum, weightDecay) => {
    const net = smallNet();
    let w = graphTensors(net.trained());
    let v = w.map((t) => new Float32Array(t.length));
    const rates = [0.2, 0.15, 0.1, 0.05, 0.01];
    for (const [k, lr] of rates.entries()) {
      const batch = batchOf(k);
      await net.gradients(batch);
      const grads = net.grads();
      expect(grads.some((g) => g.some((x) => x !== 0))).toBe(true);
      v = v.map((vt, t) => vt.map((vi, i) => f(f(f(momentum) * vi) + f(grads[t][i] + f(f(weightDecay) * w[t][i])))));
      w = w.map((wt, t) => wt.map((wi, i) => f(wi - f(f(lr) * v[t][i]))));
      await net.step(batch, { lr, momentum, weightDecay });
      expect(net.momenta(), `momenta after step ${k + 1}`).toEqual(v);
      expect(graphTensors(net.trained()), `weights after step ${k + 1}`).toEqual(w);
    }
  });
});

describe('learning-rate schedules', () => {
  const settings: TrainSettings = { arch: 'mnist-cnn', width: 1, sigma: 0, epochs: 8, batch: 1, lr: 0.4, momentum: 0.9, weightDecay: 0, schedule: 'cosine', shift: 0, seed: 0, data: '', init: undefined };
  test('cosine: lr (1 + cos(pi t / T)) / 2', () => {
    const rates = [0, 25, 50, 75, 100].map((step) => learningRate(settings, step, 100, 0));
    const expected = [0.4, 0.2 * (1 + Math.SQRT1_2), 0.2, 0.2 * (1 - Math.SQRT1_2), 0];
    rates.forEach((rate, i) => expect(rate).toBeCloseTo(expected[i], 14));
  });

  test('step: x0.1 from half the epochs, x0.01 from three quarters', () => {
    const step = { ...settings, schedule: 'step' } as const;
    expect(Array.from({ length: 8 }, (_, epoch) => learningRate(step, 0, 1, epoch))).toEqual([0.4, 0.4, 0.4, 0.4, 0.4 * 0.1, 0.4 * 0.1, 0.4 * 0.01, 0.4 * 0.01]);
  });
});
