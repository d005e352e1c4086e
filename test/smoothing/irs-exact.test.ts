// IRS (smoothing/irs.ts) on hand-checkable cases: f' is a fixed list of classes (test/support/scripted-sampler), so
// its disagreements with f's recorded predictions, its counts and every bound are known in advance. The thresholds
// are met exactly (f's bound at 1/2 and at gamma, a final bound of exactly 1/2), where Ugare et al.'s algorithm
// abstains, branches or certifies: "if pALower - zeta > 1/2", "pALower < gamma", "if the estimate > 1/2".
import { describe, expect, test } from 'vitest';
import { ABSTAIN } from '../../src/smoothing/certify.js';
import { normalQuantile } from '../../src/smoothing/bounds.js';
import { certifyIncremental, type IrsReference } from '../../src/smoothing/irs.js';
import { scriptedSampler } from '../support/scripted-sampler.js';

const image = new Float32Array([0]);
const reference = (pALower: number, predictions: number[], classA = 1): IrsReference => ({ classA, pALower, predictions: Uint8Array.from(predictions) });

describe('the branches at their thresholds', () => {
  test("f's bound exactly 1/2: abstain without drawing a sample", async () => {
    const r = await certifyIncremental(scriptedSampler(2, () => 1), image, 0, reference(0.5, [1, 1]), { n0: 3, np: 2 });
    expect(r).toMatchObject({ prediction: ABSTAIN, radius: 0, branch: 'f-abstained', samples: 0, countA: null });
  });

  test("f's bound exactly gamma: f' is estimated on fresh samples n0 + n .. n0 + n + np - 1", async () => {
    // Samples 3 + 4 = 7 .. 10 are class 1, every earlier one class 0: only the fresh samples give f' a certificate.
    const sampler = scriptedSampler(2, (k) => (k >= 7 ? 1 : 0));
    const progress: number[] = [];
    const r = await certifyIncremental(sampler, image, 0, reference(0.75, [1, 1, 1, 1]), { n0: 3, np: 4, gamma: 0.75, alpha: 0.1, alphaZeta: 0.1, chunk: 1, onSamples: (d) => progress.push(d) });
    // Lower bound of 4 of 4 at alpha + alphaZeta = 0.2: 0.2^(1/4) = 0.67.
    expect(r).toMatchObject({ prediction: 1, branch: 'estimate', countA: 4, samples: 4, zeta: null });
    expect(r.pALower).toBeCloseTo(0.2 ** 0.25, 14);
    expect(r.radius).toBeCloseTo(0.5 * normalQuantile(0.2 ** 0.25), 12);
    expect(progress).toEqual([1, 2, 3, 4]);
  });

  test('zeta branch: pALower - zeta of exactly 1/2 abstains', async () => {
    // One sample, no disagreement: zeta = 1 - alphaZeta^(1/1) = 0.25 at alphaZeta 0.75, and 0.75 - 0.25 = 1/2.
    const r = await certifyIncremental(scriptedSampler(2, () => 1), image, 0, reference(0.75, [1]), { n0: 1, np: 1, alpha: 0.01, alphaZeta: 0.75 });
    expect(r).toMatchObject({ branch: 'zeta', zeta: 0.25, pALower: 0.5, disagreements: 0, prediction: ABSTAIN, radius: 0 });
  });

  test("zeta branch: f' disagreeing on every sample abstains; agreeing certifies f's class", async () => {
    // f recorded class 1 on samples n0 .. n0 + 3; f' says 0 on them.
    const disagreeing = await certifyIncremental(scriptedSampler(2, () => 0), image, 0, reference(0.9, [1, 1, 1, 1]), { n0: 2, np: 4, alphaZeta: 0.1 });
    expect(disagreeing).toMatchObject({ branch: 'zeta', disagreements: 4, zeta: 1, prediction: ABSTAIN, countA: 0 });
    const agreeing = await certifyIncremental(scriptedSampler(2, (k) => (k >= 2 && k < 6 ? 1 : 0)), image, 0, reference(0.9, [1, 1, 1, 1]), { n0: 2, np: 4, alphaZeta: 0.5 });
    // zeta = 1 - 0.5^(1/4); radius sigma Phi^-1(0.9 - zeta), certified since 0.9 - 0.159 > 1/2.
    expect(agreeing.zeta).toBeCloseTo(1 - 0.5 ** 0.25, 14);
    expect(agreeing).toMatchObject({ branch: 'zeta', disagreements: 0, prediction: 1, countA: 4 });
    expect(agreeing.radius).toBeCloseTo(0.5 * normalQuantile(0.9 - (1 - 0.5 ** 0.25)), 12);
    // Only the first np of the recorded predictions are compared.
    const first = await certifyIncremental(scriptedSampler(2, () => 1), image, 0, reference(0.9, [1, 0]), { n0: 1, np: 1 });
    expect(first.disagreements).toBe(0);
  });

  test('estimate branch: a bound of exactly 1/2 abstains, no vote for cA abstains', async () => {
    // 1 of 1 at alpha + alphaZeta = 1/2: 0.5^(1/1) = 1/2.
    const half = await certifyIncremental(scriptedSampler(2, () => 1), image, 0, reference(0.995, [1]), { n0: 1, np: 1, alpha: 0.25, alphaZeta: 0.25 });
    expect(half).toMatchObject({ branch: 'estimate', pALower: 0.5, prediction: ABSTAIN, radius: 0 });
    const none = await certifyIncremental(scriptedSampler(2, () => 0), image, 0, reference(0.995, [1, 1]), { n0: 1, np: 2 });
    expect(none).toMatchObject({ branch: 'estimate', countA: 0, pALower: 0, prediction: ABSTAIN, radius: 0 });
  });
});

