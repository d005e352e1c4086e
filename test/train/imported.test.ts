/**
 * Training and QAT of models arq imports (the PyTorch-exported fixtures): a few steps each, the result exported with
 * the model's own operators, re-imported, run in ONNX Runtime and compared with the trainer; the QAT output carries
 * its calibration, so the integer engine on the written file is the network QAT trained, bit for bit.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { makeDataset, writeNpySync, type Dataset } from '../../src/data/index.js';
import { createClassifier } from '../../src/engine/classifier.js';
import type { Graph } from '../../src/graph/ir.js';
import { loadModel, modelFromBytes, type LoadedModel } from '../../src/onnx/model.js';
import { decodeModel } from '../../src/onnx/import.js';
import { calibrate } from '../../src/quant/calibrate.js';
import { CALIBRATION_KEY, encodeCalibration } from '../../src/quant/carried-calibration.js';
import { IntPlan } from '../../src/engine/int-plan.js';
import { uniformPolicy } from '../../src/quant/policy.js';
import { prepareQuantization } from '../../src/quant/quantize.js';
import { exportTrainGraph } from '../../src/train/export.js';
import type { TrainGraph } from '../../src/train/graph.js';
import { qatTrain } from '../../src/train/fine-tune.js';
import { TrainNet } from '../../src/train/native-net.js';
import { fineTune, QatNet } from '../../src/train/qat.js';
import { train } from '../../src/train/train.js';
import { Random } from '../../src/util/random.js';
import { FIXTURES, fixturePath, loadFixture, relativeMaxDiff, type FixtureName } from '../support/fixtures.js';
import { thresholdModel } from '../support/threshold.js';

const dir = mkdtempSync(path.join(tmpdir(), 'arq-imported-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SIGMA = 0.25;
const THREADS = 2;

function randomImages(graph: Graph, count: number, seed: number): Float32Array {
  const random = Random.fromSeed(seed);
  const [c, h, w] = graph.input.shape;
  return Float32Array.from({ length: count * c * h * w }, () => random.uniform());
}

/** `count` random images and labels for `graph`, also written as npy:X,Y for the file-based commands. */
function randomData(graph: Graph, count: number, seed: number): { data: Dataset; spec: string } {
  const random = Random.fromSeed(seed + 1);
  const classes = graph.shapes.get(graph.output)![0];
  const images = randomImages(graph, count, seed);
  const labels = Int32Array.from({ length: count }, () => random.integer(classes));
  const x = path.join(dir, `x-${seed}.npy`);
  const y = path.join(dir, `y-${seed}.npy`);
  writeNpySync(x, images, [count, ...graph.input.shape]);
  writeNpySync(y, labels, [count]);
  return { data: makeDataset({ name: `random-${seed}`, shape: graph.input.shape, images, labels, classes }), spec: `npy:${x},${y}` };
}

/** The ONNX operators of a file, as a sorted multiset. */
function operators(bytes: Uint8Array): string[] {
  return decodeModel(bytes, 'model').graph!.node!.map((n) => n.opType ?? '').sort();
}

async function ortLogits(model: LoadedModel, images: Float32Array, count: number): Promise<Float32Array> {
  const classifier = await createClassifier(model, 'ort', { threads: THREADS });
  try {
    return await classifier.logits(images, count);
  } finally {
    await classifier.close();
  }
}

const changed = (before: Graph, after: TrainGraph) =>
  after.nodes.some((node, i) => (node.op === 'conv' || node.op === 'gemm') && node.weight.some((w, k) => w !== (before.nodes[i] as typeof node).weight[k]));

