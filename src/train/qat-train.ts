/**
 * `arq train --qat`: fine-tunes an ONNX model with QAT under a policy and writes the fine-tuned network.
 *
 * The calibration is the integer engine's usual one (prepareQuantization: `--calibration` noisy images of the training
 * counterpart of `--data`, at `--sigma`, seeded by `--seed`, or the calibration `--init` already carries), computed
 * once on the INITIAL model and fixed during QAT. The written ONNX holds the fine-tuned float weights with the
 * model's own operators (export.ts) and carries that calibration in its metadata (quant/carried-calibration.ts), so
 * `arq predict|certify --engine int --model OUT` builds exactly the integer network QAT trained, logit for logit,
 * without calibrating again. The sidecar JSON reports the test accuracy of the initial model (float and
 * post-training quantized) and of the result (the trained integer network, and its float weights).
 * OUT.policy.json is the policy re-keyed to OUT's sha256, for `--policy`.
 *
 * Everything knowable before training is checked before the first step: the model exports and re-imports unchanged,
 * the output files can be written and are not inputs, the policy names the model's layers, the data fit the model.
 */
import { createHash } from 'node:crypto';
import { loadTrainingData, trainingSpec, type Dataset } from '../data/index.js';
import { FloatPlan } from '../engine/float-plan.js';
import { shapeSize } from '../graph/ir.js';
import { loadModel } from '../onnx/model.js';
import { cpuInfo } from '../native.js';
import { CALIBRATION_KEY, encodeCalibration } from '../quant/carried-calibration.js';
import { IntPlan } from '../engine/int-plan.js';
import { savePolicy, type Policy } from '../quant/policy.js';
import { prepareQuantization } from '../quant/quantize.js';
import { integerInRange } from '../util/check.js';
import { ArqError } from '../util/errors.js';
import { checkOutputs, writeFileAtomic } from '../util/files.js';
import { checkExportable, exportTrainGraph, EXPORT_OPSET } from './export.js';
import { outputBase } from './save.js';
import { accuracyOf } from '../engine/predict.js';
import { fineTune, FINE_TUNE_DEFAULTS, type FineTuneProgress } from './qat.js';
import { checkDataFits, EVAL_NOISE_SEED } from './train.js';
import { checkBatch, checkThreads } from '../engine/settings.js';

export interface QatTrainOptions {
  /** The ONNX model to fine-tune. */
  readonly init: string;
  /** `--policy FILE` (made for `init`) or `--bits wXaY`. */
  readonly policy?: string;
  readonly bits?: string;
  /** Training data spec (e.g. mnist = mnist:train); calibration uses its training counterpart. */
  readonly data: string;
  /** Train on at most the first `max` images of `data` (default: all). */
  readonly max?: number;
  /** Evaluated before and after (default: none). */
  readonly test?: Dataset;
  readonly sigma: number;
  /** SGD steps; or `epochs` passes over the training data. */
  readonly steps?: number;
  readonly epochs?: number;
  readonly batch?: number;
  readonly lr?: number;
  readonly momentum?: number;
  readonly weightDecay?: number;
  readonly seed?: number;
  readonly calibrationCount?: number;
  readonly calibrationData?: string;
  readonly threads?: number;
  readonly out: string;
  readonly command: string;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: FineTuneProgress) => void;
}

export interface Accuracy {
  readonly clean: number;
  /** One N(0, sigma^2) draw per test image (seed EVAL_NOISE_SEED), unclipped. */
  readonly noisy: number;
}

export interface QatSummary {
  readonly model: string;
  readonly sidecar: string;
  readonly policyFile: string;
  readonly sha256: string;
  readonly steps: number;
  readonly seconds: number;
  readonly firstLoss: number;
  readonly lastLoss: number;
  /** On the test data, when given. */
  readonly accuracy?: { readonly float: Accuracy; readonly ptq: Accuracy; readonly qat: Accuracy; readonly qat_float: Accuracy };
}

async function accuracy(plan: FloatPlan | IntPlan, data: Dataset, sigma: number, threads: number): Promise<Accuracy> {
  const predict = (images: Float32Array, batch: number) => plan.run(images, batch, threads);
  return { clean: await accuracyOf(predict, plan.classes, data, 0, EVAL_NOISE_SEED), noisy: await accuracyOf(predict, plan.classes, data, sigma, EVAL_NOISE_SEED) };
}

