/** `arq train`: trains an architecture with Gaussian noise augmentation and writes standard ONNX. */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import type { Dataset } from '../data/index.js';
import { ARCHITECTURES, type ArchitectureName } from '../train/architectures.js';
import { ArqError } from '../util/errors.js';
import { inputFiles, withOutputOptions, withOverwriteOption, withSeedOption, withThreadsOption } from './options.js';

interface TrainArgs {
  arch?: ArchitectureName;
  data: string;
  qat: boolean;
  ibp: boolean;
  float: boolean;
  eps?: string;
  epsStart?: string;
  kappa?: number;
  lambda?: number;
  delta?: number;
  warmup?: number;
  init?: string;
  policy?: string;
  bits?: string;
  steps?: number;
  calibration: number;
  calibrationData?: string;
  max?: number;
  testData?: string;
  sigma?: number;
  epochs?: number;
  batch: number;
  lr?: number;
  momentum: number;
  weightDecay?: number;
  schedule: 'cosine' | 'step';
  shift: number;
  width: number;
  seed: number;
  threads?: number;
  out: string;
  checkpoint?: string;
  resume: boolean;
  overwrite: boolean;
  json: boolean;
  quiet: boolean;
}

export const trainCommand: CommandModule<object, TrainArgs> = {
  command: 'train',
  describe: 'train a network with Gaussian noise augmentation and write it as ONNX; --qat fine-tunes a model under a quantization policy; --ibp trains for certified l-infinity robustness (IBP, QA-IBP)',
  builder: (yargs: Argv) =>
    withSeedOption(withOverwriteOption(withThreadsOption(withOutputOptions(yargs))), 'initialisation, shuffling, shifts and noise')
      .option('arch', { choices: ARCHITECTURES, describe: 'architecture trained from scratch (or --init)' })
      .option('qat', { type: 'boolean', default: false, describe: 'quantization-aware fine-tuning of --init under --policy/--bits (integer semantics, straight-through gradients)' })
      .option('ibp', { type: 'boolean', default: false, describe: 'certified training with interval bounds at --eps: --float (plain IBP) or --bits/--policy (QA-IBP, the integer network\'s bounds; fine-tunes --init)' })
      .option('float', { type: 'boolean', default: false, describe: '--ibp: plain IBP on the float network' })
      .option('eps', { type: 'string', describe: '--ibp: the l-infinity radius trained for, in [0, 1] image units (4/255 accepted)' })
      .option('kappa', { type: 'number', describe: '--ibp: final weight of the margin hinge (default 0.5)' })
      .option('lambda', { type: 'number', describe: '--ibp: final weight of the mean hidden interval width (default 0.001)' })
      .option('delta', { type: 'number', describe: '--ibp: hinge target on each certified logit margin (default 0.25)' })
      .option('warmup', { type: 'number', describe: '--ibp: fraction of the steps before eps, kappa and lambda ramp up (default 0.1); the ramp ends at 90%' })
      .option('eps-start', { type: 'string', describe: '--ibp: eps where the ramp starts (default 0; --eps-start equal to --eps fine-tunes at the target from the first step, kappa and lambda too)' })
      .option('init', { type: 'string', describe: 'the ONNX model to fine-tune (any model arq imports), instead of --arch; with --qat, the model to quantize' })
      .option('policy', { type: 'string', describe: '--qat, --ibp: policy file (arq-policy/1) made for --init' })
      .option('bits', { type: 'string', describe: '--qat, --ibp: uniform policy shorthand, e.g. w4a4' })
      .option('steps', { type: 'number', describe: '--qat: SGD steps (instead of --epochs)' })
      .option('calibration', { type: 'number', default: 256, describe: '--qat, --ibp: (noisy) training images for calibration (fixed during training)' })
      .option('calibration-data', { type: 'string', describe: '--qat: calibration images (default: the training counterpart of --data)' })
      .option('data', { type: 'string', demandOption: true, describe: 'training data (mnist = mnist:train; see --help of predict for the specs)' })
      .option('max', { type: 'number', describe: 'train on at most the first N images of --data (default: all of them)' })
      .option('test-data', { type: 'string', describe: 'evaluated after every epoch (default: the test split of --data where it has one)' })
      .option('sigma', { type: 'number', describe: 'Gaussian noise sigma added to every training image (0 = clean; required except with --ibp)' })
      .option('epochs', { type: 'number', describe: 'passes over the data (required without --qat)' })
      .option('batch', { type: 'number', default: 128 })
      .option('lr', { type: 'number', describe: 'initial learning rate (default 0.05; --qat 0.01; --ibp 0.001, Adam)' })
      .option('momentum', { type: 'number', default: 0.9 })
      .option('weight-decay', { type: 'number', describe: 'default 5e-4; --qat 0' })
      .option('schedule', { choices: ['cosine', 'step'] as const, default: 'cosine' as const, describe: 'cosine per step to 0, or x0.1 at 50% and 75% of the epochs' })
      .option('shift', { type: 'number', default: 0, describe: 'random shifts of up to N pixels (augmentation)' })
      .option('width', { type: 'number', default: 1, describe: 'MobileNetV2 width multiplier' })
      .option('out', { type: 'string', demandOption: true, describe: 'ONNX file to write (plus OUT.json with the settings and history)' })
      .option('checkpoint', { type: 'string', describe: 'checkpoint written after every epoch (default OUT.checkpoint.json)' })
      .option('resume', { type: 'boolean', default: false, describe: 'continue from the checkpoint (which must exist)' }),
  handler: async (args: ArgumentsCamelCase<TrainArgs>) => {
    const { loadTrainingData } = await import('../data/index.js');
    const { train } = await import('../train/train.js');
    const { saveTrainedModel } = await import('../train/save.js');
    const { loadModel } = await import('../onnx/model.js');
    const { progressBar, untilInterrupted } = await import('./progress.js');
    const { printJson } = await import('./print.js');

    if (args.ibp) return ibpHandler(args);
    for (const flag of ['eps', 'epsStart', 'kappa', 'lambda', 'delta', 'warmup'] as const) if (args[flag] !== undefined) throw new ArqError(`--${flag === 'epsStart' ? 'eps-start' : flag} applies to --ibp`);
    if (args.float) throw new ArqError('--float applies to --ibp');
    const sigma = args.sigma;
    if (sigma === undefined) throw new ArqError('--sigma is required');
    if (args.qat) return qatHandler(args, sigma);
    for (const flag of ['policy', 'bits', 'steps'] as const) if (args[flag] !== undefined) throw new ArqError(`--${flag} applies to --qat`);
    if ((args.arch === undefined) === (args.init === undefined)) throw new ArqError('give either --arch (train from scratch) or --init MODEL.onnx (fine-tune a model)');
    const epochs = args.epochs;
    if (epochs === undefined) throw new ArqError('--epochs is required');
    const init = args.init === undefined ? undefined : await loadModel(args.init);
    const checkpoint = args.checkpoint ?? `${args.out}.checkpoint.json`;
    await checkTrainOutputs(args, checkpoint);
    const trainData = await loadTrainingData(args.data, args.max);
    const testData = await testSplit(args);
    const bar = progressBar('train', args, ['epoch', 'loss', 'acc']);
    const training = (signal: AbortSignal) => train({
      arch: args.arch, init, sigma, epochs, batch: args.batch, lr: args.lr ?? 0.05, momentum: args.momentum, weightDecay: args.weightDecay ?? 5e-4,
      schedule: args.schedule, shift: args.shift, width: args.width, seed: args.seed, threads: args.threads, train: trainData, test: testData,
      checkpoint, resume: args.resume, signal,
      onProgress: (p) => bar.update((p.epoch - 1) * p.steps + p.step, p.epochs * p.steps, { epoch: `${p.epoch}/${p.epochs}`, loss: p.loss.toFixed(4), acc: (100 * p.accuracy).toFixed(2) }),
      onEpoch: (r) => {
        if (args.json || args.quiet) return;
        bar.stop();
        const test = r.testAccuracy === undefined ? '' : `  test clean ${(100 * r.testAccuracy).toFixed(2)}%  noisy ${(100 * r.testAccuracyNoisy!).toFixed(2)}%`;
        console.log(`epoch ${r.epoch}: ${r.seconds.toFixed(1)} s  loss ${r.trainLoss.toFixed(4)}  train(noisy) ${(100 * r.trainAccuracy).toFixed(2)}%${test}`);
      },
    });
    try {
      const result = await untilInterrupted(() => new Error('interrupted; every finished epoch is in the checkpoint: run the same command with --resume'), training);
      const summary = saveTrainedModel(result, args.out, `npx arq ${process.argv.slice(2).join(' ')}`);
      bar.stop();
      if (args.json) printJson(summary);
      else console.log(`wrote ${args.out} (${summary.onnx_size_bytes} bytes) and ${summary.sidecar}; training ${summary.training_seconds.toFixed(1)} s, ${summary.samples_per_second.toFixed(0)} samples/s`);
    } finally {
      bar.stop();
    }
  },
};