describe('fine-tuning the PyTorch-exported fixtures', () => {
  test.each(FIXTURES.map((name) => [name]))('%s: float training, export, re-import, ONNX Runtime = trainer', async (name: FixtureName) => {
    const model = loadFixture(name);
    const { data } = randomData(model.graph, 16, 10);
    const result = await train({ init: model, train: data, sigma: SIGMA, epochs: 1, batch: 8, lr: 0.02, threads: THREADS });
    expect(changed(model.graph, result.graph)).toBe(true);
    const bytes = exportTrainGraph(result.graph);
    // The graph's own operators come back: Pad, Tile, Clip (ReLU6), Sub/Div/Mul normalisation, depthwise Conv, Add.
    expect(operators(bytes)).toEqual(operators(exportTrainGraph(model.graph)));
    const back = modelFromBytes(bytes, `${name} trained`);
    expect(back.graph.nodes.map((n) => [n.op, n.name])).toEqual(model.graph.nodes.map((n) => [n.op, n.name]));
    const images = randomImages(model.graph, 5, 77);
    const trainer = await TrainNet.build(result.graph).predict(images, 5, THREADS);
    expect(relativeMaxDiff(await ortLogits(back, images, 5), trainer)).toBeLessThan(1e-4);
  });

  // The fixtures, and a model with a rank-2 input ([N, 1] -> Gemm).
  const rank2 = () => {
    const file = path.join(dir, 'threshold.onnx');
    writeFileSync(file, thresholdModel(0.5).bytes);
    return file;
  };
  test.each([...FIXTURES.map((name) => [name, () => fixturePath(name)] as const), ['threshold', rank2] as const])('%s: W4A4 QAT writes a file whose integer engine is the trained network, bit for bit', async (name, file) => {
    const init = file();
    const model = await loadModel(init);
    const { data, spec } = randomData(model.graph, 24, 20);
    const out = path.join(dir, `${name}-w4a4.onnx`);
    const settings = { sigma: SIGMA, steps: 2, batch: 8, lr: 0.02, seed: 3, threads: THREADS };
    await qatTrain({ ...settings, init, bits: 'w4a4', data: spec, calibrationCount: 16, out, command: 'test' });
    expect(existsSync(out.replace(/\.onnx$/, '.json')) && existsSync(out.replace(/\.onnx$/, '.policy.json'))).toBe(true);

    // The same run by hand: its fake-quantized forward pass is the network QAT trained.
    const calibration = await calibrate(model.graph, data, { sigma: SIGMA, count: 16, seed: 3, threads: THREADS });
    const policy = uniformPolicy(model.graph, model.sha256, 4, 4);
    const result = await fineTune({ ...settings, graph: model.graph, policy, calibration, train: data });
    const images = randomImages(model.graph, 7, 99);
    const trained = await QatNet.build(result.graph, policy, calibration).predict(images, 7, THREADS);

    const written = await loadModel(out);
    expect(operators(written.bytes)).toEqual(operators(exportTrainGraph(model.graph)));
    // Calibration data that does not exist: the grids must come from the file, not from a new calibration.
    const quantization = await prepareQuantization(written, { bits: 'w4a4', data: 'npy:/nonexistent/x.npy,/nonexistent/y.npy', sigma: SIGMA, threads: THREADS });
    const engine = IntPlan.build(written.graph, quantization.policy, quantization.calibration);
    expect(await engine.run(images, 7, THREADS)).toEqual(trained);

    const float = await TrainNet.build(result.graph).predict(images, 7, THREADS);
    expect(relativeMaxDiff(await ortLogits(written, images, 7), float)).toBeLessThan(1e-4);
  });
});

