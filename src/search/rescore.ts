/**
 * Choosing a search's winner without the winner's curse (docs/search-design.md): the best of hundreds of episodes
 * scored on one fixed sample is partly the luckiest. So the top candidates (distinct policies, by search-time
 * reward) are scored again on fresh validation images with fresh noise, and the best fresh score wins. The two
 * scores of each candidate also measure whether the search can learn at all: the spread between candidates (signal)
 * against the test-retest spread of one candidate's two scores (noise).
 */
import type { Policy } from '../quant/policy.js';
import { POLICY_FORMAT } from '../quant/policy.js';
import type { RewardFunction } from './rewards.js';
import type { EpisodeRecord, Rescoring } from '../report/types.js';

/** Up to `count` episodes with distinct policies, highest reward first (the earlier episode among equal rewards). */
export function topCandidates(records: readonly EpisodeRecord[], count: number): EpisodeRecord[] {
  const sorted = [...records].sort((a, b) => b.reward - a.reward || a.episode - b.episode);
  const seen = new Set<string>();
  const out: EpisodeRecord[] = [];
  for (const record of sorted) {
    if (out.length === count) break;
    const key = JSON.stringify(record.policy);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(record);
  }
  return out;
}

function standardDeviation(values: readonly number[]): number {
  if (values.length < 2) return 0;
  const mean = values.reduce((s, v) => s + v, 0) / values.length;
  return Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / (values.length - 1));
}

/**
 * Signal: the standard deviation of the fresh scores across candidates. Noise: the standard deviation of one score,
 * from the differences between each candidate's two scores (sd(search - fresh) / sqrt 2; a shift common to all
 * candidates, like IRS's bias on another image set, cancels). The ratio is null when the noise is 0.
 */
export function signalToNoise(search: readonly number[], fresh: readonly number[]): { between: number; within: number; snr: number | null } {
  const between = standardDeviation(fresh);
  const within = standardDeviation(search.map((s, k) => s - fresh[k])) / Math.SQRT2;
  return { between, within, snr: within > 0 ? between / within : null };
}

/** Re-scores the top `count` candidates of one search with `fresh` (its reward on the fresh images) and picks the winner. */
export async function rescore(records: readonly EpisodeRecord[], count: number, fresh: RewardFunction, model: string, signal?: AbortSignal): Promise<Rescoring> {
  const candidates = topCandidates(records, count);
  const scored: Rescoring['candidates'] = [];
  for (const record of candidates) {
    const policy: Policy = { format: POLICY_FORMAT, model, layers: record.policy };
    scored.push({ episode: record.episode, reward: record.reward, fresh_reward: (await fresh.evaluate(policy, signal)).reward });
  }
  const winner = scored.reduce((best, c) => (c.fresh_reward > best.fresh_reward ? c : best), scored[0]);
  return { candidates: scored, winner_episode: winner.episode, ...signalToNoise(scored.map((c) => c.reward), scored.map((c) => c.fresh_reward)) };
}
