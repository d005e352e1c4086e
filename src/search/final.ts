/**
 * The final numbers of a search: a full Cohen CERTIFY (never IRS, never search-time figures) of the float model and
 * of each winner on the test subset, one resumable results file each under DIR/final/.
 */
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Dataset } from '../data/index.js';
import type { LoadedModel } from '../onnx/model.js';
import { FloatPlan } from '../engine/float-plan.js';
import type { Policy } from '../quant/policy.js';
import { certifyDataset, type RemoteCertifier } from '../smoothing/run.js';
import { runIdentity } from '../smoothing/run-identity.js';
import { settingsPath } from '../smoothing/results.js';
import type { CandidateBuilder } from './candidate.js';
import type { FineTuneProgress } from '../train/qat.js';
import type { FinalEntry } from '../report/types.js';
import { setSampler } from './units.js';

export interface FinalSettings {
  readonly dir: string;
  readonly model: LoadedModel;
  /** Builds (and fine-tunes, when the search does) a policy's plan exactly as the search evaluated it. */
  readonly candidates: CandidateBuilder;
  /** The calibration's settings, recorded with integer results. */
  readonly calibration: { readonly [key: string]: string | number };
  readonly test: Dataset;
  readonly skip: number;
  readonly max: number;
  readonly sigma: number;
  readonly seed: number;
  readonly n0: number;
  readonly n: number;
  readonly alpha: number;
  readonly batch: number;
  readonly threads: number;
  /** Continue an existing results file (else it is replaced). */
  readonly resume: boolean;
  readonly signal?: AbortSignal;
  /** Certifies on a queue's workers (the same rows); the plan is then not built here. */
  readonly remote?: RemoteCertifier;
  /** Each step of the policy's fine-tune, when its builder fine-tunes (and it is not kept from an earlier run). */
  readonly onFineTune?: (progress: FineTuneProgress) => void;
  /** Once the plan is built, before the first image. */
  readonly onPlan?: () => void;
  readonly onImage?: (done: number, total: number) => void;
}

const resultsOf = (dir: string, key: string): string => path.join(dir, 'final', `${key}.tsv`);

/** Copies entry `from`'s finished results (and their settings) to entry `to`'s, which then resumes them to the end. */
export function copyFinalResults(dir: string, from: string, to: string): void {
  copyFileSync(resultsOf(dir, from), resultsOf(dir, to));
  copyFileSync(settingsPath(resultsOf(dir, from)), settingsPath(resultsOf(dir, to)));
}

/**
 * CERTIFY of the float model (policy null: arq's fp32 plan) or of a policy's integer plan on the test subset, into
 * DIR/final/KEY.tsv.
 */
export async function certifyFinal(key: string, label: string, policy: Policy | null, bitopsPercent: number, settings: FinalSettings): Promise<FinalEntry> {
  const { model, sigma, seed } = settings;
  mkdirSync(path.join(settings.dir, 'final'), { recursive: true });
  const out = resultsOf(settings.dir, key);
  const results = path.relative(settings.dir, out);
  // A remote run's sampler gives only sigma and the input size: the float plan stands in for the policy's (whose
  // fine-tune, when the search fine-tunes, would cost as much as the workers' share)
  const plan = policy && !settings.remote ? (await settings.candidates.build(policy, settings.signal, settings.onFineTune)).plan : FloatPlan.build(model.graph);
  settings.onPlan?.();
  const sampler = setSampler(model, plan, sigma, seed, settings.batch, settings.threads);
  const resume = settings.resume && existsSync(out);
  const { summary, rows } = await certifyDataset({
    sampler, dataset: settings.test, out,
    identity: runIdentity({ model, engine: policy ? 'int' : 'float', seed, quantization: policy ? { policy, calibration: { settings: settings.calibration } } : undefined }),
    info: { batch: settings.batch, threads: settings.threads },
    n0: settings.n0, n: settings.n, alpha: settings.alpha, skip: settings.skip, max: settings.max,
    resume, overwrite: !resume, signal: settings.signal, remote: settings.remote,
    onImage: (done, total) => settings.onImage?.(done, total),
  });
  return {
    label,
    policy: policy ? [...policy.layers] : null,
    bitops_percent: bitopsPercent,
    acr: summary.acr,
    certified_accuracy: summary.certified_accuracy,
    clean_accuracy: summary.clean_accuracy,
    abstain_rate: summary.abstain_rate,
    certified_radii: rows.map((row) => (row.correct ? row.radius : null)),
    results,
    seconds: summary.seconds,
  };
}