/** `arq train --qat`: fine-tunes --init under the policy (src/train/qat-train.ts) and prints the accuracies. */
async function qatHandler(args: ArgumentsCamelCase<TrainArgs>, sigma: number): Promise<void> {
  const { qatTrain } = await import('../train/qat-train.js');
  const { progressBar, untilInterrupted } = await import('./progress.js');
  const { printJson } = await import('./print.js');
  const init = args.init;
  if (!init) throw new ArqError('--qat needs --init MODEL.onnx');
  if (args.arch !== undefined) throw new ArqError('--arch does not apply to --qat (the architecture is --init\'s)');
  if (args.resume || args.checkpoint) throw new ArqError('--checkpoint and --resume do not apply to --qat');
  await checkTrainOutputs(args);
  const test = await testSplit(args);
  const bar = progressBar('qat', args, ['loss', 'acc']);
  try {
    const summary = await untilInterrupted(() => new Error('interrupted; nothing was written'), (signal) => qatTrain({
      init, policy: args.policy, bits: args.bits, data: args.data, test, sigma, steps: args.steps, epochs: args.epochs,
      batch: args.batch, lr: args.lr, momentum: args.momentum, weightDecay: args.weightDecay, seed: args.seed, calibrationCount: args.calibration,
      calibrationData: args.calibrationData, max: args.max, threads: args.threads, out: args.out, command: `npx arq ${process.argv.slice(2).join(' ')}`, signal,
      onProgress: (p) => bar.update(p.step, p.steps, { loss: p.loss.toFixed(4), acc: (100 * p.accuracy).toFixed(2) }),
    }));
    bar.stop();
    if (args.json) {
      printJson(summary);
      return;
    }
    const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
    console.log(`wrote ${summary.model}, ${summary.sidecar} and ${summary.policyFile}; ${summary.steps} steps in ${summary.seconds.toFixed(1)} s, loss ${summary.firstLoss.toFixed(4)} -> ${summary.lastLoss.toFixed(4)}`);
    if (summary.accuracy) {
      for (const [key, a] of Object.entries(summary.accuracy)) console.log(`  ${key.padEnd(17)} clean ${pct(a.clean)}  noisy ${pct(a.noisy)}`);
    }
  } finally {
    bar.stop();
  }
}

