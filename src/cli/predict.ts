/** `arq predict`: predictions and accuracy of a model on a dataset. */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import type { EngineName } from '../engine/classifier.js';
import { ArqError } from '../util/errors.js';
import { inputFiles, quantizationFromArgs, withSemantics, withCalibrationOptions, type CalibrationArgs, withDataOptions, withEngineOption, withOutputOptions, withOverwriteOption, withSeedOption, withThreadsOption, CALIBRATION_SEED } from './options.js';

interface PredictArgs extends CalibrationArgs {
  model: string;
  data: string;
  engine: EngineName;
  semantics?: 'arq' | 'ort';
  max?: number;
  batch: number;
  logits?: string;
  overwrite: boolean;
  json: boolean;
  quiet: boolean;
}

export const predictCommand: CommandModule<object, PredictArgs> = {
  command: 'predict',
  describe: 'predict a dataset with a model and report accuracy',
  builder: (yargs: Argv) =>
    withOverwriteOption(withSeedOption(withCalibrationOptions(withThreadsOption(withEngineOption(withDataOptions(withOutputOptions(yargs))))), CALIBRATION_SEED))
      .option('model', { type: 'string', demandOption: true, describe: 'ONNX file' })
      .option('batch', { type: 'number', default: 256, describe: 'images per engine call' })
      .option('logits', { type: 'string', describe: 'write float32 logits [N, classes] to this .npy file (or a device such as /dev/null)' }),
  handler: async (args: ArgumentsCamelCase<PredictArgs>) => {
    const { loadModel } = await import('../onnx/model.js');
    const { loadDataset, selectionReach, writeNpy } = await import('../data/index.js');
    const { checkOutputs } = await import('../util/files.js');
    const { createClassifier } = await import('../engine/classifier.js');
    const { predictDataset } = await import('../engine/predict.js');
    const { progressBar } = await import('./progress.js');
    const { printJson } = await import('./print.js');

    const { batch, threads } = args;
    if (args.logits) checkOutputs([args.logits], { flag: '--logits', inputs: await inputFiles(args), overwrite: args.overwrite, allowSpecial: true });
    const model = withSemantics(args, await loadModel(args.model));
    const dataset = await loadDataset(args.data, 'test', { limit: selectionReach(1, args.max) });
    checkInputShape(model.graph.input.shape, dataset.shape, dataset.name);
    const quantization = await quantizationFromArgs(args, model);
    const classifier = await createClassifier(model, args.engine, { threads, quantization });
    const bar = progressBar('predict', args);
    try {
      const result = await predictDataset(classifier, dataset, { batch, onProgress: (done, total) => bar.update(done, total) });
      bar.stop();
      if (args.logits) await writeNpy(args.logits, result.logits, [result.count, result.classes]);
      const samplesPerSecond = result.count / result.seconds;
      if (args.json) {
        printJson({ count: result.count, accuracy: result.accuracy, predictions: Array.from(result.predictions), engine: args.engine, seconds: result.seconds, samples_per_second: samplesPerSecond });
      } else {
        console.log(`${dataset.name}: accuracy ${(100 * result.accuracy).toFixed(2)}% on ${result.count} images (engine ${args.engine}, ${result.seconds.toFixed(2)} s, ${samplesPerSecond.toFixed(0)} images/s)`);
        if (quantization) console.log(`policy: BitOps ${quantization.cost.bitopsPercent.toFixed(3)}% of float, ${quantization.cost.sizeBytes} bytes of weights (float ${quantization.cost.floatSizeBytes}); calibrated on ${quantization.calibration.settings.count} images of ${quantization.calibration.settings.data} at sigma ${quantization.calibration.settings.sigma}`);
        if (args.logits) console.log(`logits written to ${args.logits}`);
      }
    } finally {
      bar.stop();
      await classifier.close();
    }
  },
};

function checkInputShape(model: readonly number[], data: readonly number[], name: string): void {
  const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
  const flatOk = model[1] === 1 && model[2] === 1 && model[0] === size(data);
  if (!flatOk && model.some((d, i) => d !== data[i])) {
    throw new ArqError(`the model expects images of shape [${model.join(', ')}] but ${name} has [${data.join(', ')}]`);
  }
}
