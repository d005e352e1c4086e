/**
 * The records an ARQ search writes (search.md, cli.md): one EpisodeRecord per episode (episodes.jsonl), one
 * FinalEntry per certified winner, the layer sensitivity table (sensitivity.json), and the SearchReport that
 * report.json holds and report.html draws. They sit here, below search/, because the report renders them and the
 * search (which writes the report) imports the report.
 * Field names in snake_case are part of the file formats scripts read.
 */
import type { LayerBits } from '../engine/int-plan.js';
import type { MeasuredTime, TimeSettings } from '../quant/time.js';

export const SENSITIVITY_FORMAT = 'arq-sensitivity/1';

/** One layer's measurements, aligned with SensitivityTable.bits. */
export interface LayerSensitivity {
  name: string;
  macs: number;
  /** Mean KL(float || changed) with the layer's weights at each width. */
  weights: number[];
  /** The same with the layer's input activation at each width. */
  activations: number[];
  /** Fraction of noisy inputs whose arg-max differs from the float model's, weights at each width. */
  weights_disagreement: number[];
  activations_disagreement: number[];
}

/** What `arq sensitivity --json` prints and report.json's `sensitivity` holds. */
export interface SensitivityTable {
  format: typeof SENSITIVITY_FORMAT;
  sigma: number;
  seed: number;
  /** Validation images, and noisy copies of them in all. */
  images: number;
  samples: number;
  /** Widths measured, ascending. */
  bits: number[];
  /** The policy each measurement changes one layer of. */
  base: LayerBits[];
  /** The base policy's own KL and disagreement (every row's value at the base's width). */
  base_kl: number;
  base_disagreement: number;
  layers: LayerSensitivity[];
  seconds: number;
}

/** The searches arq runs under one budget: the ARQ agent, the same agent with HAQ's reward, random policies. */
export const SEARCH_NAMES = ['arq', 'haq', 'random'] as const;
export type SearchName = (typeof SEARCH_NAMES)[number];

/**
 * Rewards of search.md: `arq` (ACR difference), `arq-acc` (plus smoothed accuracy), `haq` (clean accuracy), and
 * `arq-soft` (docs/search-design.md: the ACR difference mixed with a continuous per-image score, so that images whose
 * radius is capped or zero still rank candidates).
 */
export const REWARD_NAMES = ['arq', 'arq-acc', 'haq', 'arq-soft'] as const;
export type RewardName = (typeof REWARD_NAMES)[number];

/** Seconds an episode spent in each stage. */
export interface EpisodeTimings {
  /** Building the integer plan (weight codes, grids from the search's one calibration). */
  quantize: number;
  /** Optional fine-tuning (0 when off). */
  finetune: number;
  /** IRS on the validation subset, or the clean-accuracy run of the `haq` reward. */
  certify: number;
  /** The agent's acting and policy updates. */
  agent: number;
  total: number;
}

/** What a reward measured on the validation subset (fields absent when the reward did not need them). */
export interface RewardParts {
  /** ACR of the quantized smoothed classifier by IRS. */
  acr?: number;
  /** ACR of the float smoothed classifier (its CERTIFY, which filled the IRS cache). */
  acr_float?: number;
  /** Smoothed accuracy (certified correct at radius 0) of the quantized model by IRS. */
  smoothed_accuracy?: number;
  smoothed_accuracy_float?: number;
  /** Mean per-image score of `arq-soft` (rewards.ts) of the quantized and of the float smoothed classifier. */
  score?: number;
  score_float?: number;
  /** Clean (noise-free) accuracy of the base classifiers. */
  clean_accuracy?: number;
  clean_accuracy_float?: number;
}

/** One line of episodes.jsonl. */
export interface EpisodeRecord {
  search: SearchName;
  /** 0-based within its search. */
  episode: number;
  /** Warm-up (uniform random actions) rather than the actor's. */
  warmup: boolean;
  /** A local-search episode (a neighbour of the best policy so far: `--local-search`); absent otherwise. */
  local_search?: boolean;
  /**
   * Two per layer (weights, then input activation): the action in [0, 1] of the width that ran, relative to the
   * step's fair width (environment.ts), exactly what the agent's replay memory stores.
   */
  actions: number[];
  /** The policy evaluated: the widths that ran (after the repair, when it had to act). */
  policy: LayerBits[];
  /** What the end-of-episode repair did: single-bit lowerings, and BitOps removed in % of float BitOps. */
  repair: { lowered: number; bitops_removed_percent: number };
  bitops_percent: number;
  reward: number;
  reward_parts: RewardParts;
  /** The policy was rewarded before (by this search or one sharing its reward): the reward was reused, not measured again. */
  repeated?: boolean;
  timings: EpisodeTimings;
}

