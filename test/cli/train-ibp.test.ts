// `arq train --ibp` as a user runs it (bin/arq.js over the compiled dist/): plain IBP from an architecture, resumed
// from its checkpoint, then QA-IBP from it; the QA-IBP file carries its grids, so the integer plan arq builds from
// it without calibrating again is the network whose IBP bounds training reported.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { loadDataset } from '../../src/data/index.js';
import { IntPlan } from '../../src/engine/int-plan.js';
import { loadModel } from '../../src/onnx/model.js';
import { prepareQuantization } from '../../src/quant/quantize.js';
import { certifiedCount } from '../../src/train/ibp.js';
import { arq as arqRun, randomMnistNpy } from './run.js';

const dir = mkdtempSync(path.join(tmpdir(), 'arq-cli-ibp-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const arq = (...args: string[]) => arqRun(args);

describe('arq train --ibp', () => {
  const data = randomMnistNpy(dir, 5);
  const float = path.join(dir, 'float.onnx');
  const common = ['--data', data, '--test-data', data, '--eps', '4/255', '--batch', '8', '--threads', '2', '--seed', '1'];

  test('--float from --arch writes the model, its sidecar and a checkpoint that resumes only the same command', async () => {
    const first = await arq('train', '--ibp', '--float', '--arch', 'ibp-small', ...common, '--epochs', '1', '--out', float, '--json');
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout).model).toBe(float);
    const sidecar = JSON.parse(readFileSync(path.join(dir, 'float.json'), 'utf8'));
    expect(sidecar.settings).toMatchObject({ mode: 'float', start: 'ibp-small', eps: 4 / 255, epochs: 1, kappa: 0.5, lambda: 0.001, delta: 0.25, warmup: 0.1 });
    expect(sidecar.history).toHaveLength(1);
    expect(sidecar.test_ibp_certified).toBeGreaterThanOrEqual(0);
    expect((await loadModel(float)).graph.nodes.map((n) => n.op)).toEqual(['conv', 'clamp', 'conv', 'clamp', 'flatten', 'gemm', 'clamp', 'gemm']);
    const refused = await arq('train', '--ibp', '--float', '--arch', 'ibp-small', ...common, '--epochs', '2', '--out', float, '--resume');
    expect(refused.stderr).toMatch(/different settings \(epochs: 1 there, 2 here\)/);
  });

  test('--bits w8a8 --init: the written model is the trained integer network, its IBP-certified count reproduced by the plan', async () => {
    const out = path.join(dir, 'qa.onnx');
    const result = await arq('train', '--ibp', '--init', float, '--bits', 'w8a8', ...common, '--eps-start', '4/255', '--epochs', '1', '--calibration', '16', '--out', out, '--json');
    expect(result.code, result.stderr).toBe(0);
    expect(existsSync(path.join(dir, 'qa.policy.json'))).toBe(true);
    const sidecar = JSON.parse(readFileSync(path.join(dir, 'qa.json'), 'utf8'));
    expect(sidecar.settings).toMatchObject({ mode: 'quantized', eps: 4 / 255, epsStart: 4 / 255 });
    const model = await loadModel(out);
    // Other calibration flags: the grids still come from the file.
    const { policy, calibration } = await prepareQuantization(model, { bits: 'w8a8', data, sigma: 0.5, calibrationCount: 8, seed: 7 });
    const plan = await IntPlan.create(model.graph, policy, calibration);
    const test = await loadDataset(data, 'test');
    const eps = 4 / 255;
    const lo = test.images.map((x) => Math.max(x - eps, 0));
    const hi = test.images.map((x) => Math.min(x + eps, 1));
    const bounds = await plan.intervalBounds(lo, hi, test.count, 2);
    const out2 = bounds.values[bounds.values.length - 1];
    const logits = await plan.run(test.images, test.count, 2);
    const { certified, correct } = certifiedCount(out2.lo, out2.hi, logits, test.labels, 10);
    expect(correct / test.count).toBe(sidecar.test_acc_clean);
    expect(certified / test.count).toBe(sidecar.test_ibp_certified);
  });

  test('flags that do not fit say so before training', async () => {
    const out = path.join(dir, 'bad.onnx');
    const cases: [string[], RegExp][] = [
      [['--arch', 'ibp-small', '--float', '--epochs', '1'], /--ibp needs --eps/],
      [['--arch', 'ibp-small', '--eps', '4/255', '--epochs', '1'], /--ibp needs --float \(plain IBP\) or --bits\/--policy \(QA-IBP\)/],
      [['--arch', 'ibp-small', '--eps', '4/255', '--float', '--bits', 'w8a8', '--epochs', '1'], /--float trains the float network/],
      [['--arch', 'ibp-small', '--eps', '4/255', '--bits', 'w8a8', '--epochs', '1'], /QA-IBP fine-tunes a trained float network .* give --init/],
      [['--arch', 'mnist-cnn', '--eps', '4/255', '--float', '--epochs', '1'], /--arch ibp-small or ibp-medium, not mnist-cnn/],
      [['--arch', 'ibp-small', '--eps', '2', '--float', '--epochs', '1'], /--eps: expected a radius in \[0, 1\]/],
      [['--arch', 'ibp-small', '--eps', '4/255', '--float', '--epochs', '1', '--sigma', '0.25'], /--steps and --sigma do not apply to --ibp/],
      [['--arch', 'ibp-small', '--eps', '4/255', '--eps-start', '5/255', '--float', '--epochs', '1'], /--eps-start 5\/255 is above --eps 4\/255/],
    ];
    for (const [flags, message] of cases) {
      const result = await arq('train', '--ibp', '--data', data, ...flags, '--out', out);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toMatch(message);
    }
    const plain = await arq('train', '--arch', 'ibp-small', '--data', data, '--epochs', '1', '--eps', '4/255', '--sigma', '0', '--out', out);
    expect(plain.stderr).toMatch(/--eps applies to --ibp/);
    expect(existsSync(out)).toBe(false);
  });
});
