// certify --queue and arq worker against a real Redis (test/support/redis.ts), run as users run them (compiled CLI):
// one, two and three workers give a local run's rows, also in sample ranges of one image (--job-samples); a worker killed mid-job (SIGKILL) or frozen past its lock (SIGSTOP,
// then SIGCONT: its job delivered twice) loses and duplicates no row; a poisoned job fails once, its error shown by
// the producer; Redis restarting empty mid-run; a producer killed and resumed redoes no finished job; a job of another
// arq version is refused. Skipped (never passed) without redis-server.
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { modelKey, QUEUE_NAME } from '../../src/distributed/protocol.js';
import { arq, root } from '../cli/run.js';
import { killStarted, spawnArq, spawnWorker, starts } from '../support/arq-process.js';
import { hasRedis, RedisServer } from '../support/redis.js';

const dir = mkdtempSync(path.join(tmpdir(), 'arq-queue-'));
const out = (name: string) => path.join(dir, name);
const model = path.join(root, 'models/mnist-cnn-s025.onnx');
const common = ['certify', '--data', 'mnist', '--sigma', '0.25', '--max', '8', '--n0', '10', '--n', '3000', '--threads', '1', '--quiet'];

const worker = (redis: RedisServer, ...extra: string[]) => spawnWorker(redis.url, ...extra);
const cells = (file: string) => readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => l.split('\t').slice(0, 5).join('\t'));

