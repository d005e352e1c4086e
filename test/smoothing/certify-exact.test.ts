// PREDICT and CERTIFY on hand-checkable counts: the base classifier is a fixed list (test/support/scripted-sampler),
// so the counts of each call are known in advance and the statistics can be recomputed exactly (binomial tails in
// BigInt), without the statistical tolerance of certify.test.ts. Also the contract checks of drawSamples, which a
// real sampler never breaks: a sampler returning the wrong number of counts or predictions.
import { describe, expect, test } from 'vitest';
import { MAX_SAMPLES } from '../../src/engine/settings.js';
import { ABSTAIN, certify, drawSamples, predict } from '../../src/smoothing/certify.js';
import type { Sampler } from '../../src/smoothing/sampler.js';
import { scriptedSampler } from '../support/scripted-sampler.js';

/** The first counts[0] samples class 0, the next counts[1] class 1, and so on. */
function blocks(counts: number[]): (sample: number) => number {
  return (sample) => {
    let end = 0;
    for (let c = 0; c < counts.length; c++) {
      end += counts[c];
      if (sample < end) return c;
    }
    throw new Error(`sample ${sample} past the script`);
  };
}

function choose(n: number, k: number): bigint {
  let r = 1n;
  for (let i = 0; i < k; i++) r = (r * BigInt(n - i)) / BigInt(i + 1);
  return r;
}

/** The two-sided exact binomial test of p = 1/2 for k > n/2 successes: 2 P(X >= k), exactly, as a double. */
function twoSidedPValue(k: number, n: number): number {
  let tail = 0n;
  for (let j = k; j <= n; j++) tail += choose(n, j);
  return Math.min(1, Number((2n * tail * 10n ** 30n) / 2n ** BigInt(n)) / 1e30);
}

const image = new Float32Array([0]);

describe('PREDICT on known counts', () => {
  test('the binomial test compares the top class with the runner-up, wherever the runner-up is', async () => {
    // Counts 5, 30, 20, 2: top class 1, runner-up class 2 (not class 0, where the search starts).
    const sampler = scriptedSampler(4, blocks([5, 30, 20, 2]));
    const r = await predict(sampler, image, 0, { n: 57, alpha: 0.5 });
    expect(Array.from(r.counts)).toEqual([5, 30, 20, 2]);
    expect(r.pValue).toBeCloseTo(twoSidedPValue(30, 50), 12); // 0.2026...
    expect(r.prediction).toBe(1);
    expect(r.samples).toBe(57);
    // At a level below the p-value it abstains.
    expect((await predict(sampler, image, 0, { n: 57, alpha: 0.2 })).prediction).toBe(ABSTAIN);
  });

  test('a one-class model has no runner-up: nA of nA trials', async () => {
    const r = await predict(scriptedSampler(1, () => 0), image, 0, { n: 10, alpha: 0.01 });
    expect(r.pValue).toBe(2 / 1024);
    expect(r.prediction).toBe(0);
  });

  test('a p-value exactly at alpha predicts (Cohen: reject when p <= alpha)', async () => {
    // 10 of 10 in class 2: p = 2 / 2^10 exactly.
    const r = await predict(scriptedSampler(3, () => 2), image, 0, { n: 10, alpha: 2 / 1024 });
    expect(r.pValue).toBe(2 / 1024);
    expect(r.prediction).toBe(2);
  });

  test('PREDICT draws in chunks, reports progress and stops on an aborted signal', async () => {
    const sampler = scriptedSampler(2, (k) => k % 2);
    const calls: [number, number][] = [];
    const spy: Sampler = { ...sampler, sample: (im, index, first, count, record) => { calls.push([first, count]); return sampler.sample(im, index, first, count, record); } };
    const progress: number[] = [];
    await predict(spy, image, 0, { n: 10, alpha: 0.1, chunk: 4, onSamples: (d) => progress.push(d) });
    expect(calls).toEqual([[0, 4], [4, 4], [8, 2]]);
    expect(progress).toEqual([4, 8, 10]);
    const controller = new AbortController();
    controller.abort(new Error('stopped'));
    await expect(predict(sampler, image, 0, { n: 10, alpha: 0.1, signal: controller.signal })).rejects.toThrow('stopped');
  });

  test('seconds is the time the call took', async () => {
    const before = performance.now();
    const p = await predict(scriptedSampler(2, () => 0), image, 0, { n: 10, alpha: 0.1 });
    const c = await certify(scriptedSampler(2, () => 0), image, 0, { n0: 1, n: 10, alpha: 0.1 });
    const elapsed = (performance.now() - before) / 1000;
    for (const seconds of [p.seconds, c.seconds]) {
      expect(seconds).toBeGreaterThanOrEqual(0);
      expect(seconds).toBeLessThanOrEqual(elapsed);
    }
  });
});