/** A winner's (or the float model's) full CERTIFY on the test subset. */
export interface FinalEntry {
  /** Human name: 'float', 'ARQ', 'HAQ', 'random search', 'uniform W4A4', 'sensitivity knapsack', 'W8A8'. */
  label: string;
  /** Per-layer bit widths; null for the float model. */
  policy: LayerBits[] | null;
  /** 100 for the float model. */
  bitops_percent: number;
  acr: number;
  /** Fraction certified correct at radius >= r, keyed by String(r) (the grid 0, 0.25, ..., 2). */
  certified_accuracy: Record<string, number>;
  /** Smoothed accuracy (certified correct at radius 0, abstentions wrong). */
  clean_accuracy: number;
  abstain_rate: number;
  /** Per test image: the certified radius when certified correct, else null (draws the exact curve). */
  certified_radii: (number | null)[];
  /** The CERTIFY results file (relative to the search directory). */
  results: string;
  seconds: number;
  /**
   * Measured time per image of this entry's plan on the search's CPU, beside W8A8's (quant/time.ts; report.json's
   * `time` says how), timed once after the final certifications. Absent in reports written before it was measured.
   */
  time?: MeasuredTime;
}

/** How the final table's times were measured, and the W8A8 time every `time_vs_w8a8` divides by. */
export type FinalTimes = TimeSettings & { w8a8: MeasuredTime };

/** Keys of report.json's final entries, in the order tables and plots list them. */
export const FINAL_KEYS = ['float', 'arq', 'haq', 'random', 'uniform', 'knapsack', 'w8a8'] as const;
export type FinalKey = (typeof FINAL_KEYS)[number];

export interface ReportLayer {
  name: string;
  op: string;
  macs: number;
  params: number;
}

/** The rules every budgeted policy of the final table obeys (W8A8 and float are references outside them). */
export interface PolicyRules {
  budget: number;
  min_bits: number;
  max_bits: number;
  /** First and last layers at max_bits. */
  pin_ends: boolean;
}

/** Per search, how often the end-of-episode repair had to act and how much it changed. */
export interface RepairSummary {
  episodes: number;
  /** Episodes whose acted-out policy did not fit and was lowered. */
  repaired: number;
  /** Single-bit lowerings over all episodes. */
  lowered: number;
  /** BitOps removed per repaired episode, on average, in percentage points of float BitOps (0 when none was). */
  mean_bitops_removed_percent: number;
}

/** A search's top candidates scored again on fresh validation images and fresh noise (rescore.ts). */
export interface Rescoring {
  /** Highest search-time reward first: the episode, its search-time reward and its reward on the fresh images. */
  candidates: { episode: number; reward: number; fresh_reward: number }[];
  /** The episode whose policy is the search's winner (best fresh reward; exact ties: least summed sensitivity). */
  winner_episode: number;
  /** Spread of the fresh rewards between candidates, and of one candidate's reward between scorings. */
  between: number;
  within: number;
  /** between / within (null when within is 0): near or below 1, the reward cannot tell these candidates apart. */
  snr: number | null;
}

/** report.json. */
export type SearchReport = {
  format: 'arq-search-report/1';
  created: string;
  model: { path: string; sha256: string };
  data: string;
  sigma: number;
  /** BitOps budget as a fraction of the float BitOps (0.015625 = W4A4). */
  budget: number;
  reward: RewardName;
  /** Every setting that shaped the search. */
  settings: Record<string, unknown>;
  layers: ReportLayer[];
  /** Every episode of every search, in the order they ran. */
  episodes: EpisodeRecord[];
  /** Seconds per stage over the whole run. */
  timings: Record<string, number>;
  rules?: PolicyRules;
  repair?: Partial<Record<SearchName, RepairSummary>>;
  sensitivity?: SensitivityTable;
  /** Per search, the re-scoring that chose its winner (absent with rescore 0). */
  rescoring?: Partial<Record<SearchName, Rescoring>>;
  /** The measurement behind the final entries' `time` (absent in reports written before it was measured). */
  time?: FinalTimes;
} & Partial<Record<FinalKey, FinalEntry>>;
