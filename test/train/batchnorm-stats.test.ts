// Batch norm's running statistics after a training step, against their definition (PyTorch's, which the exported
// ONNX model is read with): running = (1 - momentum) running + momentum * batch statistic, where the variance is
// the unbiased one (n / (n - 1) times the biased variance the step normalises with). No other test reads them.
import { describe, expect, test } from 'vitest';
import { GraphBuilder } from '../../src/train/architectures.js';
import { graphTensors, type TrainGraph } from '../../src/train/graph.js';
import { TrainNet } from '../../src/train/native-net.js';
import { uniformValues } from './graphs.js';

const [CHANNELS, SIDE, BATCH] = [3, 3, 4];

/** input [3, 3, 3] -> 1x1 conv to 2 channels -> batch norm -> flatten -> gemm to 2 classes. */
function bnGraph(): TrainGraph {
  const b = new GraphBuilder([CHANNELS, SIDE, SIDE], 7);
  const bn = b.batchnorm(b.conv('input', '/conv', 2, 1, 1), '/bn');
  return b.finish(b.gemm(b.flatten(bn, '/flatten'), '/fc', 2));
}

describe('batch norm running statistics', () => {
  test('a step moves them by momentum toward the batch mean and the unbiased batch variance', async () => {
    const graph = bnGraph();
    const conv = graph.nodes.find((n) => n.op === 'conv')!;
    const bn = graph.nodes.find((n) => n.op === 'batchnorm')!;
    if (conv.op !== 'conv' || bn.op !== 'batchnorm') throw new Error('unexpected graph');
    const input = uniformValues(BATCH * CHANNELS * SIDE * SIDE, 5, -1, 2);
    const net = TrainNet.build(graph);
    await net.step({ input, labels: Int32Array.from([0, 1, 1, 0]), batch: BATCH, threads: 2 }, { lr: 0.1, momentum: 0.9, weightDecay: 0 });
    const tensors = graphTensors(net.trained());
    const index = graph.nodes.filter((n) => n.op === 'conv' || n.op === 'gemm' || n.op === 'batchnorm').indexOf(bn);
    expect(index).toBe(1); // conv weight (no bias), then bn scale, bias, mean, var
    const [mean, variance] = [tensors[3], tensors[4]];
    const pixels = SIDE * SIDE;
    const n = BATCH * pixels;
    for (let c = 0; c < 2; c++) {
      const values: number[] = [];
      for (let b = 0; b < BATCH; b++) {
        for (let p = 0; p < pixels; p++) {
          let y = 0;
          for (let k = 0; k < CHANNELS; k++) y += conv.weight[c * CHANNELS + k] * input[(b * CHANNELS + k) * pixels + p];
          values.push(y);
        }
      }
      const m = values.reduce((a, v) => a + v, 0) / n;
      const unbiased = values.reduce((a, v) => a + (v - m) ** 2, 0) / (n - 1);
      expect(mean[c]).toBeCloseTo(0.9 * bn.mean[c] + 0.1 * m, 5);
      expect(variance[c]).toBeCloseTo(0.9 * bn.var[c] + 0.1 * unbiased, 5);
    }
  });
});
