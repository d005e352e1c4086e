// `arq verify` as a user runs it (bin/arq.js over the compiled dist/): the TSV, the summary JSON, --resume after a
// partial file, and one-line errors.
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { writeNpySync } from '../../src/data/index.js';
import { Random } from '../../src/util/random.js';
import { verifySettings } from '../../src/verify/verify.js';
import { fixturePath } from '../support/fixtures.js';
import { messageOf } from '../support/messages.js';
import { arq, root } from './run.js';

const dir = mkdtempSync(path.join(tmpdir(), 'arq-cli-verify-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** 16 random 8x8 grey images (the tiny MLP's input) with random labels, as npy:X,Y. */
function randomImages(): string {
  const random = Random.fromSeed(8);
  const x = path.join(dir, 'x.npy');
  const y = path.join(dir, 'y.npy');
  writeNpySync(x, Float32Array.from({ length: 16 * 64 }, () => random.uniform()), [16, 1, 8, 8]);
  writeNpySync(y, Int32Array.from({ length: 16 }, () => random.integer(10)), [16]);
  return `npy:${x},${y}`;
}

/** `arq: MESSAGE` and nothing else, as a pattern. */
const exactly = (message: string) => new RegExp(`^arq: ${message.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`);

describe('arq verify', () => {
  const data = randomImages();
  const common = ['verify', '--model', fixturePath('tiny_mlp'), '--data', data, '--bits', 'w4a4', '--calibration', '16', '--eps', '1/255,0.1', '--timeout', '1', '--threads', '2'];
  const out = path.join(dir, 'v.tsv');

  test('writes one row per image and a summary with the documented fields; --resume continues a partial file', async () => {
    const first = await arq([...common, '--max', '3', '--out', out, '--json']);
    expect(first.code, first.stderr).toBe(0);
    const summary = JSON.parse(first.stdout);
    expect(summary).toMatchObject({ images: 3, settings: { eps: ['1/255', '0.1'], timeout: 1, policy: 'w4a4', network: 'integer plan', max: 3 } });
    expect(Object.keys(summary.results)).toEqual(['1/255', '0.1']);
    for (const r of Object.values<{ verified: number; falsified: number; timeouts: number }>(summary.results)) {
      expect(r.verified + r.falsified + r.timeouts).toBeCloseTo(1, 12);
    }
    expect(typeof summary.clean_accuracy).toBe('number');
    expect(typeof summary.seconds).toBe('number');
    expect(JSON.parse(readFileSync(path.join(dir, 'v.summary.json'), 'utf8'))).toEqual(summary);
    const lines = readFileSync(out, 'utf8').split('\n');
    expect(lines[0]).toBe('idx\tlabel\tpredict\t1/255\t0.1\tstage:1/255\tstage:0.1\ttime\tsplits');
    expect(lines.slice(1, 4).map((l) => l.split('\t')[0])).toEqual(['0', '1', '2']);
    for (const line of lines.slice(1, 4)) expect(line.split('\t')[3]).toMatch(/^(verified|falsified|timeout)$/);

    const again = await arq([...common, '--max', '6', '--out', out]);
    expect(again.code).toBe(1);
    expect(again.stderr.trim()).toMatch(/^arq: --out .*v\.tsv: exists.*--resume/);

    // A run killed in the middle of a line leaves a partial last line: resuming drops it and keeps the rest.
    appendFileSync(out, '3\t7\t7\tverif');
    const resumed = await arq([...common, '--max', '6', '--out', out, '--resume', '--json']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(JSON.parse(resumed.stdout).images).toBe(6);
    const after = readFileSync(out, 'utf8').split('\n');
    expect(after.slice(0, 4)).toEqual(lines.slice(0, 4));
    expect(after.slice(1, 7).map((l) => l.split('\t')[0])).toEqual(['0', '1', '2', '3', '4', '5']);
    expect(after[7]).toBe('');

    const changed = await arq([...common.map((a) => (a === '1' ? '2' : a)), '--max', '6', '--out', out, '--resume']);
    expect(changed.code).toBe(1);
    expect(changed.stderr.trim()).toMatch(/^arq: cannot resume .*v\.tsv: it was written with different settings: timeout 1 \(now 2\)$/);
  });

  test('prints a human summary naming the integer plan', async () => {
    const result = await arq([...common, '--max', '2']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('the integer plan of');
    expect(result.stdout).toContain('w4a4');
    expect(result.stdout).toMatch(/1\/255 +\d+\.\d%/);
  });

  test('bad flags end with one line: the library\'s own message, unprefixed as in certify', async () => {
    const cases: [string[], RegExp][] = [
      [[...common.map((a) => (a === '1/255,0.1' ? '1/255,1.5' : a))], exactly(messageOf(() => verifySettings({ eps: '1/255,1.5' })))],
      [[...common.map((a) => (a === '1' ? '0' : a))], exactly(messageOf(() => verifySettings({ eps: '0.1', timeout: 0 })))],
      [[...common, '--restarts', '0'], exactly(messageOf(() => verifySettings({ eps: '0.1', restarts: 0 })))],
      [[...common, '--resume'], /^arq: --resume and --overwrite apply to --out$/],
      [[...common, '--out', path.join(dir, 'x.tsv'), '--resume', '--overwrite'], /^arq: --resume and --overwrite are exclusive$/],
      [[...common, '--queue', 'redis://127.0.0.1:1'], /^arq: --queue needs --out: the producer writes the workers' results there$/],
      [[...common, '--out', path.join(dir, 'x.tsv'), '--queue', 'http://127.0.0.1:1'], /^arq: --queue: expected a redis:\/\/ or rediss:\/\/ URL, got "http:\/\/127\.0\.0\.1:1"$/],
    ];
    for (const [args, message] of cases) {
      const result = await arq(args);
      expect(result.code).toBe(1);
      expect(result.stderr.trim()).toMatch(message);
    }
    writeFileSync(path.join(dir, 'bad.tsv'), 'idx\tlabel\tpredict\t1/255\t0.1\tstage:1/255\tstage:0.1\ttime\tsplits\n0\t1\t1\tmaybe\tverified\tibp\tibp\t0.1\t0\n');
    writeFileSync(path.join(dir, 'bad.settings.json'), '{"compared":{}}');
    const bad = await arq([...common, '--out', path.join(dir, 'bad.tsv'), '--resume']);
    expect(bad.stderr.trim()).toMatch(/^arq: .*bad\.tsv line 2: an outcome must be one of verified, falsified, timeout, got "maybe"$/);
  });
});

describe('arq verify without --model', () => {
  test('verifies the bundled QA-IBP model on the grids it carries, and certifies its first MNIST test images', async () => {
    const { createHash } = await import('node:crypto');
    const model = path.join(root, 'models/mnist-qaibp-w8a8.onnx');
    const result = await arq(['verify', '--data', 'mnist', '--eps', '1/255', '--max', '5', '--timeout', '5', '--threads', '2', '--json']);
    expect(result.code, result.stderr).toBe(0);
    const summary = JSON.parse(result.stdout);
    expect(summary.settings.model).toBe(createHash('sha256').update(readFileSync(model)).digest('hex'));
    expect(summary.settings.policy).toBe('w8a8');
    expect(summary.results['1/255'].verified).toBe(1);
  });
});
