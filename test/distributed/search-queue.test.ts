// search --queue and arq worker against a real Redis (test/support/redis.ts), run as users run them (compiled CLI),
// at toy sizes: with one worker, then two, the search's episodes (policies, rewards and their parts), report numbers
// and certified rows (validation references and final table) are a local search's, apart from timings; --parallel 2
// on the queue gives --parallel 2's local search, whose agents propose differently from --parallel 1 and whose random
// search does not; a worker killed mid-search, or Redis restarted empty, loses nothing; a job whose worker rebuilds
// another search state is refused. Skipped (never passed) without redis-server.
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { QUEUE_NAME, type SearchJob } from '../../src/distributed/protocol.js';
import type { EpisodeRecord } from '../../src/report/types.js';
import { arq, root } from '../cli/run.js';
import { killStarted, spawnArq, spawnWorker, starts } from '../support/arq-process.js';
import { hasRedis, RedisServer } from '../support/redis.js';

const dir = mkdtempSync(path.join(tmpdir(), 'arq-search-queue-'));
const out = (name: string) => path.join(dir, name);
// arq-soft (continuous scores) at sigma 0.5 (counts not all n): a candidate measured otherwise, with other noise
// too, shows in its reward even on six images
const common = [
  'search', '--model', path.join(root, 'models/mnist-cnn-s025.onnx'), '--reward', 'arq-soft', '--sigma', '0.5', '--episodes', '5', '--warmup', '2', '--val-images', '6',
  '--clean-images', '100', '--test-images', '5', '--n0', '20', '--n', '300', '--np', '30', '--final-n', '300', '--calibration', '16', '--rescore', '3',
  '--sensitivity-images', '8', '--sensitivity-copies', '2', '--seed', '3', '--threads', '2', '--quiet',
];

