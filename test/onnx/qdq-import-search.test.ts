/**
 * `arq search` writes the ARQ winner as a QDQ file (best-policy.qdq.onnx) whose import is the plan the search
 * certified, bit for bit: the winner's policy on the search's own calibration.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect, test } from 'vitest';
import { loadDataset, trainingSpec } from '../../src/data/index.js';
import { bundledModelPath, loadModel, modelFromBytes } from '../../src/onnx/model.js';
import { calibrate } from '../../src/quant/calibrate.js';
import { givenGridsSpec } from '../../src/engine/given-grids.js';
import { IntPlan, intPlanSpec } from '../../src/engine/int-plan.js';
import { search } from '../../src/search/search.js';

test('the search\'s winner as QDQ reads back as the plan it certified', async () => {
  const out = mkdtempSync(path.join(tmpdir(), 'arq-search-qdq-'));
  const settings = { calibrationCount: 32, seed: 7, sigma: 0.25 };
  const { policy, files } = await search({
    model: bundledModelPath(), data: 'mnist', out, episodes: 2, warmup: 1, baselines: [], valImages: 4, cleanImages: 50, testImages: 4,
    n0: 20, n: 100, np: 20, finalN: 100, threads: 2, ...settings,
  });
  expect(files.qdq).toBe(path.join(out, 'best-policy.qdq.onnx'));
  const model = await loadModel(bundledModelPath());
  const calibration = await calibrate(model.graph, await loadDataset(trainingSpec('mnist'), 'train'), { sigma: settings.sigma, count: settings.calibrationCount, seed: settings.seed, threads: 2 });
  const certified = intPlanSpec(model.graph, policy, calibration);
  const file = modelFromBytes(readFileSync(files.qdq), files.qdq);
  const imported = givenGridsSpec(file.graph, file.qdq!);
  expect(imported.grids).toEqual(certified.grids);
  certified.ops.forEach((op, i) => expect(imported.ops[i]).toEqual(op));
  const images = (await loadDataset('mnist:test', 'test', { limit: 50 })).images;
  const [a, b] = await Promise.all([IntPlan.fromSpec(imported), IntPlan.fromSpec(certified)].map((p) => p.run(images, 50, 2)));
  expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
}, 300_000);
