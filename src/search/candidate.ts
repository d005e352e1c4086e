/**
 * A candidate policy's integer plan, as the search evaluates it and as its final certification runs it: quantized
 * from the search's one calibration, optionally after a short QAT fine-tune with Gaussian noise (search.md: HAQ
 * fine-tunes before its reward). The fine-tune is seeded, so the final certification rebuilds exactly the network
 * the search rewarded.
 */
import type { Dataset } from '../data/index.js';
import type { Graph } from '../graph/ir.js';
import type { Calibration } from '../quant/calibrate.js';
import { IntPlan } from '../engine/int-plan.js';
import type { Policy } from '../quant/policy.js';
import { fineTune } from '../train/qat.js';

export interface FineTuneSettings {
  /** SGD steps of QAT per candidate (0: none). */
  readonly steps: number;
  /** Training images (the validation split: the test split stays unseen). */
  readonly train: Dataset;
  readonly sigma: number;
  readonly seed: number;
  readonly threads: number;
}

export interface CandidatePlan {
  plan: IntPlan;
  /** The network the plan quantizes: the model's, or its fine-tuned copy. */
  graph: Graph;
  quantizeSeconds: number;
  finetuneSeconds: number;
}

export class CandidateBuilder {
  constructor(
    private readonly graph: Graph,
    private readonly calibration: Calibration,
    private readonly finetune: FineTuneSettings,
  ) {}

  async build(policy: Policy, signal?: AbortSignal): Promise<CandidatePlan> {
    let graph = this.graph;
    let finetuneSeconds = 0;
    if (this.finetune.steps > 0) {
      const { steps, train, sigma, seed, threads } = this.finetune;
      const result = await fineTune({ graph, policy, calibration: this.calibration, train, sigma, steps, seed, threads, signal });
      graph = result.graph;
      finetuneSeconds = result.seconds;
    }
    const start = performance.now();
    const plan = await IntPlan.create(graph, policy, this.calibration);
    return { plan, graph, quantizeSeconds: (performance.now() - start) / 1000, finetuneSeconds };
  }
}
