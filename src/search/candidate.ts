/**
 * A candidate policy's integer plan, as the search evaluates it and as its final certification runs it: quantized
 * from the search's one calibration, optionally after a QAT fine-tune with Gaussian noise (search.md: HAQ
 * fine-tunes before its reward, and its final policy for longer). The fine-tune is seeded, so the final
 * certification rebuilds exactly the network the search rewarded.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Dataset } from '../data/index.js';
import { readNpySync, writeNpySync } from '../data/npy.js';
import type { Graph } from '../graph/ir.js';
import type { Calibration } from '../quant/calibrate.js';
import { IntPlan } from '../engine/int-plan.js';
import { policyKey, type Policy } from '../quant/policy.js';
import { fineTune, layerTensorsOf, withLayerTensors, type FineTuneProgress } from '../train/qat.js';
import { ArqError } from '../util/errors.js';

export interface FineTuneSettings {
  /** SGD steps of QAT per candidate (0: none). */
  readonly steps: number;
  /** Training images (the validation split: the test split stays unseen). */
  readonly train: Dataset;
  readonly sigma: number;
  readonly seed: number;
  readonly threads: number;
  /**
   * A directory that keeps each fine-tuned network (its layers' float tensors, one .npy per policy), so that a
   * resumed run, and a second build of the same policy, skip the fine-tune. Without it nothing is kept: the search's
   * hundreds of candidates would hold a network each.
   */
  readonly store?: string;
}

export interface CandidatePlan {
  plan: IntPlan;
  /** The network the plan quantizes: the model's, or its fine-tuned copy. */
  graph: Graph;
  quantizeSeconds: number;
  finetuneSeconds: number;
}

export class CandidateBuilder {
  /** Fine-tuned networks by policy key, when the settings name a store. */
  private readonly kept = new Map<string, Promise<{ graph: Graph; seconds: number }>>();

  constructor(
    private readonly graph: Graph,
    private readonly calibration: Calibration,
    private readonly finetune: FineTuneSettings,
  ) {}

  /** QAT steps each plan is fine-tuned for (0: the model's own weights). */
  get finetuneSteps(): number {
    return this.finetune.steps;
  }

  async build(policy: Policy, signal?: AbortSignal, onFineTune?: (progress: FineTuneProgress) => void): Promise<CandidatePlan> {
    let graph = this.graph;
    let finetuneSeconds = 0;
    if (this.finetune.steps > 0) {
      ({ graph, seconds: finetuneSeconds } = await this.fineTuned(policy, signal, onFineTune));
    }
    const start = performance.now();
    const plan = await IntPlan.create(graph, policy, this.calibration);
    return { plan, graph, quantizeSeconds: (performance.now() - start) / 1000, finetuneSeconds };
  }

  private fineTuned(policy: Policy, signal?: AbortSignal, onProgress?: (progress: FineTuneProgress) => void): Promise<{ graph: Graph; seconds: number }> {
    const { steps, train, sigma, seed, threads, store } = this.finetune;
    const run = () => fineTune({ graph: this.graph, policy, calibration: this.calibration, train, sigma, steps, seed, threads, signal, onProgress });
    if (!store) return run();
    const key = policyKey(policy.layers);
    let kept = this.kept.get(key);
    if (!kept) {
      const file = path.join(store, `${createHash('sha256').update(`${steps} ${seed} ${sigma} ${train.name} ${key}`).digest('hex').slice(0, 24)}.npy`);
      kept = (async () => {
        if (existsSync(file)) return { graph: this.storedGraph(file), seconds: 0 };
        const { graph, seconds } = await run();
        mkdirSync(store, { recursive: true });
        const tensors = layerTensorsOf(graph);
        const flat = new Float32Array(tensors.reduce((sum, t) => sum + t.length, 0));
        let at = 0;
        for (const t of tensors) flat.set(t, at), (at += t.length);
        writeNpySync(file, flat, [flat.length]);
        return { graph, seconds };
      })();
      this.kept.set(key, kept);
      kept.catch(() => this.kept.delete(key));
    }
    return kept;
  }

  /** The model with the layer tensors of a stored fine-tune (their lengths are the model's, in layer order). */
  private storedGraph(file: string): Graph {
    const stored = readNpySync(file).data;
    const like = layerTensorsOf(this.graph);
    const total = like.reduce((sum, t) => sum + t.length, 0);
    if (!(stored instanceof Float32Array) || stored.length !== total) throw new ArqError(`${file} does not hold a fine-tune of this model (${total} float32 values expected): delete it to fine-tune again`);
    let at = 0;
    return withLayerTensors(this.graph, like.map((t) => stored.subarray(at, (at += t.length))));
  }
}
