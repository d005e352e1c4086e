// The run settings' one range each (src/engine/settings.ts, data's checkSelection): both edges of every range, and the
// library's entries that take a setting reject it with the very message the settings module gives.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { checkSelection, makeDataset, selectionReach } from '../../src/data/index.js';
import { checkBatch, checkFailureProbability, checkN, checkN0, checkSeed, checkSigma, checkThreads, offsetSeed } from '../../src/engine/settings.js';
import { calibrate } from '../../src/quant/calibrate.js';
import { certifyDataset, smoothPredictDataset } from '../../src/smoothing/run.js';
import { SmoothedClassifier } from '../../src/smoothing/smoothed.js';
import { loadFixture } from '../support/fixtures.js';
import { messageOf } from '../support/messages.js';
import { thresholdSampler } from '../support/plan-sampler.js';

const dir = mkdtempSync(path.join(tmpdir(), 'arq-settings-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('one range per setting, edges included', () => {
  const cases: [string, (value: number) => number, number[], number[], string][] = [
    ['sigma', checkSigma, [0, 10], [-1e-9, 10.000001, NaN, Infinity], 'sigma: expected a number in [0, 10], got 10.000001'],
    ['seed', checkSeed, [0, Number.MAX_SAFE_INTEGER], [-1, 0.5, Number.MAX_SAFE_INTEGER + 1], 'seed: expected an integer in [0, 9007199254740991], got -1'],
    ['batch', checkBatch, [1, 65536], [0, 65537, 1.5], 'batch: expected an integer in [1, 65536], got 0'],
    ['threads', checkThreads, [1, 256], [0, 257], 'threads: expected an integer in [1, 256], got 0'],
    ['n0', checkN0, [1, 2 ** 32 - 1], [0, 2 ** 32], 'n0: expected an integer in [1, 4294967295], got 0'],
    ['n', (v) => checkN(v), [1, 2 ** 32], [0, 2 ** 32 + 1], 'n: expected an integer in [1, 4294967296], got 0'],
    ['alpha', (v) => checkFailureProbability(v), [1e-300, 1 - 1e-16], [0, 1, -0.1], 'alpha: expected a number in (0, 1), got 0'],
  ];
  test.each(cases)('%s', (_name, check, accepted, rejected, firstMessage) => {
    for (const value of accepted) expect(check(value)).toBe(value);
    for (const value of rejected) expect(() => check(value)).toThrow(`${_name}: expected`);
    const shown = [...rejected].find((value) => messageOf(() => check(value)) === firstMessage);
    expect(shown, `one of the rejected values of ${_name} gives the message ${firstMessage}`).toBeDefined();
  });

  test('n leaves room for the n0 samples before it; alphaZeta is a failure probability under its own name', () => {
    expect(checkN(2 ** 32 - 100, 100)).toBe(2 ** 32 - 100);
    expect(messageOf(() => checkN(2 ** 32 - 99, 100))).toBe('n: expected an integer in [1, 4294967196], got 4294967197');
    expect(messageOf(() => checkFailureProbability(1, 'alphaZeta'))).toBe('alphaZeta: expected a number in (0, 1), got 1');
  });

  test('skip and max, and how far a selection reaches', () => {
    expect(checkSelection(1, undefined)).toEqual({ skip: 1, max: undefined });
    expect(checkSelection(Number.MAX_SAFE_INTEGER, 1)).toEqual({ skip: Number.MAX_SAFE_INTEGER, max: 1 });
    expect(messageOf(() => checkSelection(0, undefined))).toBe('skip: expected an integer in [1, 9007199254740991], got 0');
    expect(messageOf(() => checkSelection(1, 0))).toBe('max: expected an integer in [1, 9007199254740991], got 0');
    expect(selectionReach(1, undefined)).toBeUndefined();
    expect(selectionReach(3, 4)).toBe(10); // images 0, 3, 6, 9
    expect(messageOf(() => selectionReach(2, 1.5))).toBe('max: expected an integer in [1, 9007199254740991], got 1.5');
  });

  test('a derived seed stays a seed, wrapping past 2^53 - 1', () => {
    expect(offsetSeed(5, 3)).toBe(8);
    expect(offsetSeed(Number.MAX_SAFE_INTEGER - 2, 2)).toBe(Number.MAX_SAFE_INTEGER);
    expect(offsetSeed(Number.MAX_SAFE_INTEGER - 2, 3)).toBe(0);
    expect(offsetSeed(Number.MAX_SAFE_INTEGER, 1_000_003)).toBe(1_000_002);
  });
});

describe('the library reports a bad setting with the settings module message', () => {
  const model = loadFixture('tiny_mlp');
  const dataset = makeDataset({ name: 'test:four', shape: [1, 1, 1], images: Float32Array.from([0, 1, 0.2, 0.8]), labels: Int32Array.from([0, 1, 0, 1]) });

  test('SmoothedClassifier.create: sigma, seed, batch, threads', async () => {
    const good = { sigma: 0.25, seed: 0, batch: 10, threads: 1 };
    for (const [key, value, check] of [['sigma', 10.5, checkSigma], ['seed', -1, checkSeed], ['batch', 65537, checkBatch], ['threads', 257, checkThreads]] as const) {
      await expect(SmoothedClassifier.create(model, { ...good, [key]: value })).rejects.toThrow(messageOf(() => check(value)));
    }
  });

  test('certifyDataset and smoothPredictDataset: n0, n, alpha, skip, max', async () => {
    const sampler = thresholdSampler(0.5, 0.5, 3);
    const base = { sampler, dataset, out: path.join(dir, 'c.tsv'), identity: { seed: 3, model: 'f'.repeat(64), engine: 'float' }, n0: 10, n: 100, alpha: 0.01 };
    await expect(certifyDataset({ ...base, n0: 0 })).rejects.toThrow(messageOf(() => checkN0(0)));
    await expect(certifyDataset({ ...base, n: 2 ** 32 })).rejects.toThrow(messageOf(() => checkN(2 ** 32, 10)));
    await expect(certifyDataset({ ...base, alpha: 1 })).rejects.toThrow(messageOf(() => checkFailureProbability(1)));
    await expect(certifyDataset({ ...base, max: 0 })).rejects.toThrow(messageOf(() => checkSelection(1, 0)));
    await expect(smoothPredictDataset({ sampler, dataset, n: 0, alpha: 0.01 })).rejects.toThrow(messageOf(() => checkN(0)));
    await expect(smoothPredictDataset({ sampler, dataset, n: 10, alpha: 0 })).rejects.toThrow(messageOf(() => checkFailureProbability(0)));
    await expect(smoothPredictDataset({ sampler, dataset, n: 10, alpha: 0.01, skip: 0 })).rejects.toThrow(messageOf(() => checkSelection(0, undefined)));
  });

  test('calibrate: sigma, seed, threads', async () => {
    const images = makeDataset({ name: 'test:mlp', shape: [1, 8, 8], images: new Float32Array(2 * 64).fill(0.5), labels: Int32Array.from([0, 1]) });
    await expect(calibrate(model.graph, images, { sigma: -0.5, count: 2 })).rejects.toThrow(messageOf(() => checkSigma(-0.5)));
    await expect(calibrate(model.graph, images, { sigma: 0, count: 2, seed: 2 ** 53 })).rejects.toThrow(messageOf(() => checkSeed(2 ** 53)));
    await expect(calibrate(model.graph, images, { sigma: 0, count: 2, threads: 0 })).rejects.toThrow(messageOf(() => checkThreads(0)));
  });
});