describe.skipIf(!hasRedis)('certify --queue on a real Redis', () => {
  let redis: RedisServer;
  let local: string[];

  beforeAll(async () => {
    redis = await RedisServer.start();
    const run = await arq([...common, '--model', model, '--out', out('local.tsv')]);
    expect(run.code, run.stderr).toBe(0);
    local = cells(out('local.tsv'));
    expect(local).toHaveLength(9);
  });
  afterEach(async () => {
    // stop what a test left running (SIGKILL: a test's own processes only)
    killStarted();
    await redis.down();
    await redis.up();
  });
  afterAll(async () => {
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const produce = (name: string, ...extra: string[]) => spawnArq([...common, '--model', model, '--out', out(name), '--queue', redis.url, '--job-images', '2', ...extra]);

  test('one worker, then two (concurrency 2, other thread counts), then three: the local run\'s rows and settings', async () => {
    worker(redis);
    const one = produce('one.tsv');
    expect(await one.exited, one.lines.join('\n')).toBe(0);
    expect(cells(out('one.tsv'))).toEqual(local);
    expect(readFileSync(out('one.settings.json'), 'utf8')).toBe(readFileSync(out('local.settings.json'), 'utf8'));
    const second = worker(redis, '--concurrency', '2', '--threads', '2');
    await second.waitFor(/worker on/);
    const two = produce('two.tsv');
    expect(await two.exited, two.lines.join('\n')).toBe(0);
    expect(cells(out('two.tsv'))).toEqual(local);
    const third = worker(redis, '--threads', '2');
    await third.waitFor(/worker on/);
    const three = produce('three.tsv');
    expect(await three.exited, three.lines.join('\n')).toBe(0);
    expect(cells(out('three.tsv'))).toEqual(local);
    expect(readFileSync(out('three.settings.json'), 'utf8')).toBe(readFileSync(out('local.settings.json'), 'utf8'));
    // a finished run's jobs leave Redis
    const queue = new Queue(QUEUE_NAME, { connection: { url: redis.url } });
    try {
      expect(Object.values(await queue.getJobCounts()).reduce((s, c) => s + c, 0)).toBe(0);
    } finally {
      await queue.close();
    }
  });

  test('sample ranges of one image (--job-samples) on two workers: counts summed, the local run\'s rows', async () => {
    // at sigma 0.5 the counts are not all n (radii differ from image to image), so a miscounted sample shows
    const atHalf = common.map((arg, i) => (common[i - 1] === '--sigma' ? '0.5' : arg));
    const reference = await arq([...atHalf, '--model', model, '--out', out('samples-local.tsv')]);
    expect(reference.code, reference.stderr).toBe(0);
    expect(new Set(cells(out('samples-local.tsv')).slice(1).map((l) => l.split('\t')[3])).size).toBeGreaterThan(4);
    const workers = [worker(redis), worker(redis, '--threads', '2')];
    // n0 + n = 3010 samples: ranges 0-999 (the 10 selection samples and 990 estimation ones), 1000-1999, 2000-2999, 3000-3009
    const run = spawnArq([...atHalf, '--model', model, '--out', out('samples.tsv'), '--queue', redis.url, '--job-samples', '1000']);
    expect(await run.exited, run.lines.join('\n')).toBe(0);
    expect(cells(out('samples.tsv'))).toEqual(cells(out('samples-local.tsv')));
    expect(readFileSync(out('samples.settings.json'), 'utf8')).toBe(readFileSync(out('samples-local.settings.json'), 'utf8'));
    const jobs = [...starts(...workers).keys()];
    expect(jobs).toHaveLength(8 * 4);
    expect(jobs.filter((id) => id.endsWith('-s3000'))).toHaveLength(8);
  });

  test('a worker killed mid-job (SIGKILL): another finishes its job, no row lost or duplicated', async () => {
    const victim = worker(redis);
    await victim.waitFor(/worker on/);
    const run = produce('killed.tsv');
    const [, job] = await victim.waitFor(/ job (\S+): positions/);
    victim.child.kill('SIGKILL');
    const rescuer = worker(redis);
    expect(await run.exited, run.lines.join('\n')).toBe(0);
    expect(cells(out('killed.tsv'))).toEqual(local);
    expect(starts(rescuer).get(job)).toBe(1);
  });

  test('SIGTERM: a worker finishes its current job, takes no other, and exits 0', async () => {
    const stopping = worker(redis);
    await stopping.waitFor(/worker on/);
    const run = produce('term.tsv');
    const [, job] = await stopping.waitFor(/ job (\S+): positions/);
    stopping.child.kill('SIGTERM');
    expect(await stopping.exited).toBe(0);
    expect(stopping.lines.filter((l) => / job \S+: positions/.test(l))).toHaveLength(1);
    expect(stopping.lines.some((l) => l.endsWith(`job ${job}: done, 2 images`))).toBe(true);
    const rest = worker(redis);
    expect(await run.exited, run.lines.join('\n')).toBe(0);
    expect(cells(out('term.tsv'))).toEqual(local);
    expect(starts(rest).has(job)).toBe(false);
  });

  test('a worker frozen past its lock (SIGSTOP) and then resumed: its job delivered twice, each row written once', async () => {
    const frozen = worker(redis);
    await frozen.waitFor(/worker on/);
    const run = produce('frozen.tsv');
    const [, job] = await frozen.waitFor(/ job (\S+): positions/);
    frozen.child.kill('SIGSTOP');
    const other = worker(redis);
    await other.waitFor(new RegExp(` job ${job}: done`));
    frozen.child.kill('SIGCONT');
    expect(await run.exited, run.lines.join('\n')).toBe(0);
    expect(cells(out('frozen.tsv'))).toEqual(local);
  });

  test('a poisoned job (its model damaged in Redis and gone from the path) fails once, its error shown by the producer', async () => {
    const copy = out('poison.onnx');
    copyFileSync(model, copy);
    const run = spawnArq([...common, '--model', copy, '--out', out('poison.tsv'), '--queue', redis.url, '--job-images', '2']);
    await run.waitFor(/queued 4 job/);
    const client = new Redis(redis.url);
    const keys = await client.keys(modelKey('*'));
    expect(keys).toHaveLength(1);
    await client.set(keys[0], 'not a model');
    client.disconnect();
    rmSync(copy);
    const w = worker(redis);
    expect(await run.exited).toBe(1);
    expect(run.lines.join('\n')).toMatch(/arq: job \S+ \(selection positions \d+ to \d+\) failed on a worker: model sha256 [0-9a-f]{64} not found: its bytes in Redis are damaged; .*poison\.onnx does not exist on this worker/);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    for (const [, count] of starts(w)) expect(count).toBe(1);
  });

  test('Redis killed mid-run and restarted empty: producer and workers reconnect and the run completes', async () => {
    const w = worker(redis);
    await w.waitFor(/worker on/);
    const run = produce('restart.tsv');
    await w.waitFor(/ job \S+: done/);
    await redis.down();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await redis.up();
    expect(await run.exited, run.lines.join('\n')).toBe(0);
    expect(cells(out('restart.tsv'))).toEqual(local);
  });

  test('a producer killed and restarted with --resume: finished jobs are not redone', async () => {
    const w = worker(redis);
    await w.waitFor(/worker on/);
    const first = produce('resume.tsv');
    await w.waitFor(/ job \S+-2: done/);
    first.child.kill('SIGKILL');
    await first.exited;
    const second = produce('resume.tsv', '--resume');
    expect(await second.exited, second.lines.join('\n')).toBe(0);
    expect(cells(out('resume.tsv'))).toEqual(local);
    expect([...starts(w).values()].every((count) => count === 1)).toBe(true);
    expect(starts(w).size).toBe(4);
  });

  test('a job of another arq version is refused without retry, naming both versions', async () => {
    const w = worker(redis);
    await w.waitFor(/worker on/);
    const queue = new Queue(QUEUE_NAME, { connection: { url: redis.url } });
    try {
      const job = await queue.add('certify', { version: '0.0.0-other', kind: 'certify' }, { jobId: 'other-version', attempts: 1 });
      await w.waitFor(/ job other-version: failed/);
      const failed = await queue.getJob(job.id!);
      expect(failed!.failedReason).toMatch(/^job made by arq 0\.0\.0-other, this worker is arq \d+\.\d+\.\d+: run one arq version on the producer and every worker$/);
      expect(failed!.attemptsMade).toBe(1);
    } finally {
      await queue.close();
    }
  });
});
