import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { makeDataset, type Dataset } from '../../src/data/index.js';
import type { LoadedModel } from '../../src/onnx/model.js';
import { calibrate, type Calibration } from '../../src/quant/calibrate.js';
import { uniformPolicy, type Policy } from '../../src/quant/policy.js';
import { Random } from '../../src/util/random.js';
import { verifyDataset, type VerifyDatasetOptions } from '../../src/verify/run.js';
import { loadFixture } from '../support/fixtures.js';

const dir = mkdtempSync(path.join(tmpdir(), 'arq-verify-run-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let model: LoadedModel;
let calibration: Calibration;
let policy: Policy;
let data: Dataset;

beforeAll(async () => {
  model = loadFixture('tiny_mlp');
  const random = Random.fromSeed(2);
  const images = Float32Array.from({ length: 32 * 64 }, () => random.uniform());
  data = makeDataset({ name: 'synthetic', shape: [1, 8, 8], images, labels: Int32Array.from({ length: 32 }, () => random.integer(10)), classes: 10 });
  calibration = await calibrate(model.graph, data, { sigma: 0, count: 32, seed: 0, threads: 2 });
  policy = uniformPolicy(model.graph, model.sha256, 4, 4);
});

const options = (out: string, extra: Partial<VerifyDatasetOptions> = {}): VerifyDatasetOptions => ({
  model, quantization: { policy, calibration }, dataset: data, eps: '1/255,0.05', timeout: 1, threads: 2, max: 6, out,
  identity: { model: model.sha256, policy: 'w4a4' }, ...extra,
});

describe('verifyDataset', () => {
  test('a run stopped after its second group keeps those rows, and resume finishes with the same rows', async () => {
    const out = path.join(dir, 'stopped.tsv');
    const controller = new AbortController();
    const stopped = verifyDataset(options(out, { signal: controller.signal, onImage: (done) => done === 4 && controller.abort(new Error('killed')) }));
    await expect(stopped).rejects.toThrow('killed');
    const kept = readFileSync(out, 'utf8').split('\n').slice(1, -1);
    expect(kept.map((line) => line.split('\t')[0])).toEqual(['0', '1', '2', '3']);
    expect(existsSync(path.join(dir, 'stopped.summary.json'))).toBe(false);

    const resumed = await verifyDataset(options(out, { resume: true }));
    expect(resumed.resumed).toBe(4);
    expect(resumed.images.map((i) => i.idx)).toEqual([4, 5]);
    expect(resumed.rows.map((r) => r.idx)).toEqual([0, 1, 2, 3, 4, 5]);
    const lines = readFileSync(out, 'utf8').split('\n');
    expect(lines.slice(1, 5)).toEqual(kept);
    expect(resumed.summary.images).toBe(6);
    expect(JSON.parse(readFileSync(resumed.summaryPath, 'utf8'))).toEqual(resumed.summary);

    // The same run from scratch gives the same verdicts (deterministic up to timeouts, which a tiny MLP at these radii does not reach).
    const fresh = await verifyDataset(options(path.join(dir, 'fresh.tsv')));
    const verdicts = (rows: typeof fresh.rows) => rows.map((r) => [r.idx, r.predict, ...r.outcomes, ...r.stages]);
    expect(verdicts(resumed.rows)).toEqual(verdicts(fresh.rows));
  });

  test('refuses to replace results unless told, and to resume under other settings', async () => {
    const out = path.join(dir, 'once.tsv');
    await verifyDataset(options(out, { max: 2 }));
    await expect(verifyDataset(options(out, { max: 2 }))).rejects.toThrow(/once\.tsv exists: resume it or overwrite it/);
    await expect(verifyDataset(options(out, { max: 2, resume: true, seed: 9 }))).rejects.toThrow(/different settings: seed 0 \(now 9\)/);
    await expect(verifyDataset(options(out, { max: 2, resume: true, eps: '1/255' }))).rejects.toThrow(/cannot resume: line 1 is/);
    expect((await verifyDataset(options(out, { max: 2, overwrite: true }))).resumed).toBe(0);
  });
});
