/** `arq sensitivity`: how much each layer's weights and activations at each width hurt the smoothed classifier. */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { withOutputOptions, withSeedOption, withThreadsOption } from './options.js';

interface SensitivityArgs {
  model?: string;
  data: string;
  policy?: string;
  sigma: number;
  images: number;
  copies: number;
  minBits: number;
  maxBits: number;
  calibration: number;
  seed: number;
  threads?: number;
  json: boolean;
  quiet: boolean;
}

export const sensitivityCommand: CommandModule<object, SensitivityArgs> = {
  command: 'sensitivity',
  describe: 'measure each layer\'s sensitivity to its weight and activation widths on noisy inputs (integer engine, one layer changed at a time)',
  builder: (yargs: Argv) =>
    withSeedOption(withThreadsOption(withOutputOptions(yargs)), 'the calibration and measurement noise')
      .option('model', { type: 'string', describe: 'float ONNX model (default: the bundled noise-trained MNIST CNN)' })
      .option('data', { type: 'string', default: 'mnist', describe: 'dataset spec; images (and calibration) come from its training split' })
      .option('policy', { type: 'string', describe: 'base policy (arq-policy/1) whose layers are changed one at a time (default: every layer at --max-bits)' })
      .option('sigma', { type: 'number', default: 0.25, describe: 'noise level of the smoothed classifier' })
      .option('images', { type: 'number', default: 64, describe: 'images measured' })
      .option('copies', { type: 'number', default: 4, describe: 'noisy copies of each image' })
      .option('min-bits', { type: 'number', default: 2, describe: 'lowest width measured' })
      .option('max-bits', { type: 'number', default: 8, describe: 'highest width measured' })
      .option('calibration', { type: 'number', default: 256, describe: 'noisy training images for calibration' }) as unknown as Argv<SensitivityArgs>,
  handler: async (args: ArgumentsCamelCase<SensitivityArgs>) => {
    const { bundledModelPath, loadModel } = await import('../onnx/model.js');
    const { loadDataset, trainingSpec } = await import('../data/index.js');
    const { calibrate } = await import('../quant/calibrate.js');
    const { loadPolicy, MAX_BITS, MIN_BITS } = await import('../quant/policy.js');
    const { measureSensitivity } = await import('../search/sensitivity.js');
    const { integerInRange } = await import('../util/check.js');
    const { cpuInfo } = await import('../native.js');
    const { progressBar } = await import('./progress.js');
    const { printJson, table } = await import('./print.js');

    const minBits = integerInRange('--min-bits', args.minBits, MIN_BITS, MAX_BITS);
    const maxBits = integerInRange('--max-bits', args.maxBits, minBits, MAX_BITS);
    const { sigma, seed } = args;
    const threads = args.threads ?? cpuInfo().threads;
    const model = await loadModel(args.model ?? bundledModelPath());
    const base = args.policy ? (await loadPolicy(args.policy, model.graph, model.sha256)).layers : undefined;
    const data = await loadDataset(trainingSpec(args.data), 'train');
    const calibration = await calibrate(model.graph, data, { sigma, count: integerInRange('--calibration', args.calibration, 1, 1e6), seed, threads });
    const bar = progressBar('sensitivity', args);
    try {
      const result = await measureSensitivity(model.graph, calibration, data, {
        sigma, seed, images: args.images, copies: args.copies, minBits, maxBits, threads, base,
        onLayer: (done, total) => bar.update(done, total, { rate: '' }),
      });
      bar.stop();
      if (args.json) {
        printJson({ model: { path: args.model ?? bundledModelPath(), sha256: model.sha256 }, data: data.name, ...result });
        return;
      }
      const kl = (x: number) => x.toExponential(1);
      const rows = result.layers.map((l) => [l.name, (l.macs / 1e6).toPrecision(3), ...l.weights.map(kl), ...l.activations.map(kl)]);
      console.log(`layer sensitivity of ${args.model ?? bundledModelPath()}: mean KL(float || quantized) on ${result.samples} noisy inputs (${result.images} images of ${data.name}, sigma ${sigma})`);
      console.log(table(rows, ['layer', 'MMACs', ...result.bits.map((b) => `W${b}`), ...result.bits.map((b) => `A${b}`)]));
      console.log(`one layer's weights (W) or input activation (A) at each width, the others as in ${args.policy ?? `W${maxBits}A${maxBits}`} (KL ${kl(result.base_kl)}, arg-max disagreement ${(100 * result.base_disagreement).toFixed(1)}%); ${result.seconds.toFixed(1)} s`);
    } finally {
      bar.stop();
    }
  },
};
