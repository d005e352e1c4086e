/**
 * The queue's overhead (issue 20): `arq certify` at n = 10,000 on the bundled model, locally (one process, one
 * thread) and on a real Redis with two `arq worker`s (one thread each), in one run on this machine.
 * - per-job overhead: what the workers spend beyond certifying (job start to done minus the job's image times, and
 *   the wait between one job and the next), as a fraction of the certifying time;
 * - end to end: the queue run's wall time against half the local run's (two workers, ideally twice as fast).
 * Needs redis-server and the compiled CLI (npm run build).
 *
 * With --job-samples S the jobs are ranges of S samples of one image instead (certify --job-samples).
 *
 *   npm run bench -- queue [--images 20] [--n 10000] [--job-images 4 | --job-samples 2500]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { hasRedis, RedisServer } from '../test/support/redis.js';
import { root, runArq as run, startWorkers } from './support/arq-process.js';

const { values } = parseArgs({ options: { images: { type: 'string', default: '20' }, n: { type: 'string', default: '10000' }, 'job-images': { type: 'string', default: '4' }, 'job-samples': { type: 'string' } } });
if (!hasRedis) throw new Error('bench queue needs redis-server (Debian package redis-server)');
const dir = mkdtempSync(path.join(tmpdir(), 'arq-bench-queue-'));
const common = ['certify', '--model', path.join(root, 'models/mnist-cnn-s025.onnx'), '--data', 'mnist', '--sigma', '0.25', '--max', values.images, '--n', values.n, '--threads', '1', '--quiet'];

/** Image times (the TSV's time column) by image index. */
const times = (file: string) => new Map(readFileSync(file, 'utf8').split('\n').slice(1).filter(Boolean).map((l) => {
  const f = l.split('\t');
  return [Number(f[0]), Number(f[5])] as const;
}));

const redis = await RedisServer.start();
try {
  const local = await run([...common, '--out', path.join(dir, 'local.tsv')]).done;
  const workers = await startWorkers(redis.url, 2);
  const split = values['job-samples'] ? ['--job-samples', values['job-samples']] : ['--job-images', values['job-images']];
  const queued = await run([...common, '--out', path.join(dir, 'queue.tsv'), '--queue', redis.url, ...split]).done;
  workers.forEach((w) => w.kill());
  const logs = await Promise.all(workers.map((w) => w.done));

  // from the workers' logs: each job's start to done, and the wait since the worker's previous job, less the
  // certifying time (the queue TSV's time column: an image's time, or its sample ranges' times summed)
  const certifying = [...times(path.join(dir, 'queue.tsv')).values()].reduce((s, t) => s + t, 0);
  let busy = 0;
  let jobs = 0;
  for (const { lines } of logs) {
    let previousDone: number | null = null;
    let started: number | null = null;
    for (const line of lines) {
      const at = Date.parse(line.slice(0, 24));
      if (/ job \S+: positions/.test(line)) {
        if (previousDone !== null) busy += (at - previousDone) / 1000;
        started = at;
      } else if (/ job \S+: done/.test(line) && started !== null) {
        busy += (at - started) / 1000;
        previousDone = at;
        jobs++;
        started = null;
      }
    }
  }
  const overhead = busy - certifying;
  const localCompute = [...times(path.join(dir, 'local.tsv')).values()].reduce((s, t) => s + t, 0);
  console.log(`certify --n ${values.n} on ${values.images} images of mnist, bundled model, 1 thread per process; ${jobs} jobs of ${values['job-samples'] ? `${values['job-samples']} samples of one image` : `${values['job-images']} images`}, 2 workers`);
  console.log(`local: ${local.seconds.toFixed(2)} s wall, ${localCompute.toFixed(2)} s certifying`);
  console.log(`queue: ${queued.seconds.toFixed(2)} s wall, ${certifying.toFixed(2)} s certifying over both workers`);
  console.log(`per-job overhead: ${((1000 * overhead) / jobs).toFixed(1)} ms per job, ${((100 * overhead) / certifying).toFixed(2)}% of the certifying time`);
  console.log(`end to end: queue wall / (local wall / 2) = ${(queued.seconds / (local.seconds / 2)).toFixed(3)}`);
} finally {
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
}
