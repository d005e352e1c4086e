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
  init?: string;
  policy?: string;
  bits?: string;
  steps?: number;
  calibration: number;
  calibrationData?: string;
  testData?: string;
  sigma: number;
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
  describe: 'train a network with Gaussian noise augmentation and write it as ONNX; --qat fine-tunes a model under a quantization policy',
  builder: (yargs: Argv) =>
    withSeedOption(withOverwriteOption(withThreadsOption(withOutputOptions(yargs))), 'initialisation, shuffling, shifts and noise')
      .option('arch', { choices: ARCHITECTURES, describe: 'architecture trained from scratch (or --init)' })
      .option('qat', { type: 'boolean', default: false, describe: 'quantization-aware fine-tuning of --init under --policy/--bits (integer semantics, straight-through gradients)' })
      .option('init', { type: 'string', describe: 'the ONNX model to fine-tune (any model arq imports), instead of --arch; with --qat, the model to quantize' })
      .option('policy', { type: 'string', describe: '--qat: policy file (arq-policy/1) made for --init' })
      .option('bits', { type: 'string', describe: '--qat: uniform policy shorthand, e.g. w4a4' })
      .option('steps', { type: 'number', describe: '--qat: SGD steps (instead of --epochs)' })
      .option('calibration', { type: 'number', default: 256, describe: '--qat: noisy training images for calibration (fixed during QAT)' })
      .option('calibration-data', { type: 'string', describe: '--qat: calibration images (default: the training counterpart of --data)' })
      .option('data', { type: 'string', demandOption: true, describe: 'training data (mnist = mnist:train; see --help of predict for the specs)' })
      .option('test-data', { type: 'string', describe: 'evaluated after every epoch (default: the test split of --data where it has one)' })
      .option('sigma', { type: 'number', demandOption: true, describe: 'Gaussian noise sigma added to every training image (0 = clean)' })
      .option('epochs', { type: 'number', describe: 'passes over the data (required without --qat)' })
      .option('batch', { type: 'number', default: 128 })
      .option('lr', { type: 'number', describe: 'initial learning rate (default 0.05; --qat 0.01)' })
      .option('momentum', { type: 'number', default: 0.9 })
      .option('weight-decay', { type: 'number', describe: 'default 5e-4; --qat 0' })
      .option('schedule', { choices: ['cosine', 'step'] as const, default: 'cosine' as const, describe: 'cosine per step to 0, or x0.1 at 50% and 75% of the epochs' })
      .option('shift', { type: 'number', default: 0, describe: 'random shifts of up to N pixels (augmentation)' })
      .option('width', { type: 'number', default: 1, describe: 'MobileNetV2 width multiplier' })
      .option('out', { type: 'string', demandOption: true, describe: 'ONNX file to write (plus OUT.json with the settings and history)' })
      .option('checkpoint', { type: 'string', describe: 'checkpoint written after every epoch (default OUT.checkpoint.json)' })
      .option('resume', { type: 'boolean', default: false, describe: 'continue from the checkpoint (which must exist)' }),
  handler: async (args: ArgumentsCamelCase<TrainArgs>) => {
    const { loadDataset } = await import('../data/index.js');
    const { train } = await import('../train/train.js');
    const { saveTrainedModel } = await import('../train/save.js');
    const { loadModel } = await import('../onnx/model.js');
    const { progressBar, untilInterrupted } = await import('./progress.js');
    const { printJson } = await import('./print.js');

    if (args.qat) return qatHandler(args);
    for (const flag of ['policy', 'bits', 'steps'] as const) if (args[flag] !== undefined) throw new ArqError(`--${flag} applies to --qat`);
    if ((args.arch === undefined) === (args.init === undefined)) throw new ArqError('give either --arch (train from scratch) or --init MODEL.onnx (fine-tune a model)');
    const epochs = args.epochs;
    if (epochs === undefined) throw new ArqError('--epochs is required');
    const init = args.init === undefined ? undefined : await loadModel(args.init);
    const checkpoint = args.checkpoint ?? `${args.out}.checkpoint.json`;
    await checkTrainOutputs(args, checkpoint);
    const trainData = await loadDataset(args.data === 'mnist' ? 'mnist:train' : args.data, 'train');
    const testData = await testSplit(args);
    const bar = progressBar('train', args, ['epoch', 'loss', 'acc']);
    const training = (signal: AbortSignal) => train({
      arch: args.arch, init, sigma: args.sigma, epochs, batch: args.batch, lr: args.lr ?? 0.05, momentum: args.momentum, weightDecay: args.weightDecay ?? 5e-4,
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
async function qatHandler(args: ArgumentsCamelCase<TrainArgs>): Promise<void> {
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
      init, policy: args.policy, bits: args.bits, data: args.data, test, sigma: args.sigma, steps: args.steps, epochs: args.epochs,
      batch: args.batch, lr: args.lr, momentum: args.momentum, weightDecay: args.weightDecay, seed: args.seed, calibrationCount: args.calibration,
      calibrationData: args.calibrationData, threads: args.threads, out: args.out, command: `npx arq ${process.argv.slice(2).join(' ')}`, signal,
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

/** The images train reports test accuracy on: --test-data, else the test split of an MNIST or CIFAR-10 --data. */
async function testSplit(args: { data: string; testData?: string }): Promise<Dataset | undefined> {
  const { loadDataset, parseDataSpec } = await import('../data/index.js');
  const parsed = parseDataSpec(args.data, 'train');
  const spec = args.testData ?? (parsed.kind === 'mnist' ? 'mnist:test' : parsed.kind === 'cifar10' ? `cifar10:${parsed.dir}#test` : undefined);
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
