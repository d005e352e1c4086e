import { describe, expect, it } from 'vitest';
import { chooseWinner, signalToNoise, topCandidates } from '../../src/search/rescore.js';
import { summedSensitivity } from '../../src/search/sensitivity.js';
import type { EpisodeRecord } from '../../src/report/types.js';

const record = (episode: number, reward: number, wbits: number): EpisodeRecord => ({
  search: 'arq', episode, warmup: false, actions: [], policy: [{ name: 'l', wbits, abits: 4 }], repair: { lowered: 0, bitops_removed_percent: 0 },
  bitops_percent: 1, reward, reward_parts: {}, timings: { quantize: 0, finetune: 0, certify: 0, agent: 0, total: 0 },
});

describe('topCandidates', () => {
  it('takes distinct policies, highest reward first, the earlier episode among equal rewards', () => {
    const records = [record(0, 0.1, 2), record(1, 0.5, 3), record(2, 0.5, 4), record(3, 0.4, 3), record(4, 0.3, 5), record(5, 0.2, 6)];
    expect(topCandidates(records, 3).map((r) => r.episode)).toEqual([1, 2, 4]);
    expect(topCandidates(records, 10).map((r) => r.episode)).toEqual([1, 2, 4, 5, 0]);
  });
});

describe('signalToNoise', () => {
  it('signal: spread of the fresh scores; noise: spread of search - fresh over sqrt 2, a common shift cancelling', () => {
    const fresh = [1, 2, 3, 4];
    const search = [1.5, 2.5, 3.5, 4.5]; // the same ranking, shifted: no re-scoring noise
    expect(signalToNoise(search, fresh)).toEqual({ between: Math.sqrt(5 / 3), within: 0, snr: null });
    const noisy = signalToNoise([1.1, 1.9, 3.1, 3.9], fresh);
    const within = Math.sqrt((4 * 0.01) / 3) / Math.SQRT2;
    expect(noisy.within).toBeCloseTo(within, 12);
    expect(noisy.snr).toBeCloseTo(Math.sqrt(5 / 3) / within, 9);
  });
});

describe('chooseWinner', () => {
  const fresh = (...rewards: number[]) => rewards.map((fresh_reward) => ({ fresh_reward }));
  it('takes the best fresh reward whatever the sensitivity', () => {
    expect(chooseWinner(fresh(-0.03, -0.02, -0.025), [0, 5, 1])).toBe(1);
  });
  it('breaks an exact tie of fresh rewards by the least summed sensitivity, not by the search-time order', () => {
    // The ResNet-20 runs of issue 15: every candidate certified every fresh image at IRS's cap.
    expect(chooseWinner(fresh(-0.0318, -0.0318, -0.0318, -0.04), [0.3, 0.1, 0.2, 0])).toBe(1);
  });
  it('keeps the earlier candidate where the sensitivity ties too', () => {
    expect(chooseWinner(fresh(-1, -1, -1), [0.2, 0.2, 0.2])).toBe(0);
  });
  it('refuses mismatched inputs', () => {
    expect(() => chooseWinner(fresh(-1, -1), [0])).toThrow(/2 candidates, 1 sensitivities/);
    expect(() => chooseWinner([], [])).toThrow(/0 candidates/);
  });
});

describe('summedSensitivity', () => {
  const costs = [
    { weights: [NaN, NaN, 0.5, 0.2, 0.1], activations: [NaN, NaN, 0.4, 0.3, 0.05] },
    { weights: [NaN, NaN, 2, 1, 0], activations: [NaN, NaN, 3, 2, 0] },
  ];
  it("sums each layer's weights cost at wbits and activations cost at abits", () => {
    expect(summedSensitivity(costs, [{ wbits: 3, abits: 2 }, { wbits: 4, abits: 3 }])).toBeCloseTo(0.2 + 0.4 + 0 + 2, 12);
  });
  it('refuses a policy of another length or a width that was not measured', () => {
    expect(() => summedSensitivity(costs, [{ wbits: 3, abits: 2 }])).toThrow(/2 layers measured, the policy has 1/);
    expect(() => summedSensitivity(costs, [{ wbits: 3, abits: 2 }, { wbits: 8, abits: 3 }])).toThrow(/no measurement of layer 1 at W8A3/);
  });
});
