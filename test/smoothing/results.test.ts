import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { makeDataset } from '../../src/data/index.js';
import { readIrsCache } from '../../src/smoothing/irs-cache.js';
import {
  formatSummary, RESULT_HEADER, ResultsWriter, readResults, settingsPath, summarize, summaryPath, type CertifySummary, type ResultRow,
} from '../../src/smoothing/results.js';
import { certifyDataset, smoothPredictDataset, type CertifyDatasetOptions } from '../../src/smoothing/run.js';
import { thresholdSampler } from '../support/plan-sampler.js';

const dir = mkdtempSync(path.join(tmpdir(), 'arq-results-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const fresh = (name: string): string => path.join(dir, `${files++}-${name}`);

const handMade: ResultRow[] = [
  { idx: 0, label: 0, predict: 0, radius: 0.3, correct: true, time: 1.5 },
  { idx: 20, label: 1, predict: 1, radius: 1, correct: true, time: 2 },
  { idx: 40, label: 0, predict: 1, radius: 0.8, correct: false, time: 0.25 },
  { idx: 60, label: 1, predict: -1, radius: 0, correct: false, time: 0.75 },
  { idx: 80, label: 0, predict: 0, radius: 2.5, correct: true, time: 0.5 },
];

describe('results TSV', () => {
  test('round trip with the header, exact radii', () => {
    const file = fresh('round.tsv');
    const w = ResultsWriter.open(file);
    const rows = [...handMade, { idx: 81, label: 2, predict: 2, radius: 0.1 + 0.2, correct: true, time: 0.1234 }];
    for (const r of rows) w.append(r);
    w.close();
    const text = readFileSync(file, 'utf8');
    expect(text.split('\n')[0]).toBe('idx\tlabel\tpredict\tradius\tcorrect\ttime');
    expect(text.split('\n')[4]).toBe('60\t1\t-1\t0\t0\t0.7500');
    const back = readResults(file);
    expect(back.partial).toBe(false);
    expect(back.rows).toEqual(rows);
    expect(back.rows[5].radius).toBe(0.30000000000000004);
  });

  test('a final partial line is dropped, and resuming cuts it and appends after the complete lines', () => {
    const file = fresh('partial.tsv');
    const w = ResultsWriter.open(file);
    for (const r of handMade.slice(0, 3)) w.append(r);
    w.close();
    appendFileSync(file, '60\t1\t-1\t0\t0\t0.7');
    const read = readResults(file);
    expect(read.partial).toBe(true);
    expect(read.rows).toEqual(handMade.slice(0, 3));
    const resumed = ResultsWriter.open(file, { resume: true });
    expect(resumed.existing).toEqual(handMade.slice(0, 3));
    for (const r of handMade.slice(3)) resumed.append(r);
    resumed.close();
    expect(readResults(file)).toEqual({ rows: handMade, partial: false, validBytes: readFileSync(file).length });
    // A file interrupted inside its header reads as empty.
    writeFileSync(file, 'idx\tlab');
    expect(readResults(file).rows).toEqual([]);
  });

  test('bad files name the line and the problem', () => {
    const file = fresh('bad.tsv');
    const put = (...lines: string[]): void => writeFileSync(file, `${lines.join('\n')}\n`);
    put('index\tlabel', '1\t2');
    expect(() => readResults(file)).toThrow(/not an arq results file: line 1/);
    put(RESULT_HEADER, '1\t0\t0\t0.5\t1\t1', '2\t0\t0\tabc\t1\t1');
    expect(() => readResults(file)).toThrow(/line 3: radius is not a number: "abc"/);
    put(RESULT_HEADER, '1\t0\t1\t0.5\t1\t1');
    expect(() => readResults(file)).toThrow(/line 2: correct 1 contradicts predict 1 and label 0/);
    put(RESULT_HEADER, '1\t0\t-1\t0.5\t0\t1');
    expect(() => readResults(file)).toThrow(/abstention \(predict -1\) must have radius 0/);
    put(RESULT_HEADER, '1\t0\t0\t0.5\t1\t1', '1\t0\t0\t0.5\t1\t1');
    expect(() => readResults(file)).toThrow(/line 3: image 1 appears twice/);
    put(RESULT_HEADER, '1\t0\t0\t0.5\t1');
    expect(() => readResults(file)).toThrow(/line 2: expected 6 tab-separated fields, got 5/);
  });
});

describe('summary', () => {
  test('ACR, certified accuracy at radii, abstentions and clean accuracy on a hand-made example', () => {
    const s = summarize(handMade, { samples: 5000, settings: { sigma: 0.5 }, radii: [0.3, 3] });
    expect(s.images).toBe(5);
    expect(s.acr).toBeCloseTo((0.3 + 1 + 2.5) / 5, 15);
    expect(s.abstain_rate).toBe(0.2);
    expect(s.clean_accuracy).toBe(0.6);
    expect(s.certified_accuracy).toEqual({
      '0': 0.6, '0.25': 0.6, '0.3': 0.6, '0.5': 0.4, '0.75': 0.4, '1': 0.4, '1.25': 0.2, '1.5': 0.2, '1.75': 0.2, '2': 0.2, '3': 0,
    });
    const text = formatSummary(s);
    expect(JSON.parse(text)).toEqual(s);
    expect([...text.matchAll(/^ {4}"([0-9.]+)": /gm)].map((m) => m[1])).toEqual(['0', '0.25', '0.3', '0.5', '0.75', '1', '1.25', '1.5', '1.75', '2', '3']);
    expect(s.seconds).toBe(5);
    expect(s.samples_per_second).toBe(1000);
    expect(s.settings).toEqual({ sigma: 0.5 });
    expect(summarize([], { samples: 0, settings: {} })).toMatchObject({ images: 0, acr: 0, abstain_rate: 0, clean_accuracy: 0, samples_per_second: 0 });
  });

  test('file names beside the TSV', () => {
    expect(summaryPath('out/run.tsv')).toBe('out/run.summary.json');
    expect(settingsPath('out/run.tsv')).toBe('out/run.settings.json');
    expect(summaryPath('out/run')).toBe('out/run.summary.json');
  });
});

describe('certifyDataset', () => {
  // Ten one-value images for the threshold classifier at t = 0.5: class 0 iff x < 0.5. Labels follow the rule
  // except image 6, labelled wrong; images 4 and 5 sit near the threshold (abstentions).
  const xs = [-1, 1.5, 0, 1, 0.49, 0.52, -0.5, 2, 0.1, 0.9];
  const labels = xs.map((x, i) => (i === 6 ? 1 : x < 0.5 ? 0 : 1));
  const dataset = makeDataset({ name: 'test:threshold', shape: [1, 1, 1], images: Float32Array.from(xs), labels: Int32Array.from(labels) });
  const identity = { seed: 12, model: 'f'.repeat(64), engine: 'float', policy: null };
  const base = (out: string, extra: Partial<CertifyDatasetOptions> = {}): CertifyDatasetOptions => ({
    sampler: thresholdSampler(0.5, 0.5, 12), dataset, out, identity, n0: 50, n: 4000, alpha: 0.001, ...extra,
  });

  test('writes one line per selected image, the settings and the summary; resume continues where it stopped', async () => {
    const out = fresh('run.tsv');
    const seen: [number, number, number][] = [];
    const first = await certifyDataset({ ...base(out), skip: 2, max: 3, onImage: (d, t, r) => seen.push([d, t, r.idx]) });
    expect(seen).toEqual([[1, 3, 0], [2, 3, 2], [3, 3, 4]]);
    expect(first.resumed).toBe(0);
    expect(readResults(out).rows.map((r) => r.idx)).toEqual([0, 2, 4]);
    const summary = JSON.parse(readFileSync(summaryPath(out), 'utf8')) as CertifySummary;
    expect(summary).toEqual(first.summary);
    expect(summary.images).toBe(3);
    expect(summary.settings).toMatchObject({ mode: 'certify', sigma: 0.5, n0: 50, n: 4000, alpha: 0.001, skip: 2, max: 3, data: 'test:threshold', seed: 12, engine: 'float', policy: null });
    expect(summary.samples_per_second).toBeCloseTo((3 * 4050) / summary.seconds, 6);
    expect(existsSync(settingsPath(out))).toBe(true);

    // An interrupted write left a partial line; resuming with a larger max certifies only the new images.
    appendFileSync(out, '6\t0\t');
    const again: number[] = [];
    const second = await certifyDataset({ ...base(out), skip: 2, max: 5, resume: true, onImage: (d, _t, r) => again.push(d, r.idx) });
    expect(again).toEqual([4, 6, 5, 8]);
    expect(second.resumed).toBe(3);
    const rows = readResults(out).rows;
    expect(rows.slice(0, 3)).toEqual(first.rows);
    expect(rows.map((r) => r.idx)).toEqual([0, 2, 4, 6, 8]);
    expect(second.summary.images).toBe(5);

    // The same images certified in one go give the same certificates (the noise depends on the image index only).
    const whole = await certifyDataset({ ...base(fresh('whole.tsv')), skip: 2, max: 5 });
    expect(whole.rows.map(({ time: _t, ...r }) => r)).toEqual(rows.map(({ time: _t, ...r }) => r));
    expect(whole.summary.acr).toBeCloseTo(second.summary.acr, 15);

    await expect(certifyDataset({ ...base(out), n: 3000, skip: 2, resume: true })).rejects.toThrow(/cannot resume .* different settings: n 4000 \(now 3000\)/);
    await expect(certifyDataset({ ...base(out), skip: 2 })).rejects.toThrow(/exists: resume it or overwrite it/);
    const replaced = await certifyDataset({ ...base(out), max: 2, overwrite: true });
    expect(replaced.rows.map((r) => r.idx)).toEqual([0, 1]);
  });

  test('the certificates: abstentions near the threshold, wrong labels count as wrong', async () => {
    const { rows, summary } = await certifyDataset(base(fresh('all.tsv')));
    expect(rows.map((r) => r.predict)).toEqual([0, 1, 0, 1, -1, -1, 0, 1, 0, 1]);
    expect(rows[6].correct).toBe(false);
    for (const r of rows) {
      if (r.predict >= 0) expect(r.radius).toBeLessThanOrEqual(Math.abs(0.5 - xs[r.idx]) + 1e-6);
    }
    expect(summary.abstain_rate).toBe(0.2);
    expect(summary.clean_accuracy).toBe(0.7);
  });

  test('an aborted run keeps its finished lines and resumes', async () => {
    const out = fresh('abort.tsv');
    const controller = new AbortController();
    await expect(certifyDataset({
      ...base(out), chunk: 1000, signal: controller.signal, onImage: (d) => { if (d === 2) controller.abort(new Error('interrupted')); },
    })).rejects.toThrow('interrupted');
    expect(readResults(out).rows.map((r) => r.idx)).toEqual([0, 1]);
    expect(existsSync(summaryPath(out))).toBe(false);
    const done = await certifyDataset({ ...base(out), resume: true });
    expect(done.resumed).toBe(2);
    expect(done.rows.length).toBe(10);
  });

  test('bad inputs are rejected before any work', async () => {
    await expect(certifyDataset({ ...base(fresh('x.tsv')), sampler: { ...thresholdSampler(0.5, 0.5), inputSize: 3 } })).rejects.toThrow(/images of 1 values do not fit the model's input of 3 values/);
    await expect(certifyDataset({ ...base(fresh('x.tsv')), skip: 0 })).rejects.toThrow(/skip: expected an integer/);
  });
});

describe('incremental certification over a dataset', () => {
  const xs = [-0.5, 1.5, 0, 1, 0.45, 0.3, 0.7, 2];
  const labels = xs.map((x) => (x < 0.5 ? 0 : 1));
  const dataset = makeDataset({ name: 'test:threshold', shape: [1, 1, 1], images: Float32Array.from(xs), labels: Int32Array.from(labels) });
  const identity = { seed: 5, model: 'a'.repeat(64), engine: 'float', policy: null };

  test('certify f with a cache, then f\' incrementally and from scratch', async () => {
    const cache = fresh('f.irs');
    const fRun = await certifyDataset({
      sampler: thresholdSampler(0.5, 0.5, 5), dataset, out: fresh('f.tsv'), identity, n0: 50, n: 20_000, alpha: 0.001, cache,
    });
    const read = readIrsCache(cache);
    expect(read.entries.size).toBe(8);
    expect(read.settings).toMatchObject({ sigma: 0.5, seed: 5, n0: 50, n: 20_000, alpha: 0.001, data: 'test:threshold', engine: 'float' });
    expect(read.entries.get(2)!.radius).toBe(fRun.rows[2].radius);

    await expect(certifyDataset({ sampler: thresholdSampler(0.5, 0.5, 5), dataset, out: fresh('f2.tsv'), identity, n0: 50, n: 20_000, alpha: 0.001, cache }))
      .rejects.toThrow(/IRS cache .* exists: resume the run or overwrite it/);
    const fPrime = thresholdSampler(0.48, 0.5, 5);
    const intIdentity = { ...identity, engine: 'int', policy: 'W8A8' };
    const branches: string[] = [];
    const inc = await certifyDataset({
      sampler: fPrime, dataset, out: fresh('inc.tsv'), identity: intIdentity, incremental: { cache, gamma: 0.99 },
      onImage: (_d, _t, r) => branches.push(r.irs!.branch),
    });
    expect(branches).toContain('zeta');
    expect(branches).toContain('estimate');
    expect(inc.summary.settings).toMatchObject({ mode: 'incremental', np: 1000, gamma: 0.99, alpha_zeta: 0.001, n: 20_000, engine: 'int', reference: { engine: 'float' } });
    expect(inc.summary.incremental).toMatchObject({ images_now: 8 });
    for (const [k, r] of inc.rows.entries()) {
      if (r.predict >= 0) expect(r.radius).toBeLessThanOrEqual(Math.abs(Math.fround(0.48) - Math.fround(xs[k])) + 1e-6);
    }
    expect(inc.summary.samples_per_second).toBeGreaterThan(0);

    const scratch = await certifyDataset({ sampler: fPrime, dataset, out: fresh('scratch.tsv'), identity: intIdentity, incremental: { cache, fromScratch: true } });
    expect(scratch.summary.settings).toMatchObject({ mode: 'from-scratch', n0: 50, n: 20_000 });
    expect(scratch.summary.acr).toBeGreaterThanOrEqual(inc.summary.acr - 0.2);

    await expect(certifyDataset({ sampler: fPrime, dataset, out: fresh('bad.tsv'), identity: { ...intIdentity, seed: 6 }, incremental: { cache } }))
      .rejects.toThrow(/does not match this run: it was written with seed 5 \(now 6\)/);
    await expect(certifyDataset({ sampler: fPrime, dataset, out: fresh('bad.tsv'), identity: intIdentity, n: 100, incremental: { cache } }))
      .rejects.toThrow(/n: incremental certification uses the IRS cache's n = 20000/);
    const bigger = makeDataset({ name: 'test:threshold', shape: [1, 1, 1], images: new Float32Array(12), labels: new Int32Array(12) });
    await expect(certifyDataset({ sampler: fPrime, dataset: bigger, out: fresh('bad.tsv'), identity: intIdentity, incremental: { cache } }))
      .rejects.toThrow(/has no record of 4 selected image\(s\) \(first: 8\)/);
  });
});

describe('smoothPredictDataset', () => {
  test('Cohen PREDICT over a selection', async () => {
    const xs = [-1, 2, 0.5, 0, 1];
    const dataset = makeDataset({ name: 'p', shape: [1, 1, 1], images: Float32Array.from(xs), labels: Int32Array.from([0, 1, 0, 1, 1]) });
    const seen: number[] = [];
    const r = await smoothPredictDataset({ sampler: thresholdSampler(0.5, 0.5, 3), dataset, n: 2000, alpha: 0.001, onImage: (d) => seen.push(d) });
    expect(seen).toEqual([1, 2, 3, 4, 5]);
    expect(r.predictions).toEqual([0, 1, -1, 0, 1]);
    expect(r.accuracy).toBe(0.6);
    expect(r.abstain_rate).toBe(0.2);
    expect(r.indices).toEqual([0, 1, 2, 3, 4]);
    const every = await smoothPredictDataset({ sampler: thresholdSampler(0.5, 0.5, 3), dataset, n: 2000, alpha: 0.001, skip: 2, max: 2 });
    expect(every.indices).toEqual([0, 2]);
    expect(every.predictions).toEqual([0, -1]);
  });
});
