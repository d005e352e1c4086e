import { describe, expect, it } from 'vitest';
import { signalToNoise, topCandidates } from '../../src/search/rescore.js';
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