describe('what would fail at the end fails before the first step', () => {
  // A fully connected layer straight on an image-shaped input: arq runs it, ONNX Gemm needs a rank-2 input.
  const unexportable: Graph = {
    input: { name: 'x', shape: [4, 1, 1], rank: 4 },
    output: 'y',
    nodes: [{ op: 'gemm', name: 'fc', inputs: ['x'], output: 'y', weight: new Float32Array(12).fill(0.5), bias: undefined, outFeatures: 3 }],
    shapes: new Map([['x', [4, 1, 1]], ['y', [3, 1, 1]]]),
  };
  const asModel = (graph: Graph): LoadedModel => ({ path: 'hand-made.onnx', bytes: new Uint8Array(), sha256: 'x', opset: 13, producer: '', graph });

  test('a graph arq cannot export is refused before training, naming the node', async () => {
    const { data } = randomData(unexportable, 8, 30);
    let steps = 0;
    await expect(train({ init: asModel(unexportable), train: data, sigma: 0, epochs: 1, batch: 4, threads: 1, onProgress: () => steps++ }))
      .rejects.toThrow(/node 'fc' \(gemm\) cannot be exported/);
    const unknown = { ...unexportable, nodes: [{ ...unexportable.nodes[0], op: 'resize' }] } as unknown as Graph;
    await expect(train({ init: asModel(unknown), train: data, sigma: 0, epochs: 1, batch: 4, threads: 1, onProgress: () => steps++ }))
      .rejects.toThrow(/node 'fc': operator 'resize' cannot be exported/);
    expect(steps).toBe(0);
  });

  test('a rank-2 input exports as [batch, F], per-feature constants as [F]', async () => {
    const graph: Graph = {
      input: { name: 'x', shape: [4, 1, 1], rank: 2 },
      output: 'y',
      nodes: [
        { op: 'elementwise', name: 'norm', inputs: ['x'], output: 'n', operation: 'sub', constant: Float32Array.from([0.1, 0.2, 0.3, 0.4]), constantFirst: false },
        { ...unexportable.nodes[0], inputs: ['n'], bias: Float32Array.from([1, -1, 0.5]) } as Graph['nodes'][number],
      ],
      shapes: new Map([['x', [4, 1, 1]], ['n', [4, 1, 1]], ['y', [3, 1, 1]]]),
    };
    const back = modelFromBytes(exportTrainGraph(graph), 'rank2');
    expect(back.graph.input).toEqual(graph.input);
    const images = randomImages(graph, 3, 5);
    expect(relativeMaxDiff(await ortLogits(back, images, 3), await TrainNet.build(graph).predict(images, 3, 1))).toBeLessThan(1e-6);
  });

  test('--out that cannot be written, or that is the input model, is refused before training', async () => {
    const model = loadFixture('tiny_mlp');
    const { spec } = randomData(model.graph, 8, 40);
    let steps = 0;
    const run = (out: string) => qatTrain({ init: fixturePath('tiny_mlp'), bits: 'w4a4', data: spec, sigma: 0, steps: 1, batch: 4, calibrationCount: 8, threads: 1, out, command: 'test', onProgress: () => steps++ });
    await expect(run(path.join(dir, 'missing-folder', 'q.onnx'))).rejects.toThrow(/out .*missing-folder.*: no such directory /);
    await expect(run(fixturePath('tiny_mlp'))).rejects.toThrow(/out .*tiny_mlp\.onnx: is the input /);
    await expect(run(dir)).rejects.toThrow(/is a directory; give a file path/);
    expect(steps).toBe(0);
  });

  test('a policy that does not fit the model is refused before training', async () => {
    const model = loadFixture('tiny_mlp');
    const { spec } = randomData(model.graph, 8, 50);
    const other = path.join(dir, 'other.policy.json');
    const { savePolicy } = await import('../../src/quant/policy.js');
    await savePolicy(other, { format: 'arq-policy/1', model: model.sha256, layers: [{ name: 'no-such-layer', wbits: 4, abits: 4 }] });
    let steps = 0;
    await expect(qatTrain({ init: fixturePath('tiny_mlp'), policy: other, data: spec, sigma: 0, steps: 1, batch: 4, calibrationCount: 8, threads: 1, out: path.join(dir, 'p.onnx'), command: 'test', onProgress: () => steps++ }))
      .rejects.toThrow(/no-such-layer/);
    expect(steps).toBe(0);
  });

  test('a carried calibration that does not fit the graph is refused, naming the file', async () => {
    const mlp = loadFixture('tiny_mlp');
    const cnn = loadFixture('mnist_cnn');
    const calibration = await calibrate(cnn.graph, randomData(cnn.graph, 8, 70).data, { sigma: 0, count: 8, seed: 0, threads: 1 });
    const wrong = modelFromBytes(exportTrainGraph(mlp.graph, { [CALIBRATION_KEY]: encodeCalibration(calibration) }), 'wrong.onnx');
    await expect(prepareQuantization(wrong, { bits: 'w8a8', data: 'mnist', sigma: 0 })).rejects.toThrow(/wrong\.onnx: the carried calibration does not fit the graph/);
  });

  test('evaluation data that does not fit the model is refused before training, not after it', async () => {
    const model = loadFixture('tiny_mlp');
    const { data, spec } = randomData(model.graph, 8, 80);
    const wrong = makeDataset({ name: 'wrong-size', shape: [1, 4, 4], images: new Float32Array(2 * 16), labels: new Int32Array(2), classes: 2 });
    let steps = 0;
    await expect(train({ init: model, train: data, test: wrong, sigma: 0, epochs: 1, batch: 4, threads: 1, onProgress: () => steps++ }))
      .rejects.toThrow(/data wrong-size has images of 16 values, .*tiny_mlp\.onnx expects 64/);
    await expect(qatTrain({ init: fixturePath('tiny_mlp'), bits: 'w4a4', data: spec, test: wrong, sigma: 0, steps: 1, batch: 4, calibrationCount: 8, threads: 1, out: path.join(dir, 't.onnx'), command: 'test', onProgress: () => steps++ }))
      .rejects.toThrow(/data wrong-size has images of 16 values/);
    expect(steps).toBe(0);
  });

  test('resuming without a checkpoint file is an error, not a fresh start', async () => {
    const model = loadFixture('tiny_mlp');
    const { data } = randomData(model.graph, 8, 60);
    await expect(train({ init: model, train: data, sigma: 0, epochs: 1, batch: 4, threads: 1, resume: true, checkpoint: path.join(dir, 'none.checkpoint.json') }))
      .rejects.toThrow(/cannot resume: there is no checkpoint .*none\.checkpoint\.json/);
  });
});
