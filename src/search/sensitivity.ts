/**
 * Layer sensitivity (issue 15, HAWQ's idea measured on the smoothed classifier's inputs): how much lowering one
 * layer's weights, or its input activation, to each width changes the integer network's output on noisy inputs,
 * every other layer kept at the base policy (W8A8 unless given). Measured once per search on the integer engine:
 * `samples` noisy copies x + N(0, sigma^2) of validation images (the inputs the smoothed classifier sees), each
 * changed network's softmax compared with the float model's by KL divergence (continuous, so small changes still
 * rank) and by disagreement of the arg-max (what the smoothed classifier counts).
 *
 * It orders the budget repair, defines the sensitivity-knapsack baseline and seeds the agent's warm-up.
 */
import type { Dataset } from '../data/index.js';
import type { Graph } from '../graph/ir.js';
import { FloatPlan } from '../engine/float-plan.js';
import type { Calibration } from '../quant/calibrate.js';
import { IntPlan } from '../engine/int-plan.js';
import type { LayerBits } from '../engine/int-plan.js';
import { ArqError } from '../util/errors.js';
import { integerInRange } from '../util/check.js';
import { Random } from '../util/random.js';
import type { SensitivityCosts } from './environment.js';
import { searchLayers } from './environment.js';
import { SENSITIVITY_FORMAT, type LayerSensitivity, type SensitivityTable } from '../report/types.js';
import { checkSigma } from '../engine/settings.js';

export interface SensitivityOptions {
  readonly sigma: number;
  readonly seed: number;
  /** Images taken (evenly spread) from `data`, and noisy copies per image. */
  readonly images: number;
  readonly copies: number;
  readonly minBits: number;
  readonly maxBits: number;
  /** Per layer in topological order; default every layer at maxBits. */
  readonly base?: readonly LayerBits[];
  readonly threads: number;
  readonly signal?: AbortSignal;
  /** Called after each layer. */
  readonly onLayer?: (done: number, total: number) => void;
}

/** Measures every layer's sensitivity (see the module comment); `elsewhere`, when given, measures the layers' rows. */
export async function measureSensitivity(
  graph: Graph, calibration: Calibration, data: Dataset, options: SensitivityOptions,
  elsewhere?: (layers: number) => Promise<LayerSensitivity[]>,
): Promise<SensitivityTable> {
  const start = performance.now();
  const probe = await sensitivityProbe(graph, calibration, data, options);
  const { layers, baseline } = probe;
  let rows: LayerSensitivity[];
  if (elsewhere) {
    rows = await elsewhere(layers.length);
  } else {
    rows = [];
    for (let i = 0; i < layers.length; i++) {
      rows.push(await probe.measureLayer(i));
      options.onLayer?.(i + 1, layers.length);
    }
  }
  return {
    format: SENSITIVITY_FORMAT, sigma: probe.sigma, seed: options.seed, images: probe.imageCount, samples: probe.samples, bits: probe.bits, base: probe.base,
    base_kl: baseline.kl, base_disagreement: baseline.disagreement, layers: rows, seconds: (performance.now() - start) / 1000,
  };
}

/** The rows of layers [from, to) of measureSensitivity's table, measured as it measures them (a queue job's share). */
export async function measureLayers(graph: Graph, calibration: Calibration, data: Dataset, options: SensitivityOptions, from: number, to: number): Promise<LayerSensitivity[]> {
  const probe = await sensitivityProbe(graph, calibration, data, options);
  const rows: LayerSensitivity[] = [];
  for (let i = from; i < to; i++) rows.push(await probe.measureLayer(i));
  return rows;
}

/**
 * What every layer's measurement shares: the noisy inputs (seeded), the float model's log-probabilities on them and
 * the base policy's result; measureLayer(i) then lowers layer i alone to each width.
 */
