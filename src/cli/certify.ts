/** `arq certify`: Cohen CERTIFY per image (and IRS from a cache), TSV lines as they finish, a summary JSON. */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { inputFiles, withCalibrationOptions, withDataOptions, withEngineOption, withOutputOptions, withThreadsOption } from './options.js';
import { samplerFromArgs, withSmoothingOptions, type SmoothingArgs } from './smoothing-options.js';
import { withQueueOptions, type QueueArgs } from './queue.js';

interface CertifyArgs extends SmoothingArgs, QueueArgs {
  n0?: number;
  n?: number;
  alpha?: number;
  out: string;
  resume: boolean;
  overwrite: boolean;
  cache?: string;
  incremental?: string;
  np?: number;
  gamma?: number;
  alphaZeta?: number;
  fromScratch: boolean;
  shard?: string;
  jobSamples?: number;
}

export const certifyCommand: CommandModule<object, CertifyArgs> = {
  command: 'certify',
  describe: 'certify the smoothed classifier image by image (Cohen CERTIFY; IRS with --incremental)',
  builder: (yargs: Argv) =>
    withQueueOptions(withSmoothingOptions(withThreadsOption(withCalibrationOptions(withEngineOption(withDataOptions(withOutputOptions(yargs)))))))
      // No yargs defaults for n0/n/alpha: in incremental mode they come from the cache (defaults 100, 100000, 0.001).
      .option('n0', { type: 'number', describe: 'selection samples (default 100)' })
      .option('n', { type: 'number', describe: 'estimation samples (default 100000)' })
      .option('alpha', { type: 'number', describe: 'failure probability, in (0, 1) (default 0.001)' })
      .option('out', { type: 'string', demandOption: true, describe: 'FILE.tsv; FILE.summary.json and FILE.settings.json go beside it (a regular file: not a device such as /dev/null)' })
      .option('resume', { type: 'boolean', default: false, describe: 'continue an interrupted run, keeping its finished lines' })
      .option('overwrite', { type: 'boolean', default: false, describe: 'replace an existing FILE.tsv' })
      .option('cache', { type: 'string', describe: 'write an IRS cache while certifying (the float model)' })
      .option('incremental', { type: 'string', describe: 'certify incrementally (IRS) from this cache' })
      .option('np', { type: 'number', describe: 'IRS: samples of the modified model per image (default 5% of the cache\'s n)' })
      .option('gamma', { type: 'number', describe: 'IRS: pA threshold between the two branches (default 0.99)' })
      .option('alpha-zeta', { type: 'number', describe: 'IRS: failure probability of the disagreement bound (default 0.001)' })
      .option('from-scratch', { type: 'boolean', default: false, describe: 'with --incremental: certify from scratch at the cache\'s n instead, for comparison' })
      .option('shard', { type: 'string', describe: 'only shard i of k of the selection (0 <= i < k; a Slurm array or Kubernetes Indexed Job task); join the shards with arq merge' })
      .option('job-samples', { type: 'number', describe: 'with --queue, for large n: each job draws this many of one image\'s n0 + n samples; the counts are summed (instead of --job-images)' })
      .conflicts('cache', 'incremental') as unknown as Argv<CertifyArgs>,
  handler: async (args: ArgumentsCamelCase<CertifyArgs>) => {
    const { loadModel } = await import('../onnx/model.js');
    const { loadDataset, selectionReach } = await import('../data/index.js');
    const { certifyDataset } = await import('../smoothing/run.js');
    const { ABSTAIN } = await import('../smoothing/certify.js');
    const { ArqError } = await import('../util/errors.js');
    const { progressBar, untilInterrupted } = await import('./progress.js');
    const { printJson, table } = await import('./print.js');
    const { checkOutputs } = await import('../util/files.js');
    const { settingsPath, summaryPath } = await import('../smoothing/results.js');
    const { parseShard } = await import('../data/index.js');

    if (!args.incremental && (args.np !== undefined || args.gamma !== undefined || args.alphaZeta !== undefined || args.fromScratch)) {
      throw new ArqError('--np, --gamma, --alpha-zeta and --from-scratch apply to --incremental');
    }
    if (args.resume && args.overwrite) throw new ArqError('--resume and --overwrite are exclusive');
    if (args.jobSamples !== undefined && args.queue === undefined) throw new ArqError('--job-samples applies to --queue');
    // A resumed run continues its own files, so they may exist.
    const inputs = [...(await inputFiles(args)), args.incremental];
    const rule = { inputs, overwrite: args.overwrite || args.resume, resumable: true };
    checkOutputs([args.out, summaryPath(args.out), settingsPath(args.out)], { flag: '--out', ...rule });
    if (args.cache) checkOutputs([args.cache], { flag: '--cache', ...rule });
    const model = await loadModel(args.model);
    const dataset = await loadDataset(args.data, 'test', { limit: selectionReach(args.skip, args.max) });
    const { sampler, identity, info } = await samplerFromArgs(args, model);
    const { queueRemote } = await import('./queue.js');
    const remote = args.queue === undefined ? undefined : await queueRemote(args, model, identity, (line) => args.json || console.error(line));
    const bar = progressBar('certify', args);
    let samplesStart = performance.now();
    let imagesDone = 0;
    let imagesTotal = 0;
    try {
      const result = await untilInterrupted(() => new ArqError('interrupted: finished images are kept; rerun with --resume to continue'), (signal) => certifyDataset({
        sampler, dataset, out: args.out, identity, info,
        n0: args.n0, n: args.n, alpha: args.alpha, skip: args.skip, max: args.max, resume: args.resume, overwrite: args.overwrite,
        cache: args.cache,
        shard: args.shard === undefined ? undefined : parseShard(args.shard),
        remote,
        incremental: args.incremental ? { cache: args.incremental, np: args.np, gamma: args.gamma, alphaZeta: args.alphaZeta, fromScratch: args.fromScratch } : undefined,
        signal,
        onImage: (done, total, image) => {
          imagesDone = done;
          imagesTotal = total;
          bar.update(done, total, { rate: `${(image.samples / Math.max(image.time, 1e-9)).toFixed(0)} samples/s` });
          samplesStart = performance.now();
        },
        onSamples: (done) => {
          if (imagesTotal > 0) bar.update(imagesDone, imagesTotal, { rate: `${(done / Math.max((performance.now() - samplesStart) / 1000, 1e-9)).toFixed(0)} samples/s` });
        },
      }));
      bar.stop();
      const summary = result.summary;
      if (args.json) {
        printJson(summary);
        return;
      }
      const abstained = result.rows.filter((row) => row.predict === ABSTAIN).length;
      console.log(`${summary.images} images of ${dataset.name} at sigma ${args.sigma} (engine ${args.engine}${result.resumed ? `, ${result.resumed} resumed` : ''})`);
      const radii = Object.keys(summary.certified_accuracy).sort((a, b) => Number(a) - Number(b));
      console.log('certified accuracy at radius:');
      console.log(table([radii.map((r) => `${(100 * summary.certified_accuracy[r]).toFixed(1)}%`)], radii.map((r) => `r=${r}`)));
      console.log(`ACR ${summary.acr.toFixed(4)}, clean smoothed accuracy ${(100 * summary.clean_accuracy).toFixed(1)}%, abstained ${abstained} (${(100 * summary.abstain_rate).toFixed(1)}%), ${summary.samples_per_second.toFixed(0)} samples/s, ${summary.seconds.toFixed(1)} s`);
      console.log(`results: ${args.out}, summary: ${result.summaryPath}${args.cache ? `, IRS cache: ${args.cache}` : ''}`);
    } finally {
      bar.stop();
      await sampler.close();
    }
  },
};
