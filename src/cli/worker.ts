/** `arq worker --queue redis://...`: runs the jobs of `arq certify|verify|search --queue` producers until SIGTERM or Ctrl-C. */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { withThreadsOption } from './options.js';

interface WorkerArgs {
  queue: string;
  concurrency: number;
  threads?: number;
  stalledSeconds: number;
}

export const workerCommand: CommandModule<object, WorkerArgs> = {
  command: 'worker',
  describe: 'take certify, verify and search jobs from a Redis queue (arq certify|verify|search --queue) until SIGTERM; finishes its current jobs first',
  builder: (yargs: Argv) =>
    withThreadsOption(yargs)
      .option('queue', { type: 'string', demandOption: true, describe: 'redis://[user:password@]host:port[/db] (rediss:// for TLS)' })
      .option('concurrency', { type: 'number', default: 1, describe: 'jobs at once (each with --threads threads)' })
      .option('stalled-seconds', { type: 'number', default: 30, describe: 'a job whose worker is silent this long (killed) goes to another worker' }) as unknown as Argv<WorkerArgs>,
  handler: async (args: ArgumentsCamelCase<WorkerArgs>) => {
    const { checkQueueUrl, redactUrl } = await import('../distributed/protocol.js');
    const { startWorker } = await import('../distributed/worker.js');
    const { integerInRange, numberInRange } = await import('../util/check.js');
    const { jobQuantization, jobSampler } = await import('./queue.js');
    const url = checkQueueUrl(args.queue);
    const concurrency = integerInRange('--concurrency', args.concurrency, 1, 256);
    const stalledSeconds = numberInRange('--stalled-seconds', args.stalledSeconds, 0.1, 86400);
    const log = (line: string) => console.log(`${new Date().toISOString()} ${line}`);
    const worker = await startWorker({
      url, concurrency, stalledSeconds, samplerFor: (job, model) => jobSampler(job, model, args.threads),
      quantizationFor: (job, model) => jobQuantization(job, model, args.threads), threads: args.threads, log,
    });
    log(`worker on ${redactUrl(url)}: ${concurrency} job(s) at once; SIGTERM or Ctrl-C stops it after its current jobs`);
    await new Promise<void>((resolve) => {
      const stop = (signal: string) => {
        log(`${signal}: finishing the current jobs`);
        resolve();
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
    });
    await worker.close();
    log('stopped');
  },
};
