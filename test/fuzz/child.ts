/**
 * The fuzz suite's child process: runs each case of a job file through arq's pipeline and reports one line per
 * step on stdout, so that the parent (harness.ts) knows which case was running when the process died, hung or grew
 * past its memory bound. A model runs through import, the fp32 plan and its certification, calibration, the integer
 * plan and its certification; a dataset through its loader, batch prediction, calibration and certification on the
 * MNIST fixture. A thrown error is the expected outcome of a bad input and is reported, never fatal.
 *
 * Usage: node --import tsx test/fuzz/child.ts JOB.json
 */
import { readFileSync } from 'node:fs';
import { loadIdx, loadNpyDataset, makeDataset, subset, type Dataset } from '../../src/data/index.js';
import { createClassifier } from '../../src/engine/classifier.js';
import { FloatPlan } from '../../src/engine/float-plan.js';
import { predictDataset } from '../../src/engine/predict.js';
import { shapeSize } from '../../src/graph/ir.js';
import { modelFromBytes, type LoadedModel } from '../../src/onnx/model.js';
import { calibrate } from '../../src/quant/calibrate.js';
import { IntPlan } from '../../src/engine/int-plan.js';
import { uniformPolicy } from '../../src/quant/policy.js';
import { SmoothedClassifier } from '../../src/smoothing/smoothed.js';
import { FUZZ_LINE, type FuzzCase, type FuzzJob, type StepReport } from './protocol.js';

/** Inputs the harness itself builds are capped: a model asking for more per image is only planned and reported, not run. */
const MAX_INPUT_VALUES = 1 << 22;

function report(line: StepReport): void {
  process.stdout.write(`${FUZZ_LINE}${JSON.stringify(line)}\n`);
}

/** Deterministic image values in [0, 1]. */
function images(count: number, size: number): Float32Array {
  return Float32Array.from({ length: count * size }, (_, i) => (i * 0.6180339887) % 1);
}

async function certifyOn(model: LoadedModel, engine: 'float' | 'int', image: Float32Array, quantization?: Parameters<typeof SmoothedClassifier.create>[1]['quantization']): Promise<void> {
  const smoothed = await SmoothedClassifier.create(model, { engine, quantization, sigma: 0.25, seed: 1, batch: 16, threads: 1 });
  try {
    await smoothed.certify(image, { n0: 8, n: 32 });
  } finally {
    await smoothed.close();
  }
}

async function runModel(path: string, step: (name: string) => void): Promise<string | undefined> {
  step('import');
  const model = modelFromBytes(readFileSync(path), path);
  const { graph } = model;
  const size = shapeSize(graph.input.shape);
  step('float plan');
  const floatPlan = FloatPlan.build(graph);
  if (!(size <= MAX_INPUT_VALUES)) return `accepted a model whose input holds ${size} values per image`;
  const batch = images(2, size);
  await floatPlan.run(batch, 2, 1);
  step('float certification');
  await certifyOn(model, 'float', batch.subarray(0, size));
  step('calibration');
  const data = makeDataset({ name: 'fuzz-calibration', shape: graph.input.shape, images: images(4, size), labels: new Int32Array(4) });
  const calibration = await calibrate(graph, data, { sigma: 0.25, count: 4, threads: 1 });
  step('integer plan');
  const policy = uniformPolicy(graph, model.sha256, 4, 8);
  await IntPlan.build(graph, policy, calibration).run(batch, 2, 1);
  step('integer certification');
  await certifyOn(model, 'int', batch.subarray(0, size), { policy, calibration });
  return undefined;
}

async function runData(fuzzCase: FuzzCase, reference: LoadedModel, step: (name: string) => void): Promise<string | undefined> {
  step('load');
  const { images: imagesPath, labels: labelsPath } = fuzzCase.files;
  const data: Dataset = fuzzCase.kind === 'idx' ? await loadIdx(imagesPath!, labelsPath!) : await loadNpyDataset(imagesPath!, labelsPath!);
  step('prediction');
  const classifier = await createClassifier(reference, 'float', { threads: 1 });
  try {
    const few = subset(data, Array.from({ length: Math.min(8, data.count) }, (_, i) => i));
    await predictDataset(classifier, few, { batch: 4 });
  } finally {
    await classifier.close();
  }
  step('calibration');
  await calibrate(reference.graph, data, { sigma: 0.25, count: 8, threads: 1 });
  step('certification');
  const size = data.shape[0] * data.shape[1] * data.shape[2];
  await certifyOn(reference, 'float', data.images.subarray(0, size));
  return undefined;
}

async function main(): Promise<void> {
  const job = JSON.parse(readFileSync(process.argv[2], 'utf8')) as FuzzJob;
  const reference = modelFromBytes(readFileSync(job.referenceModel), job.referenceModel);
  for (const fuzzCase of job.cases) {
    let stage = 'start';
    const step = (name: string) => {
      stage = name;
      report({ id: fuzzCase.id, stage });
    };
    try {
      const note = fuzzCase.kind === 'model' ? await runModel(fuzzCase.files.model!, step) : await runData(fuzzCase, reference, step);
      report({ id: fuzzCase.id, stage, outcome: 'passed', note });
    } catch (error) {
      const isError = error instanceof Error;
      report({ id: fuzzCase.id, stage, outcome: 'rejected', error: isError ? error.name : typeof error, message: isError ? error.message : String(error) });
    }
  }
}

await main();