describe('CERTIFY on known counts', () => {
  test('selection on samples 0 .. n0-1, estimation on n0 .. n0+n-1, bound and radius from the estimation count', async () => {
    // Selection (3 samples): class 1. Estimation (10 samples): 9 of class 1, 1 of class 0.
    const script = [1, 1, 0, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1];
    const r = await certify(scriptedSampler(2, (k) => script[k]), image, 0, { n0: 3, n: 10, alpha: 0.05 });
    expect(r.classA).toBe(1);
    expect(Array.from(r.selectionCounts)).toEqual([1, 2]);
    expect(Array.from(r.counts)).toEqual([1, 9]);
    expect(r.countA).toBe(9);
    // P(Bin(10, p) >= 9) = 10 p^9 (1 - p) + p^10 = 0.05 at p = pALower.
    expect(10 * r.pALower ** 9 * (1 - r.pALower) + r.pALower ** 10).toBeCloseTo(0.05, 12);
    expect(r.prediction).toBe(1);
    expect(r.samples).toBe(13);
  });

  test('a lower bound of exactly 1/2 abstains (Cohen: certify when pALower > 1/2)', async () => {
    // One estimation sample of class A at alpha 1/2: pALower = alpha^(1/n) = 1/2.
    const r = await certify(scriptedSampler(2, () => 1), image, 0, { n0: 1, n: 1, alpha: 0.5 });
    expect(r.pALower).toBe(0.5);
    expect(r.prediction).toBe(ABSTAIN);
    expect(r.radius).toBe(0);
    // Two samples at alpha 1/4: the same bound, the same abstention; at alpha 0.3 it certifies.
    expect((await certify(scriptedSampler(2, () => 1), image, 0, { n0: 1, n: 2, alpha: 0.25 })).prediction).toBe(ABSTAIN);
    expect((await certify(scriptedSampler(2, () => 1), image, 0, { n0: 1, n: 2, alpha: 0.3 })).prediction).toBe(1);
  });
});

describe('drawSamples and the sampler contract', () => {
  test('the last sample number is 2^32 - 1; one more is refused', async () => {
    const sampler = scriptedSampler(2, (k) => (k === MAX_SAMPLES - 1 ? 1 : 0));
    const { counts } = await drawSamples(sampler, image, 0, MAX_SAMPLES - 3, 3, {});
    expect(Array.from(counts)).toEqual([2, 1]);
    await expect(drawSamples(sampler, image, 0, MAX_SAMPLES - 3, 4, {})).rejects.toThrow(
      'samples 4294967293 .. 4294967296 exceed the noise counter range (2^32 samples per image)',
    );
  });

  test('the image index runs up to 2^32 - 1', async () => {
    const sampler = scriptedSampler(2, () => 0);
    expect((await predict(sampler, image, 2 ** 32 - 1, { n: 1, alpha: 0.5 })).counts[0]).toBe(1);
    await expect(predict(sampler, image, 2 ** 32, { n: 1, alpha: 0.5 })).rejects.toThrow(/imageIndex: expected an integer in \[0, 4294967295\]/);
  });

  test('recording predictions (one byte each) allows 256 classes, not 257', async () => {
    const r = await drawSamples(scriptedSampler(256, (k) => 255 - k), image, 0, 0, 3, { record: true });
    expect(Array.from(r.predictions!)).toEqual([255, 254, 253]);
    await expect(drawSamples(scriptedSampler(257, () => 0), image, 0, 0, 3, { record: true })).rejects.toThrow(
      'recording predictions needs at most 256 classes, the model has 257',
    );
    // Without recording, any number of classes.
    expect((await drawSamples(scriptedSampler(257, () => 256), image, 0, 0, 3, {})).counts[256]).toBe(3);
  });

  test('a sampler returning the wrong number of counts or predictions is refused', async () => {
    const good = scriptedSampler(3, () => 0);
    const shortCounts: Sampler = { ...good, sample: async () => ({ counts: new Uint32Array(2), predictions: null }) };
    await expect(drawSamples(shortCounts, image, 0, 0, 5, {})).rejects.toThrow('sampler returned 2 class counts for 3 classes');
    const noPredictions: Sampler = { ...good, sample: (im, index, first, count) => good.sample(im, index, first, count, false) };
    await expect(drawSamples(noPredictions, image, 0, 0, 5, { record: true })).rejects.toThrow('sampler returned no predictions for 5 recorded samples');
    const shortPredictions: Sampler = {
      ...good,
      sample: async (im, index, first, count, record) => ({ ...(await good.sample(im, index, first, count, record)), predictions: new Uint8Array(count - 1) }),
    };
    await expect(drawSamples(shortPredictions, image, 0, 0, 5, { record: true })).rejects.toThrow('sampler returned no predictions for 5 recorded samples');
  });
});
