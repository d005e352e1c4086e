// Layer sensitivity (sensitivity.ts, issue 15) recomputed here from its definition on the tiny MLP fixture: noisy
// copies x + sigma N(0, 1) of images spread evenly over the data (every floor(count / images)-th, drawn in order
// from the seeded generator), each changed integer network's softmax compared with the float model's by the mean
// KL(p_float || q_quantized) and by the share of arg-max disagreements, one layer's weights or activations changed at
// a time from the base policy. The softmax, the KL divergence and the arg-max are computed here without the code under
// test; the networks are run by the engine (checked against its own references elsewhere).
import { beforeAll, describe, expect, test } from 'vitest';
import { makeDataset, type Dataset } from '../../src/data/index.js';
import { FloatPlan } from '../../src/engine/float-plan.js';
import { IntPlan, type LayerBits } from '../../src/engine/int-plan.js';
import { calibrate, type Calibration } from '../../src/quant/calibrate.js';
import { searchLayers } from '../../src/search/environment.js';
import { measureSensitivity } from '../../src/search/sensitivity.js';
import { Random } from '../../src/util/random.js';
import { loadFixture } from '../support/fixtures.js';

const model = loadFixture('tiny_mlp'); // input [1, 8, 8], 10 classes
const SIZE = 64;
const OPTIONS = { sigma: 0.3, seed: 5, images: 3, copies: 2, minBits: 2, maxBits: 4, threads: 1 };
let data: Dataset;
let calibration: Calibration;

beforeAll(async () => {
  // Ten different images: every third (0, 3, 6) is measured.
  data = makeDataset({ name: 'synthetic', shape: [1, 8, 8], images: Float32Array.from({ length: 10 * SIZE }, (_, i) => ((i * 37 + Math.floor(i / SIZE) * 11) % 41) / 41), labels: new Int32Array(10) });
  calibration = await calibrate(model.graph, data, { sigma: OPTIONS.sigma, count: 10, seed: 1, threads: 1 });
});

/** The measured inputs: images 0, 3 and 6, two noisy copies each, pixel by pixel from the seeded generator. */
function noisyInputs(): Float32Array {
  const random = Random.fromSeed(OPTIONS.seed);
  const out = new Float32Array(3 * 2 * SIZE);
  let j = 0;
  for (const k of [0, 3, 6]) {
    for (let c = 0; c < 2; c++) for (let p = 0; p < SIZE; p++) out[j++] = data.images[k * SIZE + p] + OPTIONS.sigma * random.normal();
  }
  return out;
}

