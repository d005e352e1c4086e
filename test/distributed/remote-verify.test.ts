// verifyDataset's remote path (verify/run.ts), which the queue plugs into: images arriving out of order and more than
// once, through the queue's wire form (JSON), are written once each, in selection order, as a local run writes them,
// counterexamples included; a resumed run asks only for the images it lacks; a verifier that ends early or reports
// another label is an error.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { makeDataset, selectedIndices, type Dataset } from '../../src/data/index.js';
import { imageVerificationOf, verifiedImageOf, type VerifiedImage } from '../../src/distributed/protocol.js';
import type { LoadedModel } from '../../src/onnx/model.js';
import { calibrate, type Calibration } from '../../src/quant/calibrate.js';
import { uniformPolicy, type Policy } from '../../src/quant/policy.js';
import { Random } from '../../src/util/random.js';
import { verifyDataset, type RemoteVerifier, type RemoteVerifyWork, type VerifyDatasetOptions } from '../../src/verify/run.js';
import { verify, type ImageVerification } from '../../src/verify/verify.js';
import { loadFixture } from '../support/fixtures.js';

const dir = mkdtempSync(path.join(tmpdir(), 'arq-remote-verify-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let model: LoadedModel;
let quantization: { policy: Policy; calibration: Calibration };
let data: Dataset;

beforeAll(async () => {
  model = loadFixture('tiny_mlp');
  const random = Random.fromSeed(2);
  const images = Float32Array.from({ length: 10 * 64 }, () => random.uniform());
  const unlabelled = makeDataset({ name: 'synthetic', shape: [1, 8, 8], images, labels: new Int32Array(10), classes: 10 });
  const calibration = await calibrate(model.graph, unlabelled, { sigma: 0, count: 10, seed: 0, threads: 2 });
  quantization = { policy: uniformPolicy(model.graph, model.sha256, 4, 4), calibration };
  // labels: the plan's own classes, so that images reach the attack and the branch and bound
  const clean = await verify({ model, quantization, dataset: unlabelled, eps: '0', threads: 2 });
  data = makeDataset({ name: 'synthetic', shape: [1, 8, 8], images, labels: Int32Array.from(clean.images, (i) => i.prediction), classes: 10 });
});

// no image comes near the timeout (the slowest takes a fifth of a second), so the verdicts do not depend on speed
const options = (out: string, extra: Partial<VerifyDatasetOptions> = {}): VerifyDatasetOptions => ({
  model, quantization, dataset: data, eps: '1/255,0.01,0.015,0.05', timeout: 600, threads: 2, out, identity: { model: model.sha256, policy: 'w4a4' }, ...extra,
});

/** Every column but time (the second last). */
const cells = (file: string) => readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => l.split('\t').filter((_, i, all) => i !== all.length - 2).join('\t'));

/** A verifier that verifies the pending images in jobs of 3, sends them through JSON, and yields them in reverse order, twice. */
function reversedTwice(asked: RemoteVerifyWork[], alter?: (image: VerifiedImage) => VerifiedImage): RemoteVerifier {
  return async function* (work) {
    asked.push(work);
    const { settings } = work;
    const indices = selectedIndices(data.count, settings.skip, settings.max ?? undefined);
    const jobs: ImageVerification[][] = [];
    for (let i = 0; i < work.pending.length; i += 3) {
      const mine = new Set(work.pending.slice(i, i + 3).map((k) => indices[k]));
      const run = await verify({ ...settings, model, quantization, dataset: data, max: settings.max ?? undefined, threads: 1, exclude: new Set(indices.filter((idx) => !mine.has(idx))) });
      const wire = JSON.parse(JSON.stringify(run.images.map(verifiedImageOf))) as VerifiedImage[];
      jobs.push(wire.map((image) => imageVerificationOf(alter ? alter(image) : image)));
    }
    for (const job of [...jobs].reverse()) yield job;
    for (const job of jobs) yield job;
  };
}

test('images out of order and delivered twice are written once each, as a local run writes them, counterexamples included', async () => {
  const local = await verifyDataset(options(path.join(dir, 'local.tsv')));
  const stages = new Set(local.rows.flatMap((r) => r.stages));
  expect(stages).toContain('attack');
  expect(stages).toContain('branch-and-bound');
  expect(local.rows.flatMap((r) => r.outcomes)).not.toContain('timeout');
  const asked: RemoteVerifyWork[] = [];
  const progress: number[] = [];
  const remote = await verifyDataset(options(path.join(dir, 'remote.tsv'), { remote: reversedTwice(asked), onImage: (done, total, image) => progress.push(done, total, image.idx) }));
  expect(cells(path.join(dir, 'remote.tsv'))).toEqual(cells(path.join(dir, 'local.tsv')));
  expect(readFileSync(path.join(dir, 'remote.settings.json'), 'utf8')).toBe(readFileSync(path.join(dir, 'local.settings.json'), 'utf8'));
  expect(progress).toEqual(local.rows.flatMap((r, i) => [i + 1, 10, r.idx]));
  const counterexamples = (images: readonly ImageVerification[]) => images.map((i) => i.results.map((r) => r.counterexample ?? null));
  expect(counterexamples(remote.images)).toEqual(counterexamples(local.images));
  expect(counterexamples(local.images).flat().some((c) => c !== null && c.image instanceof Float32Array)).toBe(true);
  expect(asked[0]).toMatchObject({ pending: [...Array(10).keys()], images: 10, settings: { eps: ['1/255', '0.01', '0.015', '0.05'], timeout: 600, max: null } });
});

test('a resumed run asks for the images it lacks; a verifier that ends early or disagrees on a label is an error', async () => {
  const out = path.join(dir, 'part.tsv');
  const asked: RemoteVerifyWork[] = [];
  await verifyDataset(options(out, { max: 4, remote: reversedTwice(asked) }));
  const resumed = await verifyDataset(options(out, { resume: true, remote: reversedTwice(asked) }));
  expect(resumed.resumed).toBe(4);
  expect(resumed.images.map((i) => i.idx)).toEqual([4, 5, 6, 7, 8, 9]);
  expect(asked.map((w) => w.pending)).toEqual([[0, 1, 2, 3], [4, 5, 6, 7, 8, 9]]);
  expect(cells(out)).toEqual(cells(path.join(dir, 'local.tsv')));
  const early: RemoteVerifier = async function* () {
    yield [];
  };
  await expect(verifyDataset(options(path.join(dir, 'early.tsv'), { remote: early }))).rejects.toThrow('the queue ended with 10 image(s) unverified (first: 0); rerun with --resume');
  await expect(verifyDataset(options(path.join(dir, 'label.tsv'), { remote: reversedTwice([], (image) => ({ ...image, label: 11 })) })))
    .rejects.toThrow(/a worker verified image \d+ with label 11, but it has label \d+ in synthetic here: producer and workers must read the same data/);
});
