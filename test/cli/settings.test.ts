// The CLI passes the run settings through to the library: a bad --sigma, --seed, --batch, --threads, --n0, --n,
// --alpha, --skip or --max fails with the library's own message (src/engine/settings.ts, data's
// checkSelection), the same text an API user sees, on one line.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { checkSelection } from '../../src/data/index.js';
import { checkBatch, checkFailureProbability, checkN, checkN0, checkSeed, checkSigma, checkThreads } from '../../src/engine/settings.js';
import { idxImages, idxLabels } from '../data/helpers.js';
import { fixturePath } from '../support/fixtures.js';
import { messageOf } from '../support/messages.js';
import { arq } from './run.js';

const dir = mkdtempSync(path.join(tmpdir(), 'arq-cli-settings-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const images = path.join(dir, 'images');
const labels = path.join(dir, 'labels');
writeFileSync(images, idxImages(4, 28, 28));
writeFileSync(labels, idxLabels([0, 1, 2, 3]));
const common = ['--model', fixturePath('mnist_cnn'), '--data', `idx:${images},${labels}`];

test('each setting out of range: the library message, as the API gives it', async () => {
  const certify = ['certify', ...common, '--out', path.join(dir, 'c.tsv'), '--n', '100'];
  const smooth = ['smooth-predict', ...common, '--n', '100'];
  const cases: [string[], string][] = [
    [[...smooth, '--sigma', '10.5'], messageOf(() => checkSigma(10.5))],
    [[...smooth, '--seed=-1'], messageOf(() => checkSeed(-1))],
    [[...smooth, '--batch', '65537'], messageOf(() => checkBatch(65537))],
    [[...smooth, '--threads', '0'], messageOf(() => checkThreads(0))],
    [[...smooth, '--max', '0'], messageOf(() => checkSelection(1, 0))],
    [['smooth-predict', ...common, '--n', '0'], messageOf(() => checkN(0))],
    [[...certify, '--n0', '0'], messageOf(() => checkN0(0))],
    [[...certify, '--n0', '10', '--alpha', '1'], messageOf(() => checkFailureProbability(1))],
    [[...certify, '--n0', '10', '--skip', '0'], messageOf(() => checkSelection(0, undefined))],
    [['predict', ...common, '--batch', '0'], messageOf(() => checkBatch(0))],
    [['quantize', ...common, '--bits', 'w8a8', '--out', path.join(dir, 'q.onnx'), '--sigma=-0.5'], messageOf(() => checkSigma(-0.5))],
  ];
  for (const [args, message] of cases) {
    const result = await arq(args);
    expect(result.code, args.join(' ')).not.toBe(0);
    expect(result.stderr, args.join(' ')).toBe(`arq: ${message}\n`);
  }
});
