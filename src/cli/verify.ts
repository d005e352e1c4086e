/**
 * `arq verify`: complete l-infinity verification of the integer plan (src/verify), one TSV line per image as it
 * finishes, a summary JSON, resumable like `arq certify`.
 */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { inputFiles, verifyQuantizationFromArgs, withCalibrationOptions, withOutputOptions, withSeedOption, withThreadsOption, type CalibrationArgs } from './options.js';
import { withQueueOptions, type QueueArgs } from './queue.js';

interface VerifyArgs extends CalibrationArgs, QueueArgs {
  model?: string;
  data: string;
  eps: string;
  timeout: number;
  skip: number;
  max?: number;
  restarts: number;
  steps: number;
  out?: string;
  resume: boolean;
  overwrite: boolean;
  json: boolean;
  quiet: boolean;
  shard?: string;
}

export const verifyCommand: CommandModule<object, VerifyArgs> = {
  command: 'verify',
  describe: 'verify the integer plan against l-infinity perturbations, image by image (verified / falsified / timeout)',
  builder: (yargs: Argv) =>
    withQueueOptions(withSeedOption(withThreadsOption(withCalibrationOptions(withOutputOptions(yargs))), 'the attack and of the calibration noise'))
      .option('model', { type: 'string', describe: 'ONNX file (default: the bundled QA-IBP MNIST model, models/mnist-qaibp-w8a8.onnx); a float model is verified as the integer plan it would deploy' })
      .option('data', { type: 'string', demandOption: true, describe: 'dataset: mnist | mnist:test | idx:IMAGES,LABELS | cifar10:DIR | npy:X.npy,Y.npy (its test split)' })
      .option('eps', { type: 'string', demandOption: true, describe: 'radii in [0, 1] image units, comma-separated; fractions accepted (1/255,4/255)' })
      .option('timeout', { type: 'number', default: 20, describe: 'seconds per image and radius' })
      .option('skip', { type: 'number', default: 1, describe: 'use every skip-th image' })
      .option('max', { type: 'number', describe: 'at most this many images (after --skip); the rest of --data is not read' })
      .option('restarts', { type: 'number', default: 4, describe: 'attack: PGD restarts per box' })
      .option('steps', { type: 'number', default: 20, describe: 'attack: gradient steps per restart' })
      .option('out', { type: 'string', describe: 'FILE.tsv; FILE.summary.json and FILE.settings.json go beside it' })
      .option('resume', { type: 'boolean', default: false, describe: 'continue an interrupted run (needs --out), keeping its finished lines' })
      .option('overwrite', { type: 'boolean', default: false, describe: 'replace an existing FILE.tsv' })
      .option('shard', { type: 'string', describe: 'only shard i of k of the selection (0 <= i < k; needs --out); join the shards with arq merge' }) as unknown as Argv<VerifyArgs>,
  handler: async (args: ArgumentsCamelCase<VerifyArgs>) => {
    const { bundledVerifyModelPath, loadModel } = await import('../onnx/model.js');
    const { loadDataset, selectionReach } = await import('../data/index.js');
    const { verify, verifySettings } = await import('../verify/verify.js');
    const { verifyDataset } = await import('../verify/run.js');
    const { rowOf, summarizeVerification } = await import('../verify/results.js');
    const { ArqError } = await import('../util/errors.js');
    const { progressBar } = await import('./progress.js');
    const { printJson, table } = await import('./print.js');
    const { checkOutputs } = await import('../util/files.js');
    const { settingsPath, summaryPath } = await import('../smoothing/results.js');
    const { parseShard } = await import('../data/index.js');

    if (args.resume && args.overwrite) throw new ArqError('--resume and --overwrite are exclusive');
    if ((args.resume || args.overwrite) && !args.out) throw new ArqError('--resume and --overwrite apply to --out');
    if (args.shard !== undefined && !args.out) throw new ArqError('--shard needs --out: arq merge joins the shards\' files');
    if (args.queue !== undefined && !args.out) throw new ArqError('--queue needs --out: the producer writes the workers\' results there');
    if (args.queue !== undefined) (await import('../distributed/protocol.js')).checkQueueUrl(args.queue);
    const shard = args.shard === undefined ? undefined : parseShard(args.shard);
    const options = { eps: args.eps, timeout: args.timeout, skip: args.skip, max: args.max, seed: args.seed, restarts: args.restarts, steps: args.steps };
    const settings = verifySettings(options);
    const modelPath = args.model ?? bundledVerifyModelPath();
    if (args.out) {
      const inputs = await inputFiles({ ...args, model: modelPath });
      checkOutputs([args.out, summaryPath(args.out), settingsPath(args.out)], { flag: '--out', inputs, overwrite: args.overwrite || args.resume, resumable: true });
    }
    const model = await loadModel(modelPath);
    const { quantization, bits, identity } = await verifyQuantizationFromArgs(args, model);
    const dataset = await loadDataset(args.data, 'test', { limit: selectionReach(args.skip, args.max) });
    const { queueVerifierOf } = await import('./queue.js');
    const remote = args.queue === undefined ? undefined : await queueVerifierOf(args, modelPath, model, identity, (line) => args.json || console.error(line));
    const bar = progressBar('verify', args);
    const controller = new AbortController();
    const stop = () => controller.abort(new ArqError(`interrupted${args.out ? ': finished images are kept; rerun with --resume to continue' : ''}`));
    process.once('SIGINT', stop);
    try {
      const common = {
        model, quantization, dataset, ...options, threads: args.threads, signal: controller.signal,
        onImage: (done: number, total: number) => bar.update(done, total),
      };
      const summary = args.out
        ? (await verifyDataset({ ...common, out: args.out, identity, info: { threads: args.threads ?? null }, resume: args.resume, overwrite: args.overwrite, shard, remote })).summary
        : await (async () => {
          const run = await verify(common);
          return summarizeVerification(run.images.map(rowOf), settings.eps, { ...settings, data: dataset.name, ...identity, threads: args.threads ?? null });
        })();
      bar.stop();
      if (args.json) {
        printJson(summary);
        return;
      }
      console.log(`verified network: the integer plan of ${modelPath} under ${bits ?? args.policy} (a float model is verified as the quantized plan it would deploy)`);
      console.log(`${summary.images} images of ${dataset.name}, clean accuracy of the integer plan ${(100 * summary.clean_accuracy).toFixed(1)}%`);
      const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
      console.log(table(settings.eps.map((e) => {
        const r = summary.results[e];
        const d = r.decided_by;
        return [e, pct(r.verified), pct(r.falsified), pct(r.timeouts), d.clean + d.nested, d.ibp, d.attack, d['branch-and-bound']];
      }), ['eps', 'verified', 'falsified', 'timeout', 'clean/nested', 'IBP', 'attack', 'branch and bound']));
      console.log(`${summary.seconds_per_image.toFixed(2)} s per image (timeout ${settings.timeout} s per image and radius), ${summary.splits} splits`);
      if (args.out) console.log(`results: ${args.out}, summary: ${summaryPath(args.out)}`);
    } finally {
      bar.stop();
      process.removeListener('SIGINT', stop);
    }
  },
};