export async function qatTrain(options: QatTrainOptions): Promise<QatSummary> {
  const threads = checkThreads(options.threads ?? cpuInfo().threads);
  if ((options.steps === undefined) === (options.epochs === undefined)) throw new ArqError('arq train --qat: give either --steps or --epochs');
  const model = await loadModel(options.init);
  const policyFile = `${outputBase(options.out)}.policy.json`;
  const sidecar = `${outputBase(options.out)}.json`;
  // Whether an existing file may be replaced is the caller's choice (the CLI's --overwrite); what no caller may do
  // is write over the model being tuned, or find an unwritable folder after training.
  checkOutputs([options.out, sidecar, policyFile], { flag: 'out', inputs: [options.init], overwrite: true });
  checkExportable(model.graph, options.init);
  checkDataFits(options.init, model.graph.input.shape, shapeSize(model.graph.shapes.get(model.graph.output)!), [options.test]);
  const train = await loadTrainingData(options.data, options.max);
  const batch = options.batch ?? FINE_TUNE_DEFAULTS.batch;
  const steps = options.steps ?? integerInRange('epochs', options.epochs, 1, 100000) * Math.ceil(train.count / checkBatch(batch));
  const quantizationSettings = {
    policy: options.policy, bits: options.bits, data: options.data, calibrationData: options.calibrationData ?? trainingSpec(options.data),
    sigma: options.sigma, calibrationCount: options.calibrationCount, seed: options.seed, threads,
  };
  const { policy, calibration } = await prepareQuantization(model, quantizationSettings);
  const result = await fineTune({
    graph: model.graph, policy, calibration, train, sigma: options.sigma, steps, batch, lr: options.lr, momentum: options.momentum,
    weightDecay: options.weightDecay, seed: options.seed, threads, signal: options.signal, onProgress: options.onProgress,
  });

  const settings = {
    init: options.init, init_sha256: model.sha256, data: train.name, sigma: options.sigma, steps, batch, lr: options.lr ?? FINE_TUNE_DEFAULTS.lr,
    momentum: options.momentum ?? FINE_TUNE_DEFAULTS.momentum, weight_decay: options.weightDecay ?? FINE_TUNE_DEFAULTS.weightDecay, seed: options.seed ?? FINE_TUNE_DEFAULTS.seed,
    schedule: 'cosine per step to 0', calibration: calibration.settings,
  };
  const bytes = exportTrainGraph(result.graph, {
    'arq.qat.settings': JSON.stringify(settings),
    'arq.qat.policy': JSON.stringify(policy.layers),
    [CALIBRATION_KEY]: encodeCalibration(calibration),
  });
  writeFileAtomic(options.out, bytes);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const outPolicy: Policy = { ...policy, model: sha256 };
  await savePolicy(policyFile, outPolicy);

  let measured: QatSummary['accuracy'];
  if (options.test) {
    const test = options.test;
    measured = {
      float: await accuracy(FloatPlan.build(model.graph), test, options.sigma, threads),
      ptq: await accuracy(await IntPlan.create(model.graph, policy, calibration), test, options.sigma, threads),
      qat: await accuracy(await IntPlan.create(result.graph, policy, calibration), test, options.sigma, threads),
      qat_float: await accuracy(FloatPlan.build(result.graph), test, options.sigma, threads),
    };
  }
  const bits = options.bits ? `--bits ${options.bits}` : `--policy ${policyFile}`;
  writeFileAtomic(sidecar, `${JSON.stringify({
    model: options.out.split('/').pop(),
    command: options.command,
    produced_by: 'arq train --qat',
    opset: EXPORT_OPSET,
    settings,
    policy: policy.layers,
    policy_file: policyFile.split('/').pop(),
    training_time_s: Number(result.seconds.toFixed(1)),
    train_loss_first_10pct: result.firstLoss,
    train_loss_last_10pct: result.lastLoss,
    test_data: options.test?.name,
    test_accuracy: measured,
    test_noise: `one N(0, sigma^2) draw per test image from arq's noise generator, seed ${EVAL_NOISE_SEED}, unclipped`,
    accuracy_keys: {
      float: 'the initial model, fp32', ptq: 'the initial model quantized under the policy (post-training)',
      qat: 'the trained integer network: fine-tuned weights on the initial model\'s calibration (= the fake-quantized forward pass; what the integer engine computes on this file, which carries that calibration)',
      qat_float: 'the fine-tuned model, fp32',
    },
    reproduce: `npx arq predict --model ${options.out} --data ${options.test?.name ?? 'mnist:test'} --engine int ${bits} --sigma ${options.sigma} (clean accuracy = test_accuracy.qat.clean; the grids come from the calibration the file carries)`,
    sha256,
    onnx_size_bytes: bytes.length,
  }, null, 2)}\n`);
  return { model: options.out, sidecar, policyFile, sha256, steps, seconds: result.seconds, firstLoss: result.firstLoss, lastLoss: result.lastLoss, accuracy: measured };
}
