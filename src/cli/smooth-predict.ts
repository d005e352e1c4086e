/** `arq smooth-predict`: Cohen PREDICT (with abstention) over a dataset. */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { withCalibrationOptions, withDataOptions, withEngineOption, withOutputOptions, withThreadsOption } from './options.js';
import { samplerFromArgs, withSmoothingOptions, type SmoothingArgs } from './smoothing-options.js';

interface SmoothPredictArgs extends SmoothingArgs {
  n: number;
  alpha: number;
}

export const smoothPredictCommand: CommandModule<object, SmoothPredictArgs> = {
  command: 'smooth-predict',
  describe: 'predict with the smoothed classifier (Cohen PREDICT), abstaining when unsure',
  builder: (yargs: Argv) =>
    withSmoothingOptions(withThreadsOption(withCalibrationOptions(withEngineOption(withDataOptions(withOutputOptions(yargs))))))
      .option('n', { type: 'number', default: 100_000, describe: 'noise samples per image' })
      .option('alpha', { type: 'number', default: 0.001, describe: 'probability of returning a wrong class, in (0, 1)' }),
  handler: async (args: ArgumentsCamelCase<SmoothPredictArgs>) => {
    const { loadModel } = await import('../onnx/model.js');
    const { loadDataset, selectionReach } = await import('../data/index.js');
    const { smoothPredictDataset } = await import('../smoothing/run.js');
    const { progressBar } = await import('./progress.js');
    const { printJson } = await import('./print.js');

    const { n, alpha } = args;
    const model = await loadModel(args.model);
    const dataset = await loadDataset(args.data, 'test', { limit: selectionReach(args.skip, args.max) });
    const { sampler, identity, info } = await samplerFromArgs(args, model);
    const bar = progressBar('smooth-predict', args);
    try {
      const result = await smoothPredictDataset({
        sampler, dataset, n, alpha, skip: args.skip, max: args.max, info: { ...identity, ...info, data: dataset.name },
        onImage: (done, total) => bar.update(done, total),
      });
      bar.stop();
      if (args.json) {
        printJson(result);
        return;
      }
      console.log(`${result.count} images of ${dataset.name} at sigma ${args.sigma}: smoothed accuracy ${(100 * result.accuracy).toFixed(2)}%, abstained ${(100 * result.abstain_rate).toFixed(2)}% (engine ${args.engine}, n ${n}, alpha ${alpha}, ${result.samples_per_second.toFixed(0)} samples/s)`);
    } finally {
      bar.stop();
      await sampler.close();
    }
  },
};
