/**
 * `arq search --queue` against a local search (issue 20), in one run on this machine: a small search on the bundled
 * model, locally (one process, one thread) and on a real Redis with `--workers` `arq worker`s (one thread each).
 * Prints both wall times, their ratio, the stages' times from each report.json, the load average before and after,
 * the ARQ winner's outcome, and checks that both searches gave the same episodes (rewards and policies) and final radii.
 * Needs redis-server and the compiled CLI (npm run build).
 *
 *   npm run bench -- search-queue [--episodes 24] [--val-images 20] [--n 2000] [--final-n 2000] [--test-images 20] [--workers 2] [--parallel 1] [--job-images 4]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { SearchReport } from '../src/report/types.js';
import { hasRedis, RedisServer } from '../test/support/redis.js';
import { root, runArq, startWorkers } from './support/arq-process.js';

const { values } = parseArgs({
  options: {
    episodes: { type: 'string', default: '24' }, 'val-images': { type: 'string', default: '20' }, n: { type: 'string', default: '2000' },
    'final-n': { type: 'string', default: '2000' }, 'test-images': { type: 'string', default: '20' }, workers: { type: 'string', default: '2' },
    parallel: { type: 'string', default: '1' }, 'job-images': { type: 'string', default: '4' },
  },
});
if (!hasRedis) throw new Error('bench search-queue needs redis-server (Debian package redis-server)');
const dir = mkdtempSync(path.join(tmpdir(), 'arq-bench-search-queue-'));
const common = [
  'search', '--model', path.join(root, 'models/mnist-cnn-s025.onnx'), '--episodes', values.episodes, '--warmup', String(Math.ceil(Number(values.episodes) / 6)),
  '--val-images', values['val-images'], '--clean-images', '500', '--n', values.n, '--final-n', values['final-n'], '--test-images', values['test-images'],
  '--parallel', values.parallel, '--threads', '1', '--quiet',
];
const report = (name: string) => JSON.parse(readFileSync(path.join(dir, name, 'report.json'), 'utf8')) as SearchReport;
const load = () => loadavg().map((l) => l.toFixed(1)).join(' ');

const redis = await RedisServer.start();
try {
  const before = load();
  const local = await runArq([...common, '--out', path.join(dir, 'local')]).done;
  const workers = await startWorkers(redis.url, Number(values.workers));
  const queued = await runArq([...common, '--out', path.join(dir, 'queue'), '--queue', redis.url, '--job-images', values['job-images']]).done;
  workers.forEach((w) => w.kill());
  await Promise.all(workers.map((w) => w.done));
  const [a, b] = [report('local'), report('queue')];
  const same = JSON.stringify(a.episodes.map((r) => [r.policy, r.reward])) === JSON.stringify(b.episodes.map((r) => [r.policy, r.reward]))
    && JSON.stringify(a.arq!.certified_radii) === JSON.stringify(b.arq!.certified_radii);
  console.log(`arq search, bundled model, ${values.episodes} episodes, ${values['val-images']} validation images at n ${values.n}, ${values['test-images']} test images at n ${values['final-n']}, --parallel ${values.parallel}, 1 thread per process, jobs of ${values['job-images']} images`);
  console.log(`load average (1, 5, 15 min): ${before} before, ${load()} after`);
  console.log(`local: ${local.seconds.toFixed(1)} s wall; queue, ${values.workers} workers: ${queued.seconds.toFixed(1)} s wall; queue / local = ${(queued.seconds / local.seconds).toFixed(3)}`);
  console.log(`same episodes and final radii: ${same ? 'yes' : 'NO'}`);
  const best = Math.max(...a.episodes.filter((r) => r.search === 'arq').map((r) => r.reward));
  console.log(`ARQ: best search-time reward ${best.toFixed(5)}; winner ACR ${a.arq!.acr.toFixed(4)} (float ${a.float!.acr.toFixed(4)}) at ${a.arq!.bitops_percent.toFixed(3)}% BitOps`);
  const stages = Object.keys(a.timings);
  console.log(['stage', ...stages].join('\t'));
  for (const [name, r] of [['local', a], ['queue', b]] as const) console.log([name, ...stages.map((s) => (r.timings[s] ?? 0).toFixed(1))].join('\t'));
  if (!same) process.exitCode = 1;
} finally {
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
}
