// `arq train --resume` as a user runs it (bin/arq.js over the compiled dist/): a run killed after its first epoch
// (made here through the API, which stops deterministically after an epoch, with the settings the command line
// gives) is finished by the command with --resume, and ends with the model a straight run writes.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { loadDataset } from '../../src/data/index.js';
import { loadModel } from '../../src/onnx/model.js';
import { decodeModel } from '../../src/onnx/import.js';
import { train } from '../../src/train/train.js';
import { fixturePath } from '../support/fixtures.js';
import { arq as arqRun, randomMnistNpy } from './run.js';

const dir = mkdtempSync(path.join(tmpdir(), 'arq-cli-train-resume-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const arq = (...args: string[]) => arqRun(args);

const randomMnist = () => randomMnistNpy(dir, 6);

/** The initializers of an ONNX file, by name. */
function weights(file: string): Record<string, string> {
  const graph = decodeModel(readFileSync(file), file).graph!;
  return Object.fromEntries(graph.initializer!.map((t) => [t.name ?? '', Buffer.from(t.rawData ?? new Uint8Array()).toString('hex')]));
}

describe('arq train --resume', () => {
  test('finishes a run killed after an epoch with the weights and history of a straight run', async () => {
    const data = randomMnist();
    const model = fixturePath('grey_repeat');
    const flags = ['train', '--init', model, '--data', data, '--sigma', '0.25', '--epochs', '2', '--batch', '16', '--threads', '2', '--json'];
    const straight = await arq(...flags, '--out', path.join(dir, 'straight.onnx'));
    expect(straight.code, straight.stderr).toBe(0);

    const out = path.join(dir, 'resumed.onnx');
    const controller = new AbortController();
    await expect(train({
      init: await loadModel(model), train: await loadDataset(data, 'train'), sigma: 0.25, epochs: 2, batch: 16, lr: 0.05, momentum: 0.9, weightDecay: 5e-4,
      schedule: 'cosine', shift: 0, width: 1, seed: 0, threads: 2, checkpoint: `${out}.checkpoint.json`, signal: controller.signal, onEpoch: () => controller.abort(),
    })).rejects.toThrow();
    const killed = JSON.parse(readFileSync(`${out}.checkpoint.json`, 'utf8')) as { history: { trainLoss: number }[] };
    expect(killed.history).toHaveLength(1);
    // A mark only the checkpoint holds: a resume that trained epoch 1 again would lose it.
    const firstLoss = killed.history[0].trainLoss;
    killed.history[0].trainLoss = 1234.5;
    writeFileSync(`${out}.checkpoint.json`, JSON.stringify(killed));

    const resumed = await arq(...flags, '--out', out, '--resume');
    expect(resumed.code, resumed.stderr).toBe(0);
    const history = (file: string) => (JSON.parse(readFileSync(file, 'utf8')) as { history: { epoch: number; trainLoss: number }[] }).history;
    expect(history(path.join(dir, 'resumed.json')).map((r) => r.epoch)).toEqual([1, 2]);
    const straightLosses = history(path.join(dir, 'straight.json')).map((r) => r.trainLoss);
    expect(firstLoss).toBe(straightLosses[0]);
    expect(history(path.join(dir, 'resumed.json')).map((r) => r.trainLoss)).toEqual([1234.5, straightLosses[1]]);
    expect(weights(out)).toEqual(weights(path.join(dir, 'straight.onnx')));
  });
});
