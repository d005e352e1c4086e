/** `arq compare`: top-1 agreement and logit differences between arq's integer engine and ONNX Runtime on a QDQ file. */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { withDataOptions, withOutputOptions, withSemanticsOption, withSeedOption, withThreadsOption } from './options.js';

interface CompareArgs {
  model: string;
  data: string;
  semantics: 'arq' | 'ort';
  max?: number;
  sigma: number;
  noisy: number;
  seed: number;
  batch: number;
  threads?: number;
  list: number;
  json: boolean;
  quiet: boolean;
}

export const compareCommand: CommandModule<object, CompareArgs> = {
  command: 'compare',
  describe: 'compare the integer engine (on a QDQ file\'s own grids) with ONNX Runtime on clean and noisy inputs',
  builder: (yargs: Argv) =>
    withSeedOption(withSemanticsOption(withThreadsOption(withDataOptions(withOutputOptions(yargs)))), 'the noisy copies (drawn as certify draws them)')
      .option('model', { type: 'string', demandOption: true, describe: 'QDQ ONNX file (arq quantize, ONNX Runtime quantize_static, PyTorch)' })
      .option('sigma', { type: 'number', default: 0.25, describe: 'Gaussian noise of the noisy copies' })
      .option('noisy', { type: 'number', default: 10, describe: 'noisy copies per image (0: clean images only)' })
      .option('batch', { type: 'number', default: 500, describe: 'inputs per engine call' })
      .option('list', { type: 'number', default: 20, describe: 'disagreeing inputs to print (--json lists all)' }),
  handler: async (args: ArgumentsCamelCase<CompareArgs>) => {
    const { loadModel } = await import('../onnx/model.js');
    const { withSemantics } = await import('./options.js');
    const { loadDataset, selectionReach } = await import('../data/index.js');
    const { compareWithOrt } = await import('../engine/agreement.js');
    const { integerInRange } = await import('../util/check.js');
    const { progressBar } = await import('./progress.js');
    const { printJson, table } = await import('./print.js');

    const { threads } = args;
    const list = integerInRange('--list', args.list, 0, Number.MAX_SAFE_INTEGER);
    const model = withSemantics(args, await loadModel(args.model));
    const dataset = await loadDataset(args.data, 'test', { limit: selectionReach(1, args.max) });
    const bar = progressBar('compare', args);
    let report;
    try {
      report = await compareWithOrt(model, dataset, {
        sigma: args.sigma, noisy: args.noisy, seed: args.seed, batch: args.batch, threads,
        onProgress: (done, total) => bar.update(done, total),
      });
    } finally {
      bar.stop();
    }
    if (args.json) {
      printJson({ ...report, semantics: args.semantics, notes: model.qdq?.notes ?? [] });
      return;
    }
    const pct = (agree: number, inputs: number) => (inputs ? `${(100 * agree / inputs).toFixed(3)}%` : '-');
    console.log(`${report.model} on ${report.images} images of ${report.data}: integer engine (the file's grids, --semantics ${args.semantics}) vs ONNX Runtime`);
    for (const note of model.qdq?.notes ?? []) console.log(`note: ${note}`);
    console.log(table([report.clean, report.noisy].map((c, i) => [
      i === 0 ? 'clean' : `noisy (sigma ${report.sigma})`, String(c.inputs), `${c.agree} (${pct(c.agree, c.inputs)})`, `${c.identical}`, c.max_logit_diff.toPrecision(3), c.mean_logit_diff.toPrecision(3),
    ]), ['inputs', 'count', 'top-1 agree', 'identical logits', 'max |logit diff|', 'mean']));
    const shown = report.disagreements.slice(0, list);
    if (shown.length > 0) {
      console.log(`disagreeing inputs (${shown.length} of ${report.disagreements.length}):`);
      console.log(table(shown.map((d) => [String(d.image), d.sample === null ? 'clean' : String(d.sample), String(d.int), String(d.ort), d.max_logit_diff.toPrecision(3)]), ['image', 'copy', 'int class', 'ort class', 'max |logit diff|']));
    }
  },
};
