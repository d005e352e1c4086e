// certifyDataset's remote path (smoothing/run.ts), which the queue plugs into: rows arriving out of order and more
// than once (a job delivered twice) are written once each, in selection order, equal to a local run's; a certifier
// that ends early or reports another label is an error, and a resumed run asks only for the images it lacks. With an
// IRS cache the rows carry its records (certifyRange, as workers certify), and the cache is a local run's.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { makeDataset, selectEvery } from '../../src/data/index.js';
import { certify } from '../../src/smoothing/certify.js';
import { certificateRow, certifyDataset, certifyRange, type RemoteCertifier, type RemoteWork } from '../../src/smoothing/run.js';
import { readIrsCache } from '../../src/smoothing/irs-cache.js';
import { thresholdSampler } from '../support/plan-sampler.js';

const dir = mkdtempSync(path.join(tmpdir(), 'arq-remote-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const xs = [-0.5, 1.5, 0.45, 0.55, 0.3, 0.7, 0, 0.5, 0.9, 0.1];
const dataset = makeDataset({ name: 'test:remote', shape: [1, 1, 1], images: Float32Array.from(xs), labels: Int32Array.from(xs.map((x) => (x < 0.5 ? 0 : 1))) });
const identity = { seed: 3, model: 'c'.repeat(64), engine: 'float', policy: null };
const settings = { n0: 20, n: 2000, alpha: 0.001, skip: 1 };
const lines = (file: string) => readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => l.split('\t').slice(0, 5).join('\t'));

/** A certifier that certifies each pending image with its own sampler, in jobs of 3, yielded in reverse order, twice. */
function reversedTwice(asked: RemoteWork[], alter?: (row: ReturnType<typeof certificateRow>) => void): RemoteCertifier {
  return async function* (work) {
    asked.push(work);
    const sampler = thresholdSampler(0.5, 0.5, 3);
    const { indices } = selectEvery(dataset, work.skip, work.max);
    const jobs: (ReturnType<typeof certificateRow> & { pALower: number })[][] = [];
    for (let i = 0; i < work.pending.length; i += 3) {
      jobs.push(await Promise.all(work.pending.slice(i, i + 3).map(async (k) => {
        const idx = indices[k];
        const r = await certify(sampler, dataset.images.subarray(idx, idx + 1), idx, work);
        const row = certificateRow(idx, dataset.labels[idx], r);
        alter?.(row);
        return { ...row, pALower: r.pALower };
      })));
    }
    for (const job of [...jobs].reverse()) yield job;
    for (const job of jobs) yield job;
  };
}

test('rows out of order and delivered twice are written once each, as a local run writes them', async () => {
  const local = await certifyDataset({ sampler: thresholdSampler(0.5, 0.5, 3), dataset, out: path.join(dir, 'local.tsv'), identity, ...settings });
  const asked: RemoteWork[] = [];
  const images: number[] = [];
  const remote = await certifyDataset({
    sampler: thresholdSampler(0.5, 0.5, 3), dataset, out: path.join(dir, 'remote.tsv'), identity, ...settings, remote: reversedTwice(asked),
    onImage: (done, total, image) => images.push(done, total, image.idx),
  });
  expect(lines(path.join(dir, 'remote.tsv'))).toEqual(lines(path.join(dir, 'local.tsv')));
  expect(remote.rows.map((r) => r.predict)).toEqual(local.rows.map((r) => r.predict));
  expect(images).toEqual(xs.flatMap((_, i) => [i + 1, xs.length, i]));
  expect(asked[0]).toMatchObject({ pending: xs.map((_, i) => i), images: xs.length, n0: 20, n: 2000, alpha: 0.001, compared: { mode: 'certify', seed: 3 } });
  expect(readFileSync(path.join(dir, 'remote.settings.json'), 'utf8')).toBe(readFileSync(path.join(dir, 'local.settings.json'), 'utf8'));
});

test('a resumed run asks for the images it lacks; a certifier that ends early or disagrees on a label is an error', async () => {
  const out = path.join(dir, 'part.tsv');
  const asked: RemoteWork[] = [];
  await certifyDataset({ sampler: thresholdSampler(0.5, 0.5, 3), dataset, out, identity, ...settings, max: 4, remote: reversedTwice(asked) });
  // the run resumed over all 10 images (max is not compared): the first 4 stay, the certifier is asked for the rest
  const resumed = await certifyDataset({ sampler: thresholdSampler(0.5, 0.5, 3), dataset, out, identity, ...settings, resume: true, remote: reversedTwice(asked) });
  expect(resumed.resumed).toBe(4);
  expect(asked.map((w) => w.pending)).toEqual([[0, 1, 2, 3], [4, 5, 6, 7, 8, 9]]);
  expect(lines(out)).toEqual(lines(path.join(dir, 'local.tsv')));
  const early: RemoteCertifier = async function* () {
    yield [];
  };
  await expect(certifyDataset({ sampler: thresholdSampler(0.5, 0.5, 3), dataset, out: path.join(dir, 'early.tsv'), identity, ...settings, remote: early }))
    .rejects.toThrow('the queue ended with 10 image(s) uncertified (first: 0); rerun with --resume');
  await expect(certifyDataset({ sampler: thresholdSampler(0.5, 0.5, 3), dataset, out: path.join(dir, 'label.tsv'), identity, ...settings, remote: reversedTwice([], (row) => (row.label = 7)) }))
    .rejects.toThrow(/a worker certified image \d+ with label 7, but it has label \d in test:remote here: producer and workers must read the same data/);
});

test('with an IRS cache, the rows carry its records: the cache and rows a local run writes (apart from seconds); a row without them is an error', async () => {
  /** Jobs of 3 positions certified by certifyRange (recording when `record`), yielded in reverse order. */
  const ranges = (record: (work: RemoteWork) => boolean): RemoteCertifier => async function* (work) {
    const { indices } = selectEvery(dataset, work.skip, work.max);
    const jobs = [];
    for (let i = 0; i < work.pending.length; i += 3) {
      const end = work.pending[Math.min(i + 3, work.pending.length) - 1] + 1;
      jobs.push(await certifyRange(thresholdSampler(0.5, 0.5, 3), dataset, indices, work.pending[i], end, { ...work, record: record(work) }));
    }
    yield* jobs.reverse();
  };
  const run = (name: string, remote?: RemoteCertifier) => certifyDataset({
    sampler: thresholdSampler(0.5, 0.5, 3), dataset, out: path.join(dir, `${name}.tsv`), cache: path.join(dir, `${name}.irs`), identity, ...settings, remote,
  });
  await run('cache-local');
  await run('cache-remote', ranges((work) => work.record));
  const entries = (name: string) => [...readIrsCache(path.join(dir, `${name}.irs`)).entries.values()].map(({ seconds: _seconds, ...entry }) => entry);
  expect(entries('cache-remote')).toHaveLength(xs.length);
  expect(entries('cache-remote')).toEqual(entries('cache-local'));
  expect(lines(path.join(dir, 'cache-remote.tsv'))).toEqual(lines(path.join(dir, 'cache-local.tsv')));
  await expect(run('cache-unrecorded', ranges(() => false))).rejects.toThrow(/a worker certified image \d+ without the 2000 predictions the IRS cache records/);
});
