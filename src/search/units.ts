/**
 * A search's independent units of work, as a queue's workers run them (`arq search --queue`, issue 20): the
 * certification of a selection of one of its image sets (the float model's validation and fresh references, the
 * final certifications on the test subset), the sensitivity of a range of layers, and the measurement of candidate
 * policies for their rewards. A worker rebuilds the search's state from its SearchSetup exactly as the search builds
 * it (the same data, calibration and candidate builder: searchState), so a unit gives the same numbers on any
 * machine: the noise is counter-based (seed, image, sample number), and each set keeps its search's seed.
 *
 * The search reaches its workers through a SearchRemote (src/distributed implements it on BullMQ); this module does
 * not know the queue.
 */
import { createHash } from 'node:crypto';
import { loadDataset, selectEvery, selectedIndices, type Dataset } from '../data/index.js';
import type { LayerBits } from '../engine/int-plan.js';
import { FloatPlan } from '../engine/float-plan.js';
import type { IntPlan } from '../engine/int-plan.js';
import { offsetSeed } from '../engine/settings.js';
import { shapeSize } from '../graph/ir.js';
import type { LoadedModel } from '../onnx/model.js';
import { calibrate, type Calibration } from '../quant/calibrate.js';
import { makePolicy, policyKey } from '../quant/policy.js';
import { parseIrsCache } from '../smoothing/irs-cache.js';
import type { JsonValue } from '../smoothing/results.js';
import { certifyRange, type RemoteCertifier, type RemoteRow } from '../smoothing/run.js';
import { nativeSampler, type Sampler } from '../smoothing/sampler.js';
import type { LayerSensitivity } from '../report/types.js';
import { ArqError } from '../util/errors.js';
import { CandidateBuilder } from './candidate.js';
import { measureCandidate, type CandidateMeasurement, type ImageSet, type MeasureKind, type MeasureTarget } from './rewards.js';
import { measureLayers } from './sensitivity.js';

/** What a worker rebuilds a search's state from (the search's settings that its units depend on). */
export interface SearchSetup {
  [key: string]: JsonValue;
  data: string;
  valData: string;
  sigma: number;
  seed: number;
  calibrationCount: number;
  finetuneSteps: number;
  /** QAT steps of each policy of the final numbers (0: they are built as the search's candidates). */
  finalFinetuneSteps: number;
  valImages: number;
  cleanImages: number;
  np: number;
  batch: number;
  minBits: number;
  maxBits: number;
  sensitivityImages: number;
  sensitivityCopies: number;
}

/** The image sets a search certifies: validation (search-time rewards), fresh validation (re-scoring), test (final numbers). */
export type SetName = 'val' | 'fresh' | 'test';

/** CERTIFY of positions of a selection of one set, by the float model (policy null) or a policy's candidate. */
export interface CertifyUnit {
  readonly kind: 'certify';
  readonly set: SetName;
  readonly policy: LayerBits[] | null;
  readonly n0: number;
  readonly n: number;
  readonly alpha: number;
  readonly skip: number;
  readonly max: number | null;
  /** Return what the float reference's IRS cache keeps (classA, the estimation samples' classes). */
  readonly record: boolean;
}

/** The sensitivity rows of a range of layers (positions are layers, in the environment's order). */
export interface SensitivityUnit {
  readonly kind: 'sensitivity';
}

/** Candidate measurements of policies (positions index `policies`) against a set's float reference. */
export interface MeasureUnit {
  readonly kind: 'measure';
  readonly set: 'val' | 'fresh';
  readonly measure: MeasureKind;
  /** sha256 of the float reference's IRS cache text (which travels beside the jobs), for 'irs'. */
  readonly reference: string | null;
  readonly policies: LayerBits[][];
}

export type SearchUnit = CertifyUnit | SensitivityUnit | MeasureUnit;

/** A unit's row: a certified image (CertifyUnit) or, with its position, a layer's sensitivity or a candidate's measurement. */
export type UnitRow = RemoteRow | (LayerSensitivity & { position: number }) | (CandidateMeasurement & { position: number });

/** What the search asks of its workers (src/distributed/producer.ts: queueSearch). */
export interface SearchRemote {
  /** A remote certifier of one set's selection (certifyDataset's `remote`). */
  certifier(unit: Pick<CertifyUnit, 'set' | 'policy'>): RemoteCertifier;
  /** The rows of layers 0 .. layers-1 of the sensitivity table, in order; `onLayer` as they come. */
  sensitivity(layers: number, signal?: AbortSignal, onLayer?: (done: number, total: number) => void): Promise<LayerSensitivity[]>;
  /** The measurements of `unit.policies`, in order, against the float reference whose IRS cache text is `reference` ('irs'). */
  measure(unit: Omit<MeasureUnit, 'kind' | 'reference'>, reference: string | null, signal?: AbortSignal): Promise<CandidateMeasurement[]>;
  /** Lets go of the queue (after the search, finished or not). */
  close(): Promise<void>;
}