describe('arguments', () => {
  test('one recorded prediction is enough; each bad argument is named', async () => {
    const sampler = scriptedSampler(2, () => 1);
    expect((await certifyIncremental(sampler, image, 0, reference(0.9, [1]), { n0: 1 })).samples).toBe(1);
    await expect(certifyIncremental(sampler, image, 0, reference(0.9, []), { n0: 1 })).rejects.toThrow('IRS: the reference holds no recorded predictions of f');
    await expect(certifyIncremental(sampler, image, 0, reference(0.9, [1]), { n0: 1, alphaZeta: 0 })).rejects.toThrow(/^alphaZeta: /);
    await expect(certifyIncremental(sampler, image, 0, reference(0.9, [1]), { n0: 1, alpha: 0.5, alphaZeta: 0.5 })).rejects.toThrow('IRS: alpha + alphaZeta must be below 1, got 1');
    await expect(certifyIncremental(sampler, image, 0, reference(0.9, [1]), { n0: 1, alpha: 0.75, alphaZeta: 0.5 })).rejects.toThrow('IRS: alpha + alphaZeta must be below 1, got 1.25');
    await expect(certifyIncremental(sampler, image, 0, reference(0.9, [1]), { n0: 1, gamma: 1.5 })).rejects.toThrow(/^gamma: /);
    await expect(certifyIncremental(sampler, image, 0, reference(1.5, [1]), { n0: 1 })).rejects.toThrow(/^pALower: /);
    await expect(certifyIncremental(sampler, image, 0, reference(0.9, [1], 2), { n0: 1 })).rejects.toThrow(/^classA: expected an integer in \[0, 1\]/);
    await expect(certifyIncremental(sampler, image, 0, reference(0.9, [1]), { n0: 1, np: 2 })).rejects.toThrow(/^np: expected an integer in \[1, 1\]/);
    await expect(certifyIncremental(sampler, new Float32Array(2), 0, reference(0.9, [1]), { n0: 1 })).rejects.toThrow('image: expected 1 values, got 2');
  });

  test('seconds is the time the call took', async () => {
    const before = performance.now();
    const results = [
      await certifyIncremental(scriptedSampler(2, () => 1), image, 0, reference(0.5, [1]), { n0: 1 }),
      await certifyIncremental(scriptedSampler(2, () => 1), image, 0, reference(0.9, [1]), { n0: 1 }),
      await certifyIncremental(scriptedSampler(2, () => 1), image, 0, reference(0.999, [1]), { n0: 1 }),
    ];
    const elapsed = (performance.now() - before) / 1000;
    for (const r of results) {
      expect(r.seconds).toBeGreaterThanOrEqual(0);
      expect(r.seconds).toBeLessThanOrEqual(elapsed);
    }
  });
});
