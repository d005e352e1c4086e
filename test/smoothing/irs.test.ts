import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { FloatPlan } from '../../src/engine/float-plan.js';
import { clopperPearsonLower, clopperPearsonUpper, normalQuantile } from '../../src/smoothing/bounds.js';
import { ABSTAIN, certify, type CertifyResult } from '../../src/smoothing/certify.js';
import { certifyIncremental, defaultNp } from '../../src/smoothing/irs.js';
import { checkIrsCacheSettings, IrsCacheWriter, readIrsCache, type IrsCacheEntry, type IrsCacheSettings } from '../../src/smoothing/irs-cache.js';
import { planSampler, thresholdSampler } from '../support/plan-sampler.js';
import { binomialUpperLimit, normalCdf } from '../support/stats.js';
import { thresholdModel } from '../support/threshold.js';

const dir = mkdtempSync(path.join(tmpdir(), 'arq-irs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('IRS with f\' = f', () => {
  // f' is a separately built plan of the same model: it agrees with f on every noise sample.
  const sigma = 0.5;
  const seed = 77;
  const f = thresholdSampler(0.4, sigma, seed);
  const fPrime = planSampler(FloatPlan.build(thresholdModel(0.4).graph), sigma, seed);
  const n0 = 100;
  const n = 10_000;

  test.each([
    { x: 0, branch: 'zeta' }, // pA = Phi(0.8) = 0.79
    { x: 0.6, branch: 'zeta' }, // class 1, pA = Phi(0.4)
    { x: -1, branch: 'estimate' }, // pA = Phi(2.8) = 0.9974 >= gamma
    { x: 0.4, branch: 'f-abstained' }, // pA = 1/2
  ])('x = $x: zero disagreements, zeta is the zero-disagreement bound, radius at most f\'s ($branch)', async ({ x, branch }) => {
    const image = new Float32Array([x]);
    const fResult = await certify(f, image, 3, { n0, n, alpha: 0.001, record: true });
    const r = await certifyIncremental(fPrime, image, 3, fResult as Required<CertifyResult>, { n0 });
    expect(r.branch).toBe(branch);
    expect(r.radius).toBeLessThanOrEqual(fResult.radius);
    if (branch === 'f-abstained') {
      expect(r.prediction).toBe(ABSTAIN);
      expect(r.radius).toBe(0);
      expect(r.samples).toBe(0);
      return;
    }
    const np = defaultNp(n);
    expect(np).toBe(500);
    expect(r.samples).toBe(np);
    expect(r.prediction).toBe(fResult.prediction);
    if (branch === 'zeta') {
      expect(r.disagreements).toBe(0);
      expect(r.zeta).toBeCloseTo(1 - 0.001 ** (1 / np), 14);
      expect(r.zeta).toBe(clopperPearsonUpper(0, np, 0.001));
      expect(r.pALower).toBeCloseTo(fResult.pALower - r.zeta!, 14);
      expect(r.radius).toBeCloseTo(sigma * normalQuantile(fResult.pALower - r.zeta!), 12);
    } else {
      // Estimated on fresh samples after all of f's: numbers n0 + n .. n0 + n + np - 1.
      expect(r.zeta).toBeNull();
      expect(r.disagreements).toBeNull();
      const countA = (await f.sample(image, 3, n0 + n, np, false)).counts[fResult.classA];
      expect(r.countA).toBe(countA);
      expect(r.radius).toBeCloseTo(sigma * normalQuantile(clopperPearsonLower(countA, np, 0.001 + 0.001)), 12);
    }
  });

  test('the disagreements are counted against f\'s recorded predictions, sample by sample', async () => {
    const image = new Float32Array([0]);
    const fResult = await certify(f, image, 5, { n0, n, alpha: 0.001, record: true });
    const flipped = { ...fResult, predictions: fResult.predictions!.slice() };
    for (let i = 0; i < 40; i++) flipped.predictions[i * 10] ^= 1; // 40 of the first 500 now disagree
    const r = await certifyIncremental(fPrime, image, 5, flipped, { n0, np: 500 });
    expect(r.disagreements).toBe(40);
    expect(r.zeta).toBe(clopperPearsonUpper(40, 500, 0.001));
  });

  test('bad arguments are rejected', async () => {
    const image = new Float32Array([0]);
    const ref = { classA: 0, pALower: 0.8, predictions: new Uint8Array(100) };
    await expect(certifyIncremental(fPrime, image, 0, ref, { n0, np: 101 })).rejects.toThrow(/np: expected an integer in \[1, 100\]/);
    await expect(certifyIncremental(fPrime, image, 0, { ...ref, classA: 2 }, { n0 })).rejects.toThrow(/classA/);
    await expect(certifyIncremental(fPrime, image, 0, ref, { n0, alpha: 0.6, alphaZeta: 0.5 })).rejects.toThrow(/alpha \+ alphaZeta/);
    await expect(certifyIncremental(fPrime, image, 0, { ...ref, predictions: new Uint8Array(0) }, { n0 })).rejects.toThrow(/no recorded predictions/);
  });
});

describe('IRS soundness for a modified classifier', () => {
  // f thresholds at t, f' at t'; f' predicts class 0 iff x < t' with pA' = Phi(|t' - x| / sigma), so the
  // largest sound radius for f' is |t' - x|. Each repetition uses fresh noise (its own image index).
  const reps = 2000;
  const alpha = 0.05;
  const alphaZeta = 0.05;

  test.each([
    { x: 0, t: 0.5, tPrime: 0.45, sigma: 1, gamma: 0.99 }, // f' less robust; disagreement rate 0.018
    { x: 0, t: 0.5, tPrime: 0.56, sigma: 1, gamma: 0.99 }, // f' more robust
    { x: 0.3, t: 0.1, tPrime: 0.14, sigma: 0.5, gamma: 0.99 }, // class 1, f' less robust
    { x: 0, t: 1.2, tPrime: 1.1, sigma: 0.5, gamma: 0.95 }, // pA = 0.992: the estimate branch
  ])('x = $x, t = $t, t\' = $tPrime, sigma = $sigma: wrong certificates at most alpha + alphaZeta of the time', async (c) => {
    const ft = Math.fround(c.t);
    const ftp = Math.fround(c.tPrime);
    const fx = Math.fround(c.x);
    const f = thresholdSampler(ft, c.sigma, 31);
    const fPrime = thresholdSampler(ftp, c.sigma, 31);
    const cls = fx < ftp ? 0 : 1;
    const trueRadius = Math.abs(ftp - fx);
    const image = new Float32Array([c.x]);
    let wrong = 0;
    let reusedWrong = 0;
    const branches = { zeta: 0, estimate: 0, 'f-abstained': 0 };
    let disagreements = 0;
    let drawn = 0;
    for (let r = 0; r < reps; r++) {
      const fResult = await certify(f, image, r, { n0: 32, n: 2000, alpha, record: true });
      const result = await certifyIncremental(fPrime, image, r, fResult as Required<CertifyResult>, { n0: 32, np: 500, alpha, alphaZeta, gamma: c.gamma });
      branches[result.branch]++;
      if (result.disagreements !== null) { disagreements += result.disagreements; drawn += result.samples; }
      if (result.prediction === ABSTAIN) expect(result.radius).toBe(0);
      else if (result.prediction !== cls || result.radius > trueRadius + 1e-6) wrong++;
      // Reusing f's certificate for f' unchanged (no zeta) is unsound when f' is less robust.
      if (fResult.prediction === cls && fResult.radius > trueRadius + 1e-6) reusedWrong++;
    }
    const limit = binomialUpperLimit(reps, alpha + alphaZeta, 1e-9);
    expect(wrong, `wrong ${wrong} of ${reps}, limit ${limit}`).toBeLessThanOrEqual(limit);
    const rate = Math.abs(normalCdf(Math.abs(ft - fx) / c.sigma) - normalCdf(Math.abs(ftp - fx) / c.sigma));
    if (drawn) expect(Math.abs(disagreements / drawn - rate)).toBeLessThan(6 * Math.sqrt(rate / drawn) + 1e-3);
    if (c.gamma === 0.95) expect(branches.estimate).toBeGreaterThan(reps / 2);
    else expect(branches.zeta).toBeGreaterThan(reps / 2);
    if (Math.abs(ftp - fx) < Math.abs(ft - fx) && c.gamma === 0.99) expect(reusedWrong).toBeGreaterThan(limit);
  });
});

describe('IRS cache file', () => {
  const settings: IrsCacheSettings = { sigma: 0.5, seed: 9, n0: 10, n: 300, alpha: 0.001, model: 'ab'.repeat(32), data: 'test:threshold', engine: 'float', policy: null };

  async function entries(count: number): Promise<IrsCacheEntry[]> {
    const f = thresholdSampler(0.2, 0.5, 9);
    const out: IrsCacheEntry[] = [];
    for (let i = 0; i < count; i++) {
      const r = await certify(f, new Float32Array([i / 10]), i * 2, { n0: 10, n: 300, alpha: 0.001, record: true });
      out.push({ idx: i * 2, label: i % 2, classA: r.classA, pALower: r.pALower, prediction: r.prediction, radius: r.radius, seconds: r.seconds, predictions: r.predictions! });
    }
    return out;
  }

  function write(file: string, list: IrsCacheEntry[]): void {
    const w = IrsCacheWriter.open(file, settings);
    for (const e of list) w.append(e);
    w.close();
  }

  test('round trip', async () => {
    const file = path.join(dir, 'round.irs');
    const list = await entries(4);
    write(file, list);
    const cache = readIrsCache(file);
    expect(cache.settings).toEqual(settings);
    expect(cache.truncated).toBe(false);
    expect([...cache.entries.keys()]).toEqual([0, 2, 4, 6]);
    for (const e of list) {
      const got = cache.entries.get(e.idx)!;
      expect({ ...got, predictions: Array.from(got.predictions) }).toEqual({ ...e, predictions: Array.from(e.predictions) });
    }
    expect(() => checkIrsCacheSettings(cache, { sigma: 0.5, seed: 9, n0: 10 })).not.toThrow();
    expect(() => checkIrsCacheSettings(cache, { sigma: 0.25, seed: 9 })).toThrow(/written with different settings: sigma 0.5 \(now 0.25\)/);
  });

  test('a truncated last record is an error unless allowed; resuming cuts it and appends', async () => {
    const file = path.join(dir, 'truncated.irs');
    const list = await entries(3);
    write(file, list);
    const text = readFileSync(file, 'utf8');
    writeFileSync(file, text.slice(0, text.length - 100));
    expect(() => readIrsCache(file)).toThrow(/line 4\) is truncated: the run writing the cache was interrupted/);
    const partial = readIrsCache(file, { allowTruncated: true });
    expect(partial.truncated).toBe(true);
    expect([...partial.entries.keys()]).toEqual([0, 2]);
    const w = IrsCacheWriter.open(file, settings, { resume: true });
    expect([...w.existing]).toEqual([0, 2]);
    w.append(list[2]);
    w.close();
    expect([...readIrsCache(file).entries.keys()]).toEqual([0, 2, 4]);
    expect(() => IrsCacheWriter.open(file, { ...settings, seed: 10 }, { resume: true })).toThrow(/cannot resume IRS cache .*seed 9 \(now 10\)/);
  });

  test('corruption is reported with the line', async () => {
    const file = path.join(dir, 'corrupt.irs');
    write(file, await entries(2));
    const text = readFileSync(file, 'utf8');
    const lines = text.split('\n');
    const damaged = (edit: (l: string[]) => void): void => {
      const copy = lines.slice();
      edit(copy);
      writeFileSync(file, copy.join('\n'));
    };
    damaged((l) => { l[2] = l[2].replace(/"pALower":0\.(\d)/, (_, d: string) => `"pALower":0.${(Number(d) + 1) % 10}`); });
    expect(() => readIrsCache(file)).toThrow(/line 3: corrupted record \(checksum mismatch\)/);
    damaged((l) => { l[1] = l[1].slice(0, 40) + l[1].slice(41); });
    expect(() => readIrsCache(file)).toThrow(/line 2: corrupted record/);
    damaged((l) => { l[1] = `${l[1].slice(0, 20)}}`; });
    expect(() => readIrsCache(file)).toThrow(/line 2: corrupted record \(not valid JSON\)/);
    damaged((l) => { l[0] = l[0].replace('"version":1', '"version":7'); });
    expect(() => readIrsCache(file)).toThrow(/version 7 is not supported/);
    damaged((l) => { l[0] = l[0].replace('"n":300', '"n":301'); });
    expect(() => readIrsCache(file)).toThrow(/line 2: 300 recorded predictions, the header says n = 301/);
    damaged((l) => { l[0] = '{"hello":1}'; });
    expect(() => readIrsCache(file)).toThrow(/not an IRS cache/);
    damaged((l) => { l[2] = l[1]; });
    expect(() => readIrsCache(file)).toThrow(/line 3: image 0 appears twice/);
    writeFileSync(file, '');
    expect(() => readIrsCache(file)).toThrow(/no complete header line \(empty file\)/);
    expect(() => readIrsCache(path.join(dir, 'missing.irs'))).toThrow(/cannot read IRS cache .*ENOENT/);
  });
});