function softmax(row: Float32Array): number[] {
  const e = Array.from(row, (v) => Math.exp(v));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

const argmax = (values: ArrayLike<number>): number => {
  let best = 0;
  for (let c = 1; c < values.length; c++) if (values[c] > values[best]) best = c;
  return best;
};

/** Mean KL(p || q) over the rows and the share of rows whose arg-max differs. */
function compare(float: Float32Array, quantized: Float32Array, classes: number): { kl: number; disagreement: number } {
  const rows = float.length / classes;
  let kl = 0;
  let disagree = 0;
  for (let r = 0; r < rows; r++) {
    const p = softmax(float.subarray(r * classes, (r + 1) * classes));
    const q = softmax(quantized.subarray(r * classes, (r + 1) * classes));
    kl += p.reduce((sum, pc, c) => sum + pc * Math.log(pc / q[c]), 0);
    if (argmax(float.subarray(r * classes, (r + 1) * classes)) !== argmax(quantized.subarray(r * classes, (r + 1) * classes))) disagree++;
  }
  return { kl: kl / rows, disagreement: disagree / rows };
}

describe('measureSensitivity against its definition', () => {
  test('base KL and disagreement, and every layer at every width, weights and activations', async () => {
    const layers = searchLayers(model.graph);
    // A base other than all-maxBits, so that the changed layer's other widths stay at the base's.
    const base: LayerBits[] = layers.map((l, i) => ({ name: l.name, wbits: 4, abits: i === 0 ? 3 : 4 }));
    const table = await measureSensitivity(model.graph, calibration, data, { ...OPTIONS, base });
    const inputs = noisyInputs();
    const float = await FloatPlan.build(model.graph).run(inputs, 6, 1);
    const classes = float.length / 6;
    const measure = async (policy: LayerBits[]) => compare(float, await (await IntPlan.create(model.graph, { layers: policy }, calibration)).run(inputs, 6, 1), classes);

    expect({ images: table.images, samples: table.samples, bits: table.bits }).toEqual({ images: 3, samples: 6, bits: [2, 3, 4] });
    const expectedBase = await measure(base);
    expect(table.base_kl).toBeCloseTo(expectedBase.kl, 12);
    expect(table.base_disagreement).toBe(expectedBase.disagreement);
    let disagreements = 0;
    for (let i = 0; i < layers.length; i++) {
      for (const [k, width] of [2, 3, 4].entries()) {
        const weights = await measure(base.map((b, j) => (j === i ? { ...b, wbits: width } : b)));
        const activations = await measure(base.map((b, j) => (j === i ? { ...b, abits: width } : b)));
        expect(table.layers[i].weights[k]).toBeCloseTo(weights.kl, 12);
        expect(table.layers[i].activations[k]).toBeCloseTo(activations.kl, 12);
        expect(table.layers[i].weights_disagreement[k]).toBe(weights.disagreement);
        expect(table.layers[i].activations_disagreement[k]).toBe(activations.disagreement);
        disagreements += weights.disagreement + activations.disagreement;
      }
    }
    // The case is not degenerate: two-bit layers change some arg-max, and the KL divergences differ.
    expect(disagreements).toBeGreaterThan(0);
    expect(table.layers[0].weights[0]).toBeGreaterThan(table.layers[0].weights[2] * 2);
  });

  test('the default base is every layer at maxBits, recorded in the table; the table\'s seconds are the call\'s', async () => {
    const layers = searchLayers(model.graph);
    const t0 = performance.now();
    const table = await measureSensitivity(model.graph, calibration, data, OPTIONS);
    const elapsed = (performance.now() - t0) / 1000;
    expect(table.base).toEqual(layers.map((l) => ({ name: l.name, wbits: 4, abits: 4 })));
    const withBase = await measureSensitivity(model.graph, calibration, data, { ...OPTIONS, base: table.base });
    expect({ ...withBase, seconds: 0 }).toEqual({ ...table, seconds: 0 });
    expect(table.seconds).toBeGreaterThan(0);
    expect(table.seconds).toBeLessThanOrEqual(elapsed);
  });

  test('refuses a base that does not list every layer in order, and image and copy counts out of range, by name', async () => {
    const layers = searchLayers(model.graph);
    const base: LayerBits[] = layers.map((l) => ({ name: l.name, wbits: 4, abits: 4 }));
    const message = 'sensitivity: the base policy must list every layer in order';
    await expect(measureSensitivity(model.graph, calibration, data, { ...OPTIONS, base: base.slice(1) })).rejects.toThrow(message);
    await expect(measureSensitivity(model.graph, calibration, data, { ...OPTIONS, base: [...base].reverse() })).rejects.toThrow(message);
    await expect(measureSensitivity(model.graph, calibration, data, { ...OPTIONS, base: [base[0], { ...base[1], name: 'other' }] })).rejects.toThrow(message);
    await expect(measureSensitivity(model.graph, calibration, data, { ...OPTIONS, images: 0 })).rejects.toThrow('sensitivity images: expected an integer in [1, 1000000], got 0');
    await expect(measureSensitivity(model.graph, calibration, data, { ...OPTIONS, copies: 0 })).rejects.toThrow('sensitivity copies: expected an integer in [1, 1000000], got 0');
  });
});
