/** `arq train`: trains an architecture with Gaussian noise augmentation and writes standard ONNX. */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { ARCHITECTURES, type ArchitectureName } from '../train/architectures.js';
import { withOutputOptions, withThreadsOption } from './options.js';

interface TrainArgs {
  arch: ArchitectureName;
  data: string;
  testData?: string;
  sigma: number;
  epochs: number;
  batch: number;
  lr: number;
  momentum: number;
  weightDecay: number;
  schedule: 'cosine' | 'step';
  shift: number;
  width: number;
  seed: number;
  threads?: number;
  out: string;
  checkpoint?: string;
  resume: boolean;
  json: boolean;
  quiet: boolean;
}

export const trainCommand: CommandModule<object, TrainArgs> = {
  command: 'train',
  describe: 'train a network with Gaussian noise augmentation and write it as ONNX',
  builder: (yargs: Argv) =>
    withThreadsOption(withOutputOptions(yargs))
      .option('arch', { choices: ARCHITECTURES, demandOption: true, describe: 'architecture' })
      .option('data', { type: 'string', demandOption: true, describe: 'training data (mnist = mnist:train; see --help of predict for the specs)' })
      .option('test-data', { type: 'string', describe: 'evaluated after every epoch (default: the test split of --data where it has one)' })
      .option('sigma', { type: 'number', demandOption: true, describe: 'Gaussian noise sigma added to every training image (0 = clean)' })
      .option('epochs', { type: 'number', demandOption: true })
      .option('batch', { type: 'number', default: 128 })
      .option('lr', { type: 'number', default: 0.05, describe: 'initial learning rate' })
      .option('momentum', { type: 'number', default: 0.9 })
      .option('weight-decay', { type: 'number', default: 5e-4 })
      .option('schedule', { choices: ['cosine', 'step'] as const, default: 'cosine' as const, describe: 'cosine per step to 0, or x0.1 at 50% and 75% of the epochs' })
      .option('shift', { type: 'number', default: 0, describe: 'random shifts of up to N pixels (augmentation)' })
      .option('width', { type: 'number', default: 1, describe: 'MobileNetV2 width multiplier' })
      .option('seed', { type: 'number', default: 0, describe: 'initialisation, shuffling, shifts and noise' })
      .option('out', { type: 'string', demandOption: true, describe: 'ONNX file to write (plus OUT.json with the settings and history)' })
      .option('checkpoint', { type: 'string', describe: 'checkpoint written after every epoch (default OUT.checkpoint.json)' })
      .option('resume', { type: 'boolean', default: false, describe: 'continue from the checkpoint' }) as unknown as Argv<TrainArgs>,
  handler: async (args: ArgumentsCamelCase<TrainArgs>) => {
    const { loadDataset, parseDataSpec } = await import('../data/index.js');
    const { train } = await import('../train/train.js');
    const { saveTrainedModel } = await import('../train/save.js');
    const { progressBar } = await import('./progress.js');
    const { printJson } = await import('./print.js');

    const trainData = await loadDataset(args.data === 'mnist' ? 'mnist:train' : args.data, 'train');
    const parsed = parseDataSpec(args.data, 'train');
    const testSpec = args.testData ?? (parsed.kind === 'mnist' ? 'mnist:test' : parsed.kind === 'cifar10' ? `cifar10:${parsed.dir}#test` : undefined);
    const testData = testSpec === undefined ? undefined : await loadDataset(testSpec, 'test');
    const bar = progressBar('train', args, ['epoch', 'loss', 'acc']);
    const controller = new AbortController();
    const stop = () => controller.abort();
    process.once('SIGINT', stop);
    try {
      const result = await train({
        arch: args.arch, sigma: args.sigma, epochs: args.epochs, batch: args.batch, lr: args.lr, momentum: args.momentum, weightDecay: args.weightDecay,
        schedule: args.schedule, shift: args.shift, width: args.width, seed: args.seed, threads: args.threads, train: trainData, test: testData,
        checkpoint: args.checkpoint ?? `${args.out}.checkpoint.json`, resume: args.resume, signal: controller.signal,
        onProgress: (p) => bar.update((p.epoch - 1) * p.steps + p.step, p.epochs * p.steps, { epoch: `${p.epoch}/${p.epochs}`, loss: p.loss.toFixed(4), acc: (100 * p.accuracy).toFixed(2) }),
        onEpoch: (r) => {
          if (args.json || args.quiet) return;
          bar.stop();
          const test = r.testAccuracy === undefined ? '' : `  test clean ${(100 * r.testAccuracy).toFixed(2)}%  noisy ${(100 * r.testAccuracyNoisy!).toFixed(2)}%`;
          console.log(`epoch ${r.epoch}: ${r.seconds.toFixed(1)} s  loss ${r.trainLoss.toFixed(4)}  train(noisy) ${(100 * r.trainAccuracy).toFixed(2)}%${test}`);
        },
      });
      const summary = saveTrainedModel(result, args.out, `npx arq ${process.argv.slice(2).join(' ')}`);
      bar.stop();
      if (args.json) printJson(summary);
      else console.log(`wrote ${args.out} (${summary.onnx_size_bytes} bytes) and ${summary.sidecar}; training ${summary.training_seconds.toFixed(1)} s, ${summary.samples_per_second.toFixed(0)} samples/s`);
    } catch (error) {
      if (controller.signal.aborted) {
        bar.stop();
        throw new Error(`interrupted; every finished epoch is in the checkpoint: run the same command with --resume`);
      }
      throw error;
    } finally {
      bar.stop();
      process.removeListener('SIGINT', stop);
    }
  },
};