/** What must be identical between runs: episodes, report and certified rows, without timings. */
function outcome(name: string) {
  const without = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(without);
    if (value === null || typeof value !== 'object') return value;
    return Object.fromEntries(Object.entries(value).filter(([k]) => !['timings', 'seconds', 'created', 'time', 'seconds_per_image'].includes(k)).map(([k, v]) => [k, without(v)]));
  };
  const rows = (file: string) => readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => l.split('\t').slice(0, 5).join('\t'));
  const episodes = readFileSync(path.join(out(name), 'episodes.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as EpisodeRecord);
  const finals = readdirSync(path.join(out(name), 'final')).filter((f) => f.endsWith('.tsv')).sort();
  return {
    episodes: without(episodes) as EpisodeRecord[],
    report: without(JSON.parse(readFileSync(path.join(out(name), 'report.json'), 'utf8'))),
    references: ['float-val', 'float-fresh'].map((stem) => rows(path.join(out(name), `${stem}.tsv`))),
    finals: Object.fromEntries(finals.map((f) => [f, rows(path.join(out(name), 'final', f))])),
  };
}

describe.skipIf(!hasRedis)('search --queue on a real Redis', () => {
  let redis: RedisServer;

  beforeAll(async () => {
    redis = await RedisServer.start();
    const local = await arq([...common, '--out', out('local')]);
    expect(local.code, local.stderr).toBe(0);
  }, 120_000);
  afterEach(() => killStarted());
  afterAll(async () => {
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const search = (name: string, ...extra: string[]) => spawnArq([...common, '--out', out(name), '--queue', redis.url, '--job-images', '2', ...extra]);

  test('one worker, then two: the local search\'s episodes, report and certified rows; every kind of unit ran on the workers', async () => {
    const first = spawnWorker(redis.url);
    const one = search('one');
    expect(await one.exited, one.lines.join('\n')).toBe(0);
    const local = outcome('local');
    expect(local.episodes).toHaveLength(15);
    expect(new Set(local.episodes.map((r) => r.reward)).size).toBeGreaterThan(3);
    expect(outcome('one')).toEqual(local);
    const units = first.lines.map((l) => / \(search (\w+)\)$/.exec(l)?.[1]).filter(Boolean);
    expect(new Set(units)).toEqual(new Set(['sensitivity', 'certify', 'measure']));

    const second = spawnWorker(redis.url, '--threads', '1', '--concurrency', '2');
    await second.waitFor(/worker on/);
    const two = search('two');
    expect(await two.exited, two.lines.join('\n')).toBe(0);
    expect(outcome('two')).toEqual(local);
    expect(starts(second).size).toBeGreaterThan(0);
  }, 240_000);

  test('--final-finetune-steps on a finished search: the workers certify the fine-tuned finals a local resume does', async () => {
    cpSync(out('local'), out('qat-local'), { recursive: true });
    cpSync(out('local'), out('qat-queued'), { recursive: true });
    spawnWorker(redis.url);
    const queued = search('qat-queued', '--resume', '--final-finetune-steps', '2');
    const local = await arq([...common, '--out', out('qat-local'), '--resume', '--final-finetune-steps', '2']);
    expect(local.code, local.stderr).toBe(0);
    expect(await queued.exited, queued.lines.join('\n')).toBe(0);
    const finals = outcome('qat-local').finals;
    expect(Object.keys(finals)).toEqual(expect.arrayContaining(['arq.qat2.tsv', 'uniform.qat2.tsv', 'float.tsv']));
    expect(finals['arq.qat2.tsv']).not.toEqual(finals['arq.tsv']);
    expect(outcome('qat-queued')).toEqual(outcome('qat-local'));
  }, 240_000);

  test('--parallel 2 on the queue gives --parallel 2\'s local search: agents propose otherwise than with --parallel 1, random search alike', async () => {
    spawnWorker(redis.url);
    spawnWorker(redis.url);
    const queued = search('parallel-queued', '--parallel', '2');
    const local = await arq([...common, '--out', out('parallel-local'), '--parallel', '2']);
    expect(local.code, local.stderr).toBe(0);
    expect(await queued.exited, queued.lines.join('\n')).toBe(0);
    const parallel = outcome('parallel-local');
    expect(outcome('parallel-queued')).toEqual(parallel);
    const one = outcome('local').episodes;
    const of = (records: EpisodeRecord[], name: string) => records.filter((r) => r.search === name).map((r) => r.actions);
    expect(of(parallel.episodes, 'random')).toEqual(of(one, 'random'));
    expect(of(parallel.episodes, 'arq')).not.toEqual(of(one, 'arq'));
  }, 240_000);

  test('a worker killed mid-search (SIGKILL): another takes its job, and the search gives the local search\'s numbers', async () => {
    const victim = spawnWorker(redis.url);
    await victim.waitFor(/worker on/);
    const run = search('killed');
    const [, job] = await victim.waitFor(/ job (\S+): positions \d+ to \d+ \(search measure\)/);
    victim.child.kill('SIGKILL');
    const rescuer = spawnWorker(redis.url);
    expect(await run.exited, run.lines.join('\n')).toBe(0);
    expect(outcome('killed')).toEqual(outcome('local'));
    expect(starts(rescuer).get(job)).toBe(1);
  }, 240_000);

  test('Redis killed mid-search and restarted empty: producer and workers reconnect, the float reference is stored again, the local search\'s numbers', async () => {
    const w = spawnWorker(redis.url);
    await w.waitFor(/worker on/);
    const run = search('restart');
    await w.waitFor(/ job \S+: done, \d+ positions/);
    await w.waitFor(/\(search measure\)$/);
    await redis.down();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await redis.up();
    expect(await run.exited, run.lines.join('\n')).toBe(0);
    expect(outcome('restart')).toEqual(outcome('local'));
  }, 240_000);

  test('a search job whose worker rebuilds another state (its calibration differs) is refused without retry, naming the difference', async () => {
    const producer = search('refused');
    const queue = new Queue<SearchJob>(QUEUE_NAME, { connection: { url: redis.url } });
    try {
      let waiting: SearchJob | undefined;
      while (!waiting) {
        waiting = (await queue.getWaiting())[0]?.data;
        if (!waiting) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const other = { ...waiting, identity: { ...waiting.identity, calibration: 'another calibration' } };
      const job = await queue.add('search', other, { jobId: 'other-state', attempts: 1 });
      const w = spawnWorker(redis.url);
      await w.waitFor(/ job other-state: failed/);
      const failed = await queue.getJob(job.id!);
      expect(failed!.failedReason).toMatch(/^this worker would search with other settings than the producer's: calibration/);
      expect(failed!.attemptsMade).toBe(1);
      producer.child.kill('SIGKILL');
    } finally {
      await queue.close();
    }
  }, 120_000);
});