/**
 * `arq train --ibp`: plain IBP (--float, from --arch or --init) or QA-IBP (--bits/--policy, fine-tuning --init on the
 * grids of its calibration), src/train/ibp.ts; writes OUT, OUT.json and, for QA-IBP, OUT.policy.json.
 */
async function ibpHandler(args: ArgumentsCamelCase<TrainArgs>): Promise<void> {
  const { loadTrainingData } = await import('../data/index.js');
  const { parseEpsilon } = await import('../verify/eps.js');
  const { ibpTrain, withoutBatchNorm } = await import('../train/ibp.js');
  const { ibpOutputs, saveIbpModel } = await import('../train/ibp-save.js');
  const { buildArchitecture } = await import('../train/architectures.js');
  const { checkExportable } = await import('../train/export.js');
  const { loadModel } = await import('../onnx/model.js');
  const { prepareQuantization } = await import('../quant/quantize.js');
  const { progressBar, untilInterrupted } = await import('./progress.js');
  const { printJson } = await import('./print.js');
  const { checkOutputs } = await import('../util/files.js');
  const { existsSync } = await import('node:fs');

  if (args.qat) throw new ArqError('--ibp and --qat exclude each other (--ibp with --bits or --policy is quantization-aware)');
  if (args.steps !== undefined || args.sigma !== undefined) throw new ArqError('--steps and --sigma do not apply to --ibp (give --epochs; training is on clean boxes)');
  if (args.eps === undefined) throw new ArqError('--ibp needs --eps, the radius to train for (e.g. 4/255)');
  const eps = parseEpsilon(args.eps, '--eps').value;
  const epsStart = args.epsStart === undefined ? undefined : parseEpsilon(args.epsStart, '--eps-start').value;
  if (epsStart !== undefined && epsStart > eps) throw new ArqError(`--eps-start ${args.epsStart} is above --eps ${args.eps}: the ramp goes up to --eps`);
  const quantized = args.bits !== undefined || args.policy !== undefined;
  if (quantized === args.float) throw new ArqError(args.float ? '--float trains the float network; --bits/--policy make it quantization-aware: give one of them' : '--ibp needs --float (plain IBP) or --bits/--policy (QA-IBP)');
  if ((args.arch === undefined) === (args.init === undefined)) throw new ArqError('give either --arch (train from scratch) or --init MODEL.onnx');
  if (quantized && !args.init) throw new ArqError('QA-IBP fine-tunes a trained float network whose activations calibrate the grids: give --init MODEL.onnx (e.g. one trained with --ibp --float)');
  if (args.arch !== undefined && !args.arch.startsWith('ibp-')) throw new ArqError(`--ibp trains networks without batch norm or pooling: --arch ibp-small or ibp-medium, not ${args.arch}`);
  const epochs = args.epochs;
  if (epochs === undefined) throw new ArqError('--epochs is required');
  const checkpoint = args.checkpoint ?? `${args.out}.checkpoint.json`;
  if (args.resume && !existsSync(checkpoint)) throw new ArqError(`--resume: no checkpoint ${checkpoint} to continue from (run without --resume to start training)`);
  const inputs = [...(await inputFiles(args)), args.resume ? checkpoint : undefined];
  checkOutputs(ibpOutputs(args.out, quantized), { flag: '--out', inputs, overwrite: args.overwrite || args.resume });
  if (!args.resume) checkOutputs([checkpoint], { flag: args.checkpoint ? '--checkpoint' : '--out (its checkpoint)', inputs, overwrite: args.overwrite, resumable: true });

  const trainData = await loadTrainingData(args.data, args.max);
  const testData = await testSplit(args);
  const model = args.init === undefined ? undefined : await loadModel(args.init);
  if (model) checkExportable(model.graph, model.path);
  const classes = Math.max(trainData.classes, testData?.classes ?? 0, 2);
  const graph = model?.graph ?? withoutBatchNorm(buildArchitecture(args.arch!, { input: trainData.shape, classes, seed: args.seed }));
  const quantization = quantized && model ? await prepareQuantization(model, {
    policy: args.policy, bits: args.bits, data: args.data, calibrationData: args.calibrationData, sigma: 0, calibrationCount: args.calibration, seed: args.seed, threads: args.threads,
  }) : undefined;
  const bar = progressBar('ibp', args, ['epoch', 'eps', 'kappa', 'loss', 'ce', 'hinge', 'width', 'acc', 'cert']);
  const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
  try {
    const result = await untilInterrupted(() => new Error('interrupted; every finished epoch is in the checkpoint: run the same command with --resume'), (signal) => ibpTrain({
      graph, start: args.arch ?? model!.sha256, quantization, eps, epsStart, epochs, train: trainData, test: testData,
      batch: args.batch, lr: args.lr, kappa: args.kappa, lambda: args.lambda, delta: args.delta, warmup: args.warmup, seed: args.seed,
      threads: args.threads, checkpoint, resume: args.resume, signal,
      onProgress: (p) => bar.update((p.epoch - 1) * p.steps + p.step, p.epochs * p.steps, {
        epoch: `${p.epoch}/${p.epochs}`, eps: `${(255 * p.eps).toFixed(2)}/255`, kappa: p.kappa.toFixed(3), loss: p.loss.toFixed(4), ce: p.ce.toFixed(4),
        hinge: p.hinge.toFixed(4), width: p.width.toFixed(4), acc: pct(p.trainAccuracy), cert: pct(p.trainCertified),
      }),
      onEpoch: (r) => {
        if (args.json || args.quiet) return;
        bar.stop();
        const test = r.testAccuracy === undefined ? '' : `  test clean ${pct(r.testAccuracy)}  IBP-certified at ${args.eps} ${pct(r.testCertified!)}`;
        console.log(`epoch ${r.epoch}: ${r.seconds.toFixed(1)} s  eps ${(255 * r.eps).toFixed(2)}/255  kappa ${r.kappa.toFixed(3)}  loss ${r.loss.toFixed(4)} (ce ${r.ce.toFixed(4)}, hinge ${r.hinge.toFixed(4)}, width ${r.width.toFixed(4)})  train ${pct(r.trainAccuracy)}, IBP-certified ${pct(r.trainCertified)}${test}`);
      },
    }));
    const saved = await saveIbpModel(result, args.out, `npx arq ${process.argv.slice(2).join(' ')}`, quantization && { policy: quantization.policy, calibration: quantization.calibration });
    bar.stop();
    if (args.json) printJson(saved);
    else console.log(`wrote ${[saved.model, saved.sidecar, saved.policyFile].filter(Boolean).join(', ')}; training ${saved.training_seconds.toFixed(1)} s`);
  } finally {
    bar.stop();
  }
}

