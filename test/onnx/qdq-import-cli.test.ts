/**
 * A QDQ file from the command line (the compiled dist/ through bin/arq.js): `--engine int` runs it on its own grids,
 * `--engine ort` runs it in ONNX Runtime, `arq compare` reports their agreement; and `--semantics ort`, which adds
 * the bias of int8 layers as ONNX Runtime rounds it, brings arq's own export closer to what ONNX Runtime computes.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { loadDataset } from '../../src/data/index.js';
import { compareWithOrt } from '../../src/engine/agreement.js';
import { modelFromBytes, type LoadedModel } from '../../src/onnx/model.js';
import { calibrate } from '../../src/quant/calibrate.js';
import { givenGridsSpec } from '../../src/engine/given-grids.js';
import { intPlanSpec } from '../../src/engine/int-plan.js';
import { uniformPolicy } from '../../src/quant/policy.js';
import { exportQdq } from '../../src/onnx/qdq.js';
import { arq as arqRun, root } from '../cli/run.js';

const arq = (...args: string[]) => arqRun(args);
const FIXTURE = path.join(root, 'test/fixtures/qdq/ort-u8-perchannel.onnx');
const MNIST_MODEL = path.join(root, 'models/mnist-cnn-s025.onnx');

describe('arq on a QDQ file', () => {
  test('predict --engine int uses the file\'s grids (no calibration) and gives ONNX Runtime\'s predictions; --bits is refused', async () => {
    const int = await arq('predict', '--model', FIXTURE, '--engine', 'int', '--data', 'mnist', '--max', '200', '--json');
    expect(int.stderr).toBe('');
    const ort = await arq('predict', '--model', FIXTURE, '--engine', 'ort', '--data', 'mnist', '--max', '200', '--json');
    const [a, o] = [JSON.parse(int.stdout), JSON.parse(ort.stdout)];
    expect(a.predictions).toEqual(o.predictions);
    expect(a.accuracy).toBeGreaterThan(0.95);
    const refused = await arq('predict', '--model', FIXTURE, '--engine', 'int', '--bits', 'w4a4', '--data', 'mnist', '--max', '5');
    expect(refused.code).not.toBe(0);
    expect(refused.stderr.trim()).toMatch(/^arq: --policy and --bits do not apply to .*ort-u8-perchannel\.onnx: it is a QDQ file/);
    const notQdq = await arq('predict', '--model', MNIST_MODEL, '--engine', 'int', '--semantics', 'ort', '--bits', 'w8a8', '--data', 'mnist', '--max', '5');
    expect(notQdq.stderr.trim()).toMatch(/^arq: --semantics ort applies to QDQ files; .*mnist-cnn-s025\.onnx has no QuantizeLinear/);
  });

  test('compare --json: counts, identical logits, and every disagreeing input listed', async () => {
    const { code, stdout, stderr } = await arq('compare', '--model', FIXTURE, '--data', 'mnist', '--max', '30', '--noisy', '3', '--json');
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const report = JSON.parse(stdout);
    expect(report.clean.inputs).toBe(30);
    expect(report.noisy.inputs).toBe(90);
    expect(report.clean.agree + report.noisy.agree + report.disagreements.length).toBe(120);
    expect(report.clean.identical).toBe(30);
    expect(report.semantics).toBe('arq');
    const text = await arq('compare', '--model', FIXTURE, '--data', 'mnist', '--max', '5', '--noisy', '1', '--quiet');
    expect(text.stdout).toMatch(/top-1 agree/);
    expect(text.stdout).toMatch(/noisy \(sigma 0\.25\)\s+5\s+/);
  });

  test('compare refuses a file that is not QDQ, naming it', async () => {
    const { code, stderr } = await arq('compare', '--model', MNIST_MODEL, '--data', 'mnist', '--max', '5');
    expect(code).not.toBe(0);
    expect(stderr.trim()).toMatch(/^arq: .*mnist-cnn-s025\.onnx: not a QDQ file/);
  });

  test('certify --engine ort and --engine int on the file draw the same noise and certify alike', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'arq-qdq-'));
    const run = (engine: string) => arq('certify', '--model', FIXTURE, '--engine', engine, '--data', 'mnist', '--max', '3', '--n0', '50', '--n', '400', '--out', path.join(dir, `${engine}.tsv`), '--quiet');
    for (const engine of ['int', 'ort']) expect((await run(engine)).code).toBe(0);
    const rows = (engine: string) => readFileSync(path.join(dir, `${engine}.tsv`), 'utf8').trim().split('\n').slice(1).map((l) => l.split('\t').slice(0, 4).join('\t'));
    expect(rows('int')).toEqual(rows('ort'));
  });
});

describe('--semantics ort on arq\'s own W8A8 export', () => {
  let file: LoadedModel;
  beforeAll(async () => {
    const model = modelFromBytes(readFileSync(MNIST_MODEL), MNIST_MODEL);
    const calibration = await calibrate(model.graph, await loadDataset('mnist:train', 'train', { limit: 256 }), { sigma: 0.25, count: 256, seed: 0 });
    file = modelFromBytes(exportQdq(model.graph, intPlanSpec(model.graph, uniformPolicy(model.graph, model.sha256, 8, 8), calibration)), 'w8a8.onnx');
  });

  test('moves the logits towards ONNX Runtime\'s (mean |difference| at least 10x smaller) and agrees on every noisy input', async () => {
    const data = await loadDataset('mnist:test', 'test', { limit: 100 });
    const asWritten = await compareWithOrt(file, data, { noisy: 10, threads: 2 });
    const ort = await compareWithOrt({ ...file, qdq: { ...file.qdq!, bias: 'ort' } }, data, { noisy: 10, threads: 2 });
    expect(ort.noisy.mean_logit_diff * 10).toBeLessThan(asWritten.noisy.mean_logit_diff);
    expect(ort.clean.agree + ort.noisy.agree).toBe(1100);
  });

  test('leaves a bias stored as int32 codes (ONNX Runtime\'s own files) as it is', () => {
    const fixture = modelFromBytes(readFileSync(FIXTURE), FIXTURE);
    expect(givenGridsSpec(fixture.graph, fixture.qdq!, { bias: 'ort' })).toEqual(givenGridsSpec(fixture.graph, fixture.qdq!));
  });
});
