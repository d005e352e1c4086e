// verify --queue and arq worker against a real Redis (test/support/redis.ts), run as users run them (compiled CLI):
// one and two workers write a local run's rows (every column but time) and settings; a worker killed mid-job
// (SIGKILL) loses and duplicates no row; a producer killed and resumed redoes no finished job; a poisoned job fails
// once, its error shown by the producer. Skipped (never passed) without redis-server.
//
// Verdicts under a time limit depend on the machine's speed, so a queue run equals a local run only where no image
// reaches its limit: the timeout here is far above the slowest image (about 3 s), and the local run is checked to
// hold no timeout and verdicts of every stage, so that the comparison covers the attack and the branch and bound.
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { decodeNpy, writeNpySync } from '../../src/data/index.js';
import { modelKey, QUEUE_NAME } from '../../src/distributed/protocol.js';
import { indexOfMax } from '../../src/engine/classifier.js';
import { Random } from '../../src/util/random.js';
import { arq } from '../cli/run.js';
import { killStarted, spawnArq, spawnWorker, starts } from '../support/arq-process.js';
import { fixturePath } from '../support/fixtures.js';
import { hasRedis, RedisServer } from '../support/redis.js';

const dir = mkdtempSync(path.join(tmpdir(), 'arq-verify-queue-'));
const out = (name: string) => path.join(dir, name);
const model = fixturePath('tiny_mlp');
const x = out('x.npy');
const y = out('y.npy');
const data = `npy:${x},${y}`;
const common = ['verify', '--data', data, '--bits', 'w4a4', '--calibration', '16', '--eps', '1/255,0.02,0.03', '--timeout', '600', '--threads', '1', '--quiet'];

/** Every column but time (the second last). */
const cells = (file: string) => readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => l.split('\t').filter((_, i, all) => i !== all.length - 2).join('\t'));

describe.skipIf(!hasRedis)('verify --queue on a real Redis', () => {
  let redis: RedisServer;
  let local: string[];

  beforeAll(async () => {
    redis = await RedisServer.start();
    // 16 random 8x8 images (the tiny MLP's input), labelled with the integer plan's own classes: a random label
    // would make most images falsified by their clean class, leaving the attack and the branch and bound untried
    const random = Random.fromSeed(8);
    writeNpySync(x, Float32Array.from({ length: 16 * 64 }, () => random.uniform()), [16, 1, 8, 8]);
    writeNpySync(y, new Int32Array(16), [16]);
    const logits = out('logits.npy');
    const predicted = await arq(['predict', '--model', model, '--data', data, '--engine', 'int', '--bits', 'w4a4', '--calibration', '16', '--logits', logits, '--quiet']);
    expect(predicted.code, predicted.stderr).toBe(0);
    const classes = decodeNpy(readFileSync(logits)).data as Float32Array;
    writeNpySync(y, Int32Array.from({ length: 16 }, (_, i) => indexOfMax(classes, i * 10, 10)), [16]);

    const run = await arq([...common, '--model', model, '--out', out('local.tsv')]);
    expect(run.code, run.stderr).toBe(0);
    local = cells(out('local.tsv'));
    expect(local).toHaveLength(17);
    const columns = local.slice(1).map((l) => l.split('\t'));
    expect(columns.flatMap((c) => c.slice(3, 6))).not.toContain('timeout');
    expect(new Set(columns.flatMap((c) => c.slice(6, 9)))).toEqual(new Set(['ibp', 'attack', 'nested', 'branch-and-bound']));
  });
  afterEach(async () => {
    killStarted();
    await redis.down();
    await redis.up();
  });
  afterAll(async () => {
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const produce = (name: string, ...extra: string[]) => spawnArq([...common, '--model', model, '--out', out(name), '--queue', redis.url, '--job-images', '2', ...extra]);

  test('one worker, then two (concurrency 2, other thread counts): the local run\'s rows, settings and verdict counts', async () => {
    spawnWorker(redis.url);
    const one = produce('one.tsv');
    expect(await one.exited, one.lines.join('\n')).toBe(0);
    expect(cells(out('one.tsv'))).toEqual(local);
    expect(readFileSync(out('one.settings.json'), 'utf8')).toBe(readFileSync(out('local.settings.json'), 'utf8'));
    const second = spawnWorker(redis.url, '--concurrency', '2', '--threads', '2');
    await second.waitFor(/worker on/);
    const two = produce('two.tsv');
    expect(await two.exited, two.lines.join('\n')).toBe(0);
    expect(cells(out('two.tsv'))).toEqual(local);
    const untimed = (file: string) => {
      const { seconds, seconds_per_image, ...rest } = JSON.parse(readFileSync(file, 'utf8')) as { seconds: number; seconds_per_image: number };
      expect(seconds).toBeGreaterThan(0);
      expect(seconds_per_image).toBeGreaterThan(0);
      return rest;
    };
    expect(untimed(out('two.summary.json'))).toEqual(untimed(out('local.summary.json')));
    const queue = new Queue(QUEUE_NAME, { connection: { url: redis.url } });
    try {
      expect(Object.values(await queue.getJobCounts()).reduce((s, c) => s + c, 0)).toBe(0);
    } finally {
      await queue.close();
    }
  });

  test('a worker killed mid-job (SIGKILL): another finishes its job, no row lost or duplicated', async () => {
    const victim = spawnWorker(redis.url);
    await victim.waitFor(/worker on/);
    const run = produce('killed.tsv');
    // positions 2 and 3: image 2's branch and bound at 0.03 takes seconds
    const [, job] = await victim.waitFor(/ job (\S+-2): positions/);
    victim.child.kill('SIGKILL');
    const rescuer = spawnWorker(redis.url);
    expect(await run.exited, run.lines.join('\n')).toBe(0);
    expect(cells(out('killed.tsv'))).toEqual(local);
    expect(starts(rescuer).get(job)).toBe(1);
  });

  test('a producer killed and restarted with --resume: finished jobs are not redone', async () => {
    const w = spawnWorker(redis.url);
    await w.waitFor(/worker on/);
    const first = produce('resume.tsv');
    await w.waitFor(/ job \S+-0: done/);
    first.child.kill('SIGKILL');
    await first.exited;
    const second = produce('resume.tsv', '--resume');
    expect(await second.exited, second.lines.join('\n')).toBe(0);
    expect(cells(out('resume.tsv'))).toEqual(local);
    expect([...starts(w).values()].every((count) => count === 1)).toBe(true);
    expect(starts(w).size).toBe(8);
  });

  test('a poisoned job (its model damaged in Redis and gone from the path) fails once, its error shown by the producer', async () => {
    const copy = out('poison.onnx');
    copyFileSync(model, copy);
    const run = spawnArq([...common, '--model', copy, '--out', out('poison.tsv'), '--queue', redis.url, '--job-images', '2']);
    await run.waitFor(/queued 8 job/);
    const client = new Redis(redis.url);
    const keys = await client.keys(modelKey('*'));
    expect(keys).toHaveLength(1);
    await client.set(keys[0], 'not a model');
    client.disconnect();
    rmSync(copy);
    const w = spawnWorker(redis.url);
    expect(await run.exited).toBe(1);
    expect(run.lines.join('\n')).toMatch(/arq: job \S+ \(selection positions \d+ to \d+\) failed on a worker: model sha256 [0-9a-f]{64} not found: its bytes in Redis are damaged; .*poison\.onnx does not exist on this worker/);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(starts(w).size).toBeGreaterThan(0);
    for (const [, count] of starts(w)) expect(count).toBe(1);
  });
});