/** The images train reports test accuracy on: --test-data, else the test split of an MNIST, Fashion-MNIST or CIFAR-10 --data. */
async function testSplit(args: { data: string; testData?: string }): Promise<Dataset | undefined> {
  const { loadDataset, parseDataSpec } = await import('../data/index.js');
  const parsed = parseDataSpec(args.data, 'train');
  const spec = args.testData ?? (parsed.kind === 'mnist' || parsed.kind === 'fashion-mnist' ? `${parsed.kind}:test` : parsed.kind === 'cifar10' ? `cifar10:${parsed.dir}#test` : undefined);
  return spec === undefined ? undefined : loadDataset(spec, 'test');
}

/**
 * The output rule (util/files.ts) for everything train writes, checked before any data is loaded: OUT, OUT.json
 * and, for --qat, OUT.policy.json, plus the checkpoint of a plain run. `--resume` needs its checkpoint, and a
 * resumed run may replace its own outputs.
 */
async function checkTrainOutputs(args: ArgumentsCamelCase<TrainArgs>, checkpoint?: string): Promise<void> {
  const { existsSync } = await import('node:fs');
  const { outputBase } = await import('../train/save.js');
  const { checkOutputs } = await import('../util/files.js');
  if (args.resume && checkpoint !== undefined && !existsSync(checkpoint)) {
    throw new ArqError(`--resume: no checkpoint ${checkpoint} to continue from (run without --resume to start training)`);
  }
  const inputs = [...(await inputFiles(args)), args.resume ? checkpoint : undefined];
  const base = outputBase(args.out);
  const outputs = [args.out, `${base}.json`, ...(args.qat ? [`${base}.policy.json`] : [])];
  checkOutputs(outputs, { flag: '--out', inputs, overwrite: args.overwrite || args.resume });
  if (checkpoint !== undefined && !args.resume) {
    checkOutputs([checkpoint], { flag: args.checkpoint ? '--checkpoint' : '--out (its checkpoint)', inputs, overwrite: args.overwrite, resumable: true });
  }
}
