/**
 * Choosing a search's winner without the winner's curse (docs/search-design.md): the best of hundreds of episodes
 * scored on one fixed sample is partly the luckiest. So the top candidates (distinct policies, by search-time
 * reward) are scored again on fresh validation images with fresh noise, and the best fresh score wins; among
 * candidates whose fresh scores tie exactly (a reward saturated on these images, e.g. every image certified at IRS's
 * radius cap), the least summed layer sensitivity, a measurement on other inputs, instead of the search-time score
 * that the re-scoring is there to distrust. The two
 * scores of each candidate also measure whether the search can learn at all: the spread between candidates (signal)
 * against the test-retest spread of one candidate's two scores (noise).
 */
import { makePolicy } from '../quant/policy.js';
import { ArqError } from '../util/errors.js';
import type { RewardFunction } from './rewards.js';
import type { SensitivityCosts } from './environment.js';
import { summedSensitivity } from './sensitivity.js';
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

/**
 * The winner's index in `scored`: the best fresh reward; among exact ties the least `sensitivity` (the earlier
 * candidate, i.e. the better search-time reward, where that ties too).
 */
export function chooseWinner(scored: readonly { fresh_reward: number }[], sensitivity: readonly number[]): number {
  if (scored.length === 0 || sensitivity.length !== scored.length) throw new ArqError(`chooseWinner: ${scored.length} candidates, ${sensitivity.length} sensitivities`);
  let best = 0;
  for (let k = 1; k < scored.length; k++) {
    const fresh = scored[k].fresh_reward - scored[best].fresh_reward;
    if (fresh > 0 || (fresh === 0 && sensitivity[k] < sensitivity[best])) best = k;
  }
  return best;
}

/**
 * Re-scores the top `count` candidates of one search with `fresh` (its reward on the fresh images) and picks the
 * winner (chooseWinner; `sensitivity`: the search's per-layer costs, which break exact ties).
 */
export async function rescore(
  records: readonly EpisodeRecord[], count: number, fresh: RewardFunction, model: string, sensitivity: readonly SensitivityCosts[], signal?: AbortSignal,
): Promise<Rescoring> {
  const candidates = topCandidates(records, count);
  // measured together: at once on a queue's workers, one after the other here
  const outcomes = await fresh.evaluateAll(candidates.map((record) => makePolicy(model, record.policy)), signal);
  const scored: Rescoring['candidates'] = candidates.map((record, k) => ({ episode: record.episode, reward: record.reward, fresh_reward: outcomes[k].reward }));
  const winner = scored[chooseWinner(scored, candidates.map((r) => summedSensitivity(sensitivity, r.policy)))];
  return { candidates: scored, winner_episode: winner.episode, ...signalToNoise(scored.map((c) => c.reward), scored.map((c) => c.fresh_reward)) };
}
