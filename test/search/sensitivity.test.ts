// Layer sensitivity on the bundled model: its shape, its consistency, and the `arq sensitivity` command.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { bundledModelPath, loadModel, type LoadedModel } from '../../src/onnx/model.js';
import { loadDataset, type Dataset } from '../../src/data/index.js';
import { calibrate, type Calibration } from '../../src/quant/calibrate.js';
import { measureSensitivity, sensitivityCosts } from '../../src/search/sensitivity.js';
import type { SensitivityTable } from '../../src/report/types.js';
import { searchLayers } from '../../src/search/environment.js';
import { POLICY_FORMAT } from '../../src/quant/policy.js';

const run = promisify(execFile);
let model: LoadedModel;
let data: Dataset;
let calibration: Calibration;
let table: SensitivityTable;
const OPTIONS = { sigma: 0.25, seed: 1, images: 16, copies: 4, minBits: 2, maxBits: 8, threads: 2 };

beforeAll(async () => {
  model = await loadModel(bundledModelPath());
  data = await loadDataset('mnist', 'train');
  calibration = await calibrate(model.graph, data, { sigma: 0.25, count: 32, seed: 1, threads: 2 });
  table = await measureSensitivity(model.graph, calibration, data, OPTIONS);
}, 120_000);

describe('measureSensitivity', () => {
  it('measures every layer, weights and activations, at every width, one layer changed at a time from W8A8', () => {
    expect(table.layers.map((l) => l.name)).toEqual(searchLayers(model.graph).map((l) => l.name));
    expect(table.bits).toEqual([2, 3, 4, 5, 6, 7, 8]);
    expect(table.samples).toBe(64);
    for (const layer of table.layers) {
      for (const values of [layer.weights, layer.activations, layer.weights_disagreement, layer.activations_disagreement]) expect(values).toHaveLength(7);
      // At the base's own width the network is the base itself.
      expect(layer.weights[6]).toBe(table.base_kl);
      expect(layer.activations[6]).toBe(table.base_kl);
      // Two bits hurt more than eight, for every layer's weights and activations.
      expect(layer.weights[0]).toBeGreaterThan(layer.weights[6]);
      expect(layer.activations[0]).toBeGreaterThan(layer.activations[6]);
    }
    // The costs the environment reads are indexed by width.
    const costs = sensitivityCosts(table);
    expect(costs[1].weights[2]).toBe(table.layers[1].weights[0]);
    expect(costs[1].activations[8]).toBe(table.layers[1].activations[6]);
  });

  it('changes only the one layer: a base policy already at 2 bits elsewhere shifts every other row alike', async () => {
    const layers = searchLayers(model.graph);
    const base = layers.map((l, i) => ({ name: l.name, wbits: i === 1 ? 2 : 8, abits: 8 }));
    const other = await measureSensitivity(model.graph, calibration, data, { ...OPTIONS, base });
    expect(other.base_kl).toBeCloseTo(table.layers[1].weights[0], 12);
    expect(other.layers[1].weights[0]).toBe(other.base_kl);
    // Layer 1's weights at 8 bits take the base back to W8A8 everywhere.
    expect(other.layers[1].weights[6]).toBeCloseTo(table.base_kl, 12);
  }, 60_000);

  it('is reproducible from its seed', async () => {
    const again = await measureSensitivity(model.graph, calibration, data, OPTIONS);
    expect({ ...again, seconds: 0 }).toEqual({ ...table, seconds: 0 });
  }, 60_000);
});

describe('arq sensitivity', () => {
  it('prints the table as JSON, and rejects a base policy for another model with one line', async () => {
    const cli = path.resolve('bin/arq.js');
    const { stdout } = await run('node', [cli, 'sensitivity', '--images', '8', '--copies', '2', '--calibration', '16', '--json', '--threads', '2']);
    const json = JSON.parse(stdout) as SensitivityTable & { model: { sha256: string } };
    expect(json.model.sha256).toBe(model.sha256);
    expect(json.layers.map((l) => l.name)).toEqual(table.layers.map((l) => l.name));
    expect(json.samples).toBe(16);
    const policy = path.join(mkdtempSync(path.join(tmpdir(), 'arq-sens-')), 'p.json');
    writeFileSync(policy, JSON.stringify({ format: POLICY_FORMAT, model: 'f'.repeat(64), layers: [] }));
    const failed = await run('node', [cli, 'sensitivity', '--policy', policy, '--images', '4']).catch((e: { stderr: string; code: number }) => e);
    expect((failed as { code: number }).code).not.toBe(0);
    expect((failed as { stderr: string }).stderr.trim()).toMatch(/^arq: .*p\.json: made for model ffffffffffff/);
  }, 60_000);
});