/** The search's remote, given its state's identity once it is built (the CLI's --queue). */
export type SearchRemoteFactory = (context: { readonly model: LoadedModel; readonly setup: SearchSetup; readonly identity: { [key: string]: JsonValue } }) => Promise<SearchRemote>;

/** Every skip-th image of a dataset up to `count`: the selection (as an ImageSet and a Dataset) and its skip/max. */
export function spread(dataset: Dataset, count: number): { set: ImageSet; selected: Dataset; skip: number; max: number } {
  const max = Math.min(count, dataset.count);
  const skip = Math.max(1, Math.floor(dataset.count / max));
  const { dataset: selected, indices } = selectEvery(dataset, skip, max);
  return { set: { images: selected.images, labels: selected.labels, indices }, selected, skip, max };
}

/** Noise seed of the fresh re-scoring: any seed the searches do not use. */
const FRESH_SEED_OFFSET = 1_000_003;

/**
 * The validation split without the images any search-time reward used: every image offset by half the smaller of
 * the two selections' strides from the images they pick (both pick every skip-th image from 0).
 */
function freshImages(setup: SearchSetup, dataset: Dataset): Dataset {
  const stride = Math.min(spread(dataset, setup.valImages).skip, spread(dataset, setup.cleanImages).skip);
  const offset = Math.floor(stride / 2);
  const per = dataset.images.length / dataset.count;
  return {
    ...dataset, name: `${dataset.name}+${offset}`, count: dataset.count - offset,
    images: dataset.images.subarray(offset * per), labels: dataset.labels.subarray(offset),
  };
}

/** What a search holds once its data is read and its calibration measured: the same on the search's machine and on every worker. */
export interface SearchState {
  readonly val: Dataset;
  readonly test: Dataset;
  readonly calibration: Calibration;
  readonly candidates: CandidateBuilder;
  /** Builds the plans of the final numbers (the test set's certifications). */
  readonly finals: CandidateBuilder;
}

/** The search's validation and test data (the validation split for search-time figures, the test split for final numbers). */
export async function searchData(setup: SearchSetup): Promise<{ val: Dataset; test: Dataset }> {
  const [val, test] = await Promise.all([loadDataset(setup.valData, 'train'), loadDataset(setup.data, 'test')]);
  return { val, test };
}

/**
 * The search's calibration and candidate builders on its validation data (`threads` change no number): the
 * search's, and the final numbers' (search.md, HAQ's protocol: with finalFinetuneSteps, each final policy is
 * fine-tuned that long from the model, its network kept in `finalStore` when given).
 */
export async function searchCandidates(
  model: LoadedModel, setup: SearchSetup, val: Dataset, threads: number, finalStore?: string,
): Promise<{ calibration: Calibration; candidates: CandidateBuilder; finals: CandidateBuilder }> {
  const calibration = await calibrate(model.graph, val, { sigma: setup.sigma, count: setup.calibrationCount, seed: setup.seed, threads });
  const finetune = { train: val, sigma: setup.sigma, seed: setup.seed, threads };
  const candidates = new CandidateBuilder(model.graph, calibration, { ...finetune, steps: setup.finetuneSteps });
  const finals = setup.finalFinetuneSteps > 0 ? new CandidateBuilder(model.graph, calibration, { ...finetune, steps: setup.finalFinetuneSteps, store: finalStore }) : candidates;
  return { calibration, candidates, finals };
}

/** The images and noise seed of one of a search's sets. */
export function searchSet(setup: SearchSetup, name: SetName, data: { val: Dataset; test: Dataset }): { dataset: Dataset; seed: number } {
  if (name === 'fresh') return { dataset: freshImages(setup, data.val), seed: offsetSeed(setup.seed, FRESH_SEED_OFFSET) };
  return { dataset: name === 'val' ? data.val : data.test, seed: setup.seed };
}

/** A set's sampler of a plan, as every certification of the search draws its noise. */
export function setSampler(model: LoadedModel, plan: FloatPlan | IntPlan, sigma: number, seed: number, batch: number, threads: number): Sampler {
  return nativeSampler(plan, shapeSize(model.graph.input.shape), { sigma, seed, batch, threads });
}

/**
 * Who computes a search's units: its model, data and calibration, fingerprinted (a worker whose own state differs,
 * e.g. other data under the same name, refuses the search's jobs).
 */
export function searchIdentity(model: LoadedModel, state: Pick<SearchState, 'val' | 'test' | 'calibration'>): { [key: string]: JsonValue } {
  const { ranges, histograms } = state.calibration;
  const calibration = createHash('sha256').update(new Uint8Array(ranges.buffer, ranges.byteOffset, ranges.byteLength))
    .update(new Uint8Array(histograms.buffer, histograms.byteOffset, histograms.byteLength)).digest('hex');
  return { model: model.sha256, val_data: state.val.name, data: state.test.name, calibration };
}

