/** `arq search`: the ARQ search (search.md) with its baselines, a final table and the report's location. */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { inputFiles, withOutputOptions, withSeedOption, withThreadsOption } from './options.js';
import { queueSearchOf, withQueueOptions, type QueueArgs } from './queue.js';
import { BASELINES, type BaselineName } from '../search/search.js';
import { REWARD_NAMES, type RewardName } from '../report/types.js';

interface SearchArgs extends QueueArgs {
  model?: string;
  data: string;
  valData?: string;
  sigma: number;
  budget: number;
  reward: RewardName;
  episodes: number;
  warmup: number;
  localSearch?: number;
  baselines: BaselineName[];
  valImages: number;
  cleanImages: number;
  testImages: number;
  n0: number;
  n: number;
  alpha: number;
  np?: number;
  finalN: number;
  finetuneSteps: number;
  finalFinetuneSteps: number;
  lambda: number;
  minBits: number;
  maxBits: number;
  pinEnds: boolean;
  calibration: number;
  rescore: number;
  sensitivityImages: number;
  sensitivityCopies: number;
  seed: number;
  threads?: number;
  batch: number;
  parallel: number;
  out: string;
  resume: boolean;
  overwrite: boolean;
  json: boolean;
  quiet: boolean;
}

export const searchCommand: CommandModule<object, SearchArgs> = {
  command: 'search',
  describe: 'search per-layer bit widths that keep certified robustness under a BitOps budget (ARQ), against HAQ, random, uniform and sensitivity-knapsack baselines',
  builder: (yargs: Argv) =>
    withQueueOptions(withSeedOption(withThreadsOption(withOutputOptions(yargs)), 'noise, agents and random search'))
      .option('model', { type: 'string', describe: 'float ONNX model (default: the bundled noise-trained MNIST CNN)' })
      .option('data', { type: 'string', default: 'mnist', describe: 'dataset spec; its test split gives the final numbers' })
      .option('val-data', { type: 'string', describe: 'validation data for the search (default: the training split of --data)' })
      .option('sigma', { type: 'number', default: 0.25, describe: 'noise level of the smoothed classifier' })
      .option('budget', { type: 'number', default: 0.015625, describe: 'BitOps budget as a fraction of float BitOps (0.015625 = W4A4)' })
      .option('reward', { choices: REWARD_NAMES, default: 'arq', describe: 'arq: ACR difference by IRS; arq-acc: plus smoothed accuracy; haq: clean accuracy' })
      .option('episodes', { type: 'number', default: 120, describe: 'episodes per search (warm-up included)' })
      .option('warmup', { type: 'number', default: 20, describe: 'warm-up episodes of random actions' })
      .option('local-search', { type: 'number', describe: 'last episodes of the ARQ and HAQ searches spent on local search around the best policy so far (one width raised, the rest lowered into the budget by sensitivity) instead of agent episodes (default: half of those after the warm-up; 0: none)' })
      .option('baselines', { type: 'array', choices: BASELINES, default: [...BASELINES], describe: 'baselines run and certified beside ARQ' })
      .option('val-images', { type: 'number', default: 200, describe: 'validation images certified for the arq reward' })
      .option('clean-images', { type: 'number', default: 2000, describe: 'validation images of the haq (clean accuracy) reward' })
      .option('test-images', { type: 'number', default: 200, describe: 'test images of the final certification' })
      .option('n0', { type: 'number', default: 100, describe: 'CERTIFY selection samples' })
      .option('n', { type: 'number', default: 10_000, describe: 'estimation samples of the float model on the validation images' })
      .option('alpha', { type: 'number', default: 0.001, describe: 'CERTIFY failure probability' })
      .option('np', { type: 'number', describe: 'IRS samples per candidate and image (default 25, at most --n)' })
      .option('final-n', { type: 'number', default: 10_000, describe: 'estimation samples of the final CERTIFY on the test images' })
      .option('finetune-steps', { type: 'number', default: 0, describe: 'QAT steps (batches of 128 noisy training images) before each candidate is rewarded and certified' })
      .option('final-finetune-steps', { type: 'number', default: 0, describe: 'QAT steps of each final policy (winners and baselines) before its final certification, instead of --finetune-steps (HAQ\'s protocol); a finished search resumes with another value and redoes only its final numbers' })
      .option('lambda', { type: 'number', default: 0.1, describe: 'reward scale' })
      .option('min-bits', { type: 'number', default: 2, describe: 'lowest bit width' })
      .option('max-bits', { type: 'number', default: 8, describe: 'highest bit width' })
      .option('pin-ends', { type: 'boolean', default: true, describe: 'keep the first and last layers at --max-bits (--no-pin-ends to search them too)' })
      .option('calibration', { type: 'number', default: 256, describe: 'noisy training images for calibration' })
      .option('rescore', { type: 'number', default: 8, describe: 'top candidates of each search re-scored on fresh validation images and noise to choose its winner (0: the best search-time reward wins)' })
      .option('sensitivity-images', { type: 'number', default: 64, describe: 'validation images of the layer-sensitivity measurement' })
      .option('sensitivity-copies', { type: 'number', default: 4, describe: 'noisy copies of each sensitivity image' })
      .option('batch', { type: 'number', default: 400, describe: 'noisy copies per classifier call' })
      .option('parallel', { type: 'number', default: 1, describe: 'agent episodes proposed per policy update, their rewards measured together (at once with --queue); 1: one update between proposals' })
      .option('out', { type: 'string', default: 'arq-search', describe: 'output directory (episodes.jsonl, checkpoint.json, best-policy.json, best-policy.qdq.onnx, report.json, report.html)' })
      .option('resume', { type: 'boolean', default: false, describe: 'continue a killed search in --out' })
      .option('overwrite', { type: 'boolean', default: false, describe: 'replace a search in --out' }) as unknown as Argv<SearchArgs>,
  handler: async (args: ArgumentsCamelCase<SearchArgs>) => {
    const { bundledModelPath } = await import('../onnx/model.js');
    const { search } = await import('../search/search.js');
    const { ArqError } = await import('../util/errors.js');
    const { progressBar, untilInterrupted } = await import('./progress.js');
    const { printJson } = await import('./print.js');
    const { checkOutputs } = await import('../util/files.js');

    const model = args.model ?? bundledModelPath();
    const remote = args.queue === undefined ? undefined : await queueSearchOf(args, model);
    const { finalTable, rulesLine, repairLine, rescoringLines, timeLine } = await import('./search-table.js');
    checkOutputs([args.out], { flag: '--out', inputs: await inputFiles({ ...args, model }), overwrite: true, directory: true });

    let bar = progressBar('', args);
    let best = '';
    // Without a terminal there is no bar: one line per stage keeps a log (CI, nohup) informative.
    const log = !args.quiet && !args.json && !process.stderr.isTTY;
    const began = performance.now();
    const interrupted = () => new ArqError(`interrupted: finished episodes and certifications are kept in ${args.out}; rerun with --resume to continue`);
    const running = (signal: AbortSignal) => {
      const run = search({
        model, data: args.data, valData: args.valData, sigma: args.sigma, budget: args.budget,
        reward: args.reward, episodes: args.episodes, warmup: args.warmup, localSearch: args.localSearch, baselines: args.baselines, valImages: args.valImages,
        cleanImages: args.cleanImages, testImages: args.testImages, n0: args.n0, n: args.n, alpha: args.alpha, np: args.np,
        finalN: args.finalN, finetuneSteps: args.finetuneSteps, finalFinetuneSteps: args.finalFinetuneSteps, lambda: args.lambda, minBits: args.minBits, maxBits: args.maxBits, pinEnds: args.pinEnds,
        calibrationCount: args.calibration, rescore: args.rescore, sensitivityImages: args.sensitivityImages, sensitivityCopies: args.sensitivityCopies, seed: args.seed, threads: args.threads, batch: args.batch, out: args.out,
        parallel: args.parallel, remote,
        resume: args.resume, overwrite: args.overwrite, signal,
      });
      run.on('stage', ({ stage, total }) => {
        if (log) process.stderr.write(`arq search: ${((performance.now() - began) / 1000).toFixed(0)} s: ${stage}${best ? ` (previous stage: ${best})` : ''}\n`);
        bar.stop();
        bar = progressBar(stage.padEnd(16), args);
        best = '';
        bar.update(0, total, { rate: '' });
      });
      run.on('progress', ({ done, total }) => bar.update(done, total, { rate: best }));
      run.on('episode', ({ best: top }) => {
        best = `best reward ${top.reward.toFixed(4)} at ${top.bitops_percent.toFixed(2)}% BitOps`;
      });
      return run.done;
    };
    try {
      const result = await untilInterrupted(interrupted, running);
      bar.stop();
      const { report, files } = result;
      if (args.json) {
        const { episodes: _episodes, ...summary } = report;
        void _episodes;
        printJson({ ...summary, files });
        return;
      }
      console.log(`ARQ search on ${report.model.path} (${report.data}, sigma ${report.sigma}, budget ${(100 * report.budget).toFixed(4)}% of float BitOps)`);
      console.log(finalTable(report));
      console.log(timeLine(report));
      console.log(rulesLine(report));
      console.log(repairLine(report));
      for (const line of rescoringLines(report)) console.log(line);
      console.log(`final numbers: full CERTIFY of ${String(report.settings.test_images)} test images (n = ${String(report.settings.final_n)}); BitOps count Conv and Gemm layers only`);
      console.log(`report: ${files.html}  (data: ${files.report}, ARQ policy: ${files.policy}, its quantized model: ${files.qdq}, episodes: ${files.episodes})`);
    } finally {
      bar.stop();
    }
  },
};