async function sensitivityProbe(graph: Graph, calibration: Calibration, data: Dataset, options: SensitivityOptions) {
  const sigma = checkSigma(options.sigma);
  const imageCount = Math.min(integerInRange('sensitivity images', options.images, 1, 1_000_000), data.count);
  const copies = integerInRange('sensitivity copies', options.copies, 1, 1_000_000);
  const minBits = options.minBits;
  const maxBits = options.maxBits;
  const layers = searchLayers(graph);
  const base = options.base ? [...options.base] : layers.map((l) => ({ name: l.name, wbits: maxBits, abits: maxBits }));
  if (base.length !== layers.length || base.some((b, i) => b.name !== layers[i].name)) throw new ArqError('sensitivity: the base policy must list every layer in order');

  const inputs = noisyInputs(data, imageCount, copies, sigma, options.seed);
  const samples = imageCount * copies;
  const floatLogits = await FloatPlan.build(graph).run(inputs, samples, options.threads);
  const classes = floatLogits.length / samples;
  const reference = logSoftmax(floatLogits, classes);
  const measure = async (policy: readonly LayerBits[]): Promise<{ kl: number; disagreement: number }> => {
    options.signal?.throwIfAborted();
    const plan = await IntPlan.create(graph, { layers: policy }, calibration);
    return compare(reference, logSoftmax(await plan.run(inputs, samples, options.threads), classes), classes);
  };
  const baseline = await measure(base);
  const bits = Array.from({ length: maxBits - minBits + 1 }, (_, k) => minBits + k);
  const measureLayer = async (i: number): Promise<LayerSensitivity> => {
    const row: LayerSensitivity = { name: layers[i].name, macs: layers[i].macs, weights: [], activations: [], weights_disagreement: [], activations_disagreement: [] };
    for (const kind of ['wbits', 'abits'] as const) {
      for (const width of bits) {
        const result = width === base[i][kind] ? baseline : await measure(base.map((b, j) => (j === i ? { ...b, [kind]: width } : b)));
        (kind === 'wbits' ? row.weights : row.activations).push(result.kl);
        (kind === 'wbits' ? row.weights_disagreement : row.activations_disagreement).push(result.disagreement);
      }
    }
    return row;
  };
  return { sigma, imageCount, samples, layers, base, bits, baseline, measureLayer };
}

/** The table as the environment and the knapsack read it: per layer, arrays indexed by width. */
export function sensitivityCosts(table: SensitivityTable): SensitivityCosts[] {
  return table.layers.map((layer) => {
    const weights: number[] = [];
    const activations: number[] = [];
    table.bits.forEach((width, k) => {
      weights[width] = layer.weights[k];
      activations[width] = layer.activations[k];
    });
    return { weights, activations };
  });
}

/**
 * A whole policy's summed sensitivity (the knapsack's objective): per layer, its weights' cost at wbits plus its
 * activations' at abits. `costs` and `policy` are in the environment's layer order.
 */
export function summedSensitivity(costs: readonly SensitivityCosts[], policy: readonly Pick<LayerBits, 'wbits' | 'abits'>[]): number {
  if (costs.length !== policy.length) throw new ArqError(`sensitivity: ${costs.length} layers measured, the policy has ${policy.length}`);
  return policy.reduce((sum, { wbits, abits }, i) => {
    const value = costs[i].weights[wbits] + costs[i].activations[abits];
    if (!Number.isFinite(value)) throw new ArqError(`sensitivity: no measurement of layer ${i} at W${wbits}A${abits}`);
    return sum + value;
  }, 0);
}

/** `copies` noisy copies of each of `count` images spread evenly over `data`, NCHW, seeded. */
function noisyInputs(data: Dataset, count: number, copies: number, sigma: number, seed: number): Float32Array {
  const per = data.images.length / data.count;
  const skip = Math.max(1, Math.floor(data.count / count));
  const random = Random.fromSeed(seed);
  const out = new Float32Array(count * copies * per);
  for (let k = 0; k < count; k++) {
    const image = data.images.subarray(k * skip * per, (k * skip + 1) * per);
    for (let c = 0; c < copies; c++) {
      const offset = (k * copies + c) * per;
      for (let p = 0; p < per; p++) out[offset + p] = image[p] + sigma * random.normal();
    }
  }
  return out;
}

function logSoftmax(logits: Float32Array, classes: number): Float64Array {
  const out = new Float64Array(logits.length);
  for (let r = 0; r < logits.length; r += classes) {
    let max = -Infinity;
    for (let c = 0; c < classes; c++) max = Math.max(max, logits[r + c]);
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += Math.exp(logits[r + c] - max);
    const log = max + Math.log(sum);
    for (let c = 0; c < classes; c++) out[r + c] = logits[r + c] - log;
  }
  return out;
}

/** Mean KL(p || q) and arg-max disagreement between two rows-of-log-probabilities arrays. */
function compare(p: Float64Array, q: Float64Array, classes: number): { kl: number; disagreement: number } {
  const rows = p.length / classes;
  let kl = 0;
  let disagree = 0;
  for (let r = 0; r < p.length; r += classes) {
    let argP = 0;
    let argQ = 0;
    for (let c = 0; c < classes; c++) {
      kl += Math.exp(p[r + c]) * (p[r + c] - q[r + c]);
      if (p[r + c] > p[r + argP]) argP = c;
      if (q[r + c] > q[r + argQ]) argQ = c;
    }
    if (argP !== argQ) disagree++;
  }
  return { kl: Math.max(0, kl / rows), disagreement: disagree / rows };
}
