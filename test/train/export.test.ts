import { describe, expect, test } from 'vitest';
import { createClassifier } from '../../src/engine/classifier.js';
import { modelFromBytes } from '../../src/onnx/model.js';
import { decodeModel } from '../../src/onnx/import.js';
import { buildArchitecture, type ArchitectureName } from '../../src/train/architectures.js';
import { exportTrainGraph } from '../../src/train/export.js';
import type { TrainGraph } from '../../src/train/graph.js';
import { TrainNet } from '../../src/train/native-net.js';
import { copyGraph, residualGraph, uniformValues } from './graphs.js';

function maxRelativeDiff(a: Float32Array, b: Float32Array): number {
  let scale = 1e-6;
  let diff = 0;
  for (let i = 0; i < a.length; i++) {
    scale = Math.max(scale, Math.abs(a[i]));
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
  }
  return diff / scale;
}

/** A few SGD steps, so that the batch-norm running statistics and weights are no longer their initial values. */
async function trainedBriefly(graph: TrainGraph, steps: number, batch: number): Promise<TrainNet> {
  const net = TrainNet.build(graph);
  const size = graph.input.shape.reduce((a, b) => a * b, 1);
  for (let step = 0; step < steps; step++) {
    const request = { input: uniformValues(batch * size, 100 + step), labels: Int32Array.from({ length: batch }, (_, i) => (i + step) % net.classes), batch, threads: 2 };
    await net.step(request, { lr: 0.05, momentum: 0.9, weightDecay: 5e-4 });
  }
  return net;
}

describe('trained networks as ONNX', () => {
  test.each<[string, () => TrainGraph, number]>([
    ['mnist-cnn [1,28,28]', () => buildArchitecture('mnist-cnn', { input: [1, 28, 28], classes: 10, seed: 1 }), 8],
    ['resnet20 [3,32,32]', () => buildArchitecture('resnet20', { input: [3, 32, 32], classes: 10, seed: 2 }), 4],
    ['mobilenetv2 x0.5 [3,20,20]', () => buildArchitecture('mobilenetv2', { input: [3, 20, 20], classes: 7, seed: 3, width: 0.5 }), 4],
    ['test graph (depthwise, grouped, add)', () => residualGraph(4), 8],
    ['test graph (repeats, pad)', () => copyGraph(5), 8],
  ])('%s: ONNX Runtime and arq import (BN folded) agree with the trainer', async (_, build, batch) => {
    const net = await trainedBriefly(build(), 2, batch);
    const graph = net.trained();
    const bytes = exportTrainGraph(graph);
    const ops = decodeModel(bytes, 'trained').graph!.node!.map((n) => n.opType);
    expect(ops.filter((op) => op === 'BatchNormalization').length).toBe(graph.nodes.filter((n) => n.op === 'batchnorm').length);
    const model = modelFromBytes(bytes, 'trained');
    expect(model.graph.nodes.some((n) => (n.op as string) === 'batchnorm')).toBe(false);
    const size = graph.input.shape.reduce((a, b) => a * b, 1);
    const images = uniformValues(5 * size, 77);
    const expected = await net.predict(images, 5, 2);
    for (const engine of ['ort', 'float'] as const) {
      const classifier = await createClassifier(model, engine, { threads: 2 });
      expect(maxRelativeDiff(expected, await classifier.logits(images, 5)), engine).toBeLessThan(1e-4);
      await classifier.close();
    }
  });

  test.each<[ArchitectureName, number]>([
    ['resnet20', 20], ['resnet32', 32], ['resnet56', 56], ['resnet110', 110],
  ])('%s has %i weighted layers on the main path', (name, depth) => {
    const graph = buildArchitecture(name, { input: [3, 32, 32], classes: 10, seed: 0 });
    const shortcuts = graph.nodes.filter((n) => n.op === 'conv' && n.name.includes('shortcut')).length;
    const weighted = graph.nodes.filter((n) => n.op === 'conv' || n.op === 'gemm').length - shortcuts;
    expect(weighted).toBe(depth);
    expect(shortcuts).toBe(2);
  });

  test('architectures take any input size and channel count', () => {
    for (const [c, h, w] of [[1, 28, 28], [3, 32, 32], [2, 17, 23], [4, 64, 48]] as const) {
      for (const name of ['mnist-cnn', 'resnet20', 'mobilenetv2'] as const) {
        const graph = buildArchitecture(name, { input: [c, h, w], classes: 4, seed: 0, width: 0.35 });
        expect(graph.shapes.get(graph.output)).toEqual([4, 1, 1]);
      }
    }
  });
});