/**
 * A search's state rebuilt on a worker, and its units run there. Plans are kept for the next unit of the same
 * policy (a final certification's jobs, a fine-tuned candidate), measure targets by set and float reference.
 */
export class SearchBench {
  private plan: { key: string; plan: Promise<FloatPlan | IntPlan> } | null = null;
  /** Measure targets by set and float reference (its IRS cache parsed once). */
  private readonly targets = new Map<string, Promise<MeasureTarget>>();

  private constructor(readonly model: LoadedModel, readonly setup: SearchSetup, readonly threads: number, readonly state: SearchState, readonly identity: { [key: string]: JsonValue }) {}

  static async open(model: LoadedModel, setup: SearchSetup, threads: number): Promise<SearchBench> {
    const data = await searchData(setup);
    const state = { ...data, ...(await searchCandidates(model, setup, data.val, threads)) };
    return new SearchBench(model, setup, threads, state, searchIdentity(model, state));
  }

  /**
   * The rows of positions [start, end) of `unit`; `referenceText(sha256)` gives a reference's IRS cache text;
   * `onDone` after each position.
   */
  async run(unit: SearchUnit, start: number, end: number, referenceText: (sha256: string) => Promise<string>, onDone?: (done: number) => Promise<void> | void): Promise<UnitRow[]> {
    const { setup, threads } = this;
    switch (unit.kind) {
      case 'certify': {
        const { dataset, seed } = searchSet(setup, unit.set, this.state);
        const indices = selectedIndices(dataset.count, unit.skip, unit.max ?? undefined);
        if (end > indices.length) throw new Error(`${dataset.name} selects ${indices.length} images on this worker, the job needs positions up to ${end - 1}: producer and workers must read the same data`);
        const sampler = setSampler(this.model, await this.planOf(unit.policy, unit.set === 'test' ? this.state.finals : this.state.candidates), setup.sigma, seed, setup.batch, threads);
        return certifyRange(sampler, dataset, indices, start, end, { ...unit, onImage: onDone });
      }
      case 'sensitivity': {
        const options = { sigma: setup.sigma, seed: setup.seed, images: setup.sensitivityImages, copies: setup.sensitivityCopies, minBits: setup.minBits, maxBits: setup.maxBits, threads };
        const rows = await measureLayers(this.model.graph, this.state.calibration, this.state.val, options, start, end);
        return rows.map((row, k) => ({ ...row, position: start + k }));
      }
      case 'measure': {
        const { seed } = searchSet(setup, unit.set, this.state);
        const target = await this.targetOf(unit, referenceText);
        const rows: UnitRow[] = [];
        for (let k = start; k < end; k++) {
          const policy = makePolicy(this.model.sha256, unit.policies[k]);
          rows.push({ ...(await measureCandidate(this.state.candidates, target, unit.measure, { sigma: setup.sigma, seed, np: setup.np, threads }, policy)), position: k });
          await onDone?.(rows.length);
        }
        return rows;
      }
      default:
        throw new ArqError(`unknown search unit ${JSON.stringify((unit as { kind: unknown }).kind)}`);
    }
  }

  /** The float plan, or a policy's plan by `builder` (fine-tuned when it fine-tunes), kept for the next unit. */
  private planOf(policy: LayerBits[] | null, builder: CandidateBuilder): Promise<FloatPlan | IntPlan> {
    const key = policy ? `${builder.finetuneSteps} ${policyKey(policy)}` : 'float';
    if (this.plan?.key !== key) {
      const plan = policy ? builder.build(makePolicy(this.model.sha256, policy)).then((c) => c.plan) : Promise.resolve(FloatPlan.build(this.model.graph));
      this.plan = { key, plan };
      plan.catch(() => {
        if (this.plan?.plan === plan) this.plan = null;
      });
    }
    return this.plan.plan;
  }

  /** What a measure unit's candidates are measured against: its set's images and, for 'irs', its float reference. */
  private targetOf(unit: MeasureUnit, referenceText: (sha256: string) => Promise<string>): Promise<MeasureTarget> {
    const key = JSON.stringify([unit.set, unit.reference]);
    let target = this.targets.get(key);
    if (!target) {
      target = (async () => {
        const { dataset } = searchSet(this.setup, unit.set, this.state);
        const cache = unit.reference === null ? null : parseIrsCache(await referenceText(unit.reference), `float reference ${unit.reference.slice(0, 12)}`);
        const certified = spread(dataset, this.setup.valImages).set;
        if (unit.measure === 'irs') {
          const missing = certified.indices.find((idx) => !cache?.entries.has(idx));
          if (missing !== undefined) throw new Error(`the float reference of set ${unit.set} has no record of image ${missing}: producer and workers must read the same data`);
        }
        return { certified, cache: cache?.entries ?? new Map(), n0: cache?.settings.n0 ?? 0, alpha: cache?.settings.alpha ?? 0, clean: spread(dataset, this.setup.cleanImages).selected };
      })();
      this.targets.set(key, target);
      target.catch(() => this.targets.delete(key));
    }
    return target;
  }
}
