// `arq train --init` and `arq train --qat --init` on a PyTorch-exported model with F.pad and a channel repeat, run as
// a user runs them (bin/arq.js over the compiled dist/), and `arq predict --engine int` on the QAT output.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { decodeModel } from '../../src/onnx/import.js';
import { fixturePath } from '../support/fixtures.js';
import { arq as arqRun, randomMnistNpy } from './run.js';

const dir = mkdtempSync(path.join(tmpdir(), 'arq-cli-train-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const arq = (...args: string[]) => arqRun(args);

const randomMnist = () => randomMnistNpy(dir, 4);

const operators = (file: string) => decodeModel(readFileSync(file), file).graph!.node!.map((n) => n.opType ?? '').sort();

describe('arq train on a model it imports', () => {
  const data = randomMnist();
  const model = fixturePath('grey_repeat');

  test('--init: float fine-tuning writes the model with its own operators', async () => {
    const out = path.join(dir, 'float.onnx');
    const result = await arq('train', '--init', model, '--data', data, '--test-data', data, '--sigma', '0.25', '--epochs', '1', '--batch', '16', '--threads', '2', '--out', out, '--json');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(operators(out)).toEqual(expect.arrayContaining(['Pad', 'Tile', 'Sub', 'Mul', 'MaxPool', 'AveragePool']));
    expect(JSON.parse(readFileSync(path.join(dir, 'float.json'), 'utf8')).settings.init).toMatch(/^[0-9a-f]{64}$/);
  });

  test('--qat: the integer engine on the output reproduces the trained network without calibrating again', async () => {
    const out = path.join(dir, 'w4a4.onnx');
    const result = await arq('train', '--qat', '--init', model, '--bits', 'w4a4', '--data', data, '--test-data', data, '--sigma', '0.25', '--steps', '3', '--batch', '8', '--calibration', '16', '--threads', '2', '--out', out, '--json');
    expect(result.code, result.stderr).toBe(0);
    expect(operators(out)).toEqual(operators(model).filter((op) => !['Cast', 'Concat', 'Constant', 'ConstantOfShape', 'Reshape', 'Slice', 'Transpose', 'Expand'].includes(op)));
    const sidecar = JSON.parse(readFileSync(path.join(dir, 'w4a4.json'), 'utf8'));
    // Other calibration flags than training's: the grids still come from the file.
    const predict = await arq('predict', '--model', out, '--data', data, '--engine', 'int', '--bits', 'w4a4', '--sigma', '0.5', '--calibration', '8', '--seed', '9', '--json');
    expect(predict.code, predict.stderr).toBe(0);
    expect(JSON.parse(predict.stdout).accuracy).toBe(sidecar.test_accuracy.qat.clean);
  });

  test('--max: plain and QAT training take only the first N images, and the sidecar says so', async () => {
    const out = path.join(dir, 'first8.onnx');
    const plain = await arq('train', '--init', model, '--data', data, '--max', '8', '--sigma', '0.25', '--epochs', '1', '--batch', '4', '--threads', '2', '--out', out, '--json');
    expect(plain.code, plain.stderr).toBe(0);
    expect(JSON.parse(readFileSync(path.join(dir, 'first8.json'), 'utf8')).settings.data).toBe(`${data}[:8]`);
    // One epoch of 8 images in batches of 4 is 2 steps (the whole 32 would be 8).
    const qat = await arq('train', '--qat', '--init', model, '--bits', 'w8a8', '--data', data, '--max', '8', '--sigma', '0.25', '--epochs', '1', '--batch', '4', '--calibration', '8', '--threads', '2', '--out', path.join(dir, 'first8-qat.onnx'), '--json');
    expect(qat.code, qat.stderr).toBe(0);
    expect(JSON.parse(qat.stdout).steps).toBe(2);
  });

  test('a run that could not write its result fails before training', async () => {
    const missing = await arq('train', '--qat', '--init', model, '--bits', 'w4a4', '--data', data, '--sigma', '0.25', '--steps', '1', '--out', path.join(dir, 'no', 'q.onnx'));
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/--out .*no\/q\.onnx: no such directory /);
    const overwrite = await arq('train', '--init', model, '--data', data, '--sigma', '0.25', '--epochs', '1', '--out', model);
    expect(overwrite.stderr).toMatch(/--out .*grey_repeat\.onnx: is the input /);
    const resume = await arq('train', '--init', model, '--data', data, '--sigma', '0.25', '--epochs', '1', '--resume', '--out', path.join(dir, 'r.onnx'));
    expect(resume.stderr).toMatch(/--resume: no checkpoint .*r\.onnx\.checkpoint\.json to continue from/);
    expect(existsSync(path.join(dir, 'r.onnx'))).toBe(false);
  });
});
