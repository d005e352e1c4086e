// A search's final numbers (final.ts; search.md: "Final numbers come from a full CERTIFY (not IRS) of each winner on
// the test subset") against Cohen CERTIFY run image by image here on the tiny MLP: the float model's fp32 plan and a
// policy's integer plan, every skip-th test image up to max, the noise of each image's dataset index; certified radii
// only where the prediction is the label; the identity recorded for resuming; a resumed entry certifies nothing again.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { makeDataset, type Dataset } from '../../src/data/index.js';
import { FloatPlan } from '../../src/engine/float-plan.js';
import { calibrate, type Calibration } from '../../src/quant/calibrate.js';
import { uniformPolicy } from '../../src/quant/policy.js';
import { CandidateBuilder } from '../../src/search/candidate.js';
import { certifyFinal, type FinalSettings } from '../../src/search/final.js';
import { ABSTAIN, certify } from '../../src/smoothing/certify.js';
import { settingsPath } from '../../src/smoothing/results.js';
import { nativeSampler } from '../../src/smoothing/sampler.js';
import { loadFixture } from '../support/fixtures.js';

const model = loadFixture('tiny_mlp'); // input [1, 8, 8], 10 classes
const SIZE = 64;
const CERT = { n0: 20, n: 300, alpha: 0.01 };
const dir = mkdtempSync(path.join(tmpdir(), 'arq-final-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let calibration: Calibration;
let test_: Dataset;
let settings: FinalSettings;
const policy = uniformPolicy(model.graph, model.sha256, 4, 4);
/** The selection: every second of eight test images, at most four. */
const SELECTED = [0, 2, 4, 6];

beforeAll(async () => {
  const images = Float32Array.from({ length: 8 * SIZE }, (_, i) => ((i * 23 + Math.floor(i / SIZE) * 7) % 29) / 29);
  const train = makeDataset({ name: 'train', shape: [1, 8, 8], images, labels: new Int32Array(8) });
  calibration = await calibrate(model.graph, train, { sigma: 0.1, count: 8, seed: 1, threads: 1 });
  // Labels: the float model's clean class on images 0 and 4, another class on 2 and 6, so both kinds of row occur.
  const clean = await FloatPlan.build(model.graph).run(images, 8, 1);
  const labels = Int32Array.from({ length: 8 }, (_, k) => {
    const row = Array.from(clean.subarray(k * 10, k * 10 + 10));
    const top = row.indexOf(Math.max(...row));
    return k % 4 === 0 ? top : (top + 1) % 10;
  });
  test_ = makeDataset({ name: 'test', shape: [1, 8, 8], images, labels });
  settings = {
    dir, model, candidates: new CandidateBuilder(model.graph, calibration, { steps: 0, train, sigma: 0.1, seed: 3, threads: 1 }),
    calibration: calibration.settings, test: test_, skip: 2, max: 4, sigma: 0.1, seed: 9, ...CERT, batch: 100, threads: 1, resume: false,
  };
});

/** CERTIFY of each selected image with `plan`'s sampler: the radius where the prediction is the label, else null. */
async function expectedRadii(plan: FloatPlan | Awaited<ReturnType<CandidateBuilder['build']>>['plan']): Promise<(number | null)[]> {
  const sampler = nativeSampler(plan, SIZE, { sigma: 0.1, seed: 9, batch: 100, threads: 1 });
  const radii: (number | null)[] = [];
  for (const k of SELECTED) {
    const r = await certify(sampler, test_.images.subarray(k * SIZE, (k + 1) * SIZE), k, CERT);
    radii.push(r.prediction !== ABSTAIN && r.prediction === test_.labels[k] ? r.radius : null);
  }
  return radii;
}

describe('certifyFinal', () => {
  test('the float model and a policy: CERTIFY of every selected image, radii only where correct', async () => {
    const float = await certifyFinal('float', 'float', null, 100, settings);
    const expectedFloat = await expectedRadii(FloatPlan.build(model.graph));
    expect(float.certified_radii).toEqual(expectedFloat);
    expect(float.certified_radii.filter((r) => r === null).length).toBeGreaterThan(0);
    expect(float.certified_radii.filter((r) => r !== null).length).toBeGreaterThan(0);
    expect({ label: float.label, policy: float.policy, bitops: float.bitops_percent, results: float.results }).toEqual({ label: 'float', policy: null, bitops: 100, results: path.join('final', 'float.tsv') });

    const quantized = await certifyFinal('w4a4', 'uniform W4A4', policy, 6.25, settings);
    expect(quantized.certified_radii).toEqual(await expectedRadii((await settings.candidates.build(policy)).plan));
    expect(quantized.policy).toEqual(policy.layers);
    const recorded = JSON.parse(readFileSync(settingsPath(path.join(dir, 'final', 'w4a4.tsv')), 'utf8')) as { compared: { [key: string]: unknown } };
    expect(recorded.compared).toMatchObject({ engine: 'int', seed: 9, model: model.sha256, policy: JSON.stringify(policy.layers), calibration: calibration.settings, skip: 2 });
    const floatRecorded = JSON.parse(readFileSync(settingsPath(path.join(dir, 'final', 'float.tsv')), 'utf8')) as { compared: { [key: string]: unknown } };
    expect(floatRecorded.compared).toMatchObject({ engine: 'float', policy: null, calibration: null });

    // Resumed: the finished file is read, not certified again (the same rows and times).
    let certified = 0;
    const resumed = await certifyFinal('w4a4', 'uniform W4A4', policy, 6.25, { ...settings, resume: true, onImage: () => certified++ });
    expect(certified).toBe(0);
    expect(readFileSync(path.join(dir, 'final', 'w4a4.tsv'), 'utf8').trim().split('\n')).toHaveLength(1 + SELECTED.length);
    expect(resumed.certified_radii).toEqual(quantized.certified_radii);
    expect(resumed.acr).toBe(quantized.acr);
  });
});
