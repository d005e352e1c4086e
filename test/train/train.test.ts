import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { loadDataset, subset } from '../../src/data/index.js';
import { graphTensors } from '../../src/train/graph.js';
import { learningRate, train, type TrainOptions } from '../../src/train/train.js';

const dir = mkdtempSync(path.join(tmpdir(), 'arq-train-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function smallMnist(): Promise<Pick<TrainOptions, 'train' | 'test'>> {
  const all = await loadDataset('mnist:train', 'train');
  return { train: subset(all, Array.from({ length: 300 }, (_, i) => i)), test: subset(all, Array.from({ length: 100 }, (_, i) => 1000 + i)) };
}

describe('train()', () => {
  test('a run killed after an epoch and resumed from its checkpoint ends with the same weights', async () => {
    const data = await smallMnist();
    const base: TrainOptions = { ...data, arch: 'mnist-cnn', sigma: 0.25, epochs: 2, batch: 64, shift: 2, seed: 3, threads: 2 };
    const straight = await train(base);
    const checkpoint = path.join(dir, 'resume.json');
    const controller = new AbortController();
    await expect(train({ ...base, checkpoint, signal: controller.signal, onEpoch: () => controller.abort() })).rejects.toThrow();
    const resumed = await train({ ...base, checkpoint, resume: true });
    expect(resumed.history.map((r) => r.epoch)).toEqual([1, 2]);
    expect(resumed.history).toHaveLength(2);
    expect(graphTensors(resumed.graph)).toEqual(graphTensors(straight.graph));
    expect(resumed.history[1].trainLoss).toBe(straight.history[1].trainLoss);
    await expect(train({ ...base, lr: 0.01, checkpoint, resume: true })).rejects.toThrow(/different settings.*lr/);
  });

  test('noise training learns: loss falls over epochs', async () => {
    const data = await smallMnist();
    const result = await train({ ...data, arch: 'mnist-cnn', sigma: 0.25, epochs: 3, batch: 32, lr: 0.05, seed: 0, threads: 2 });
    expect(result.history[2].trainLoss).toBeLessThan(result.history[0].trainLoss);
    expect(result.history[2].testAccuracy).toBeGreaterThan(0.5);
  });

  test('learning-rate schedules', () => {
    const settings = { arch: 'mnist-cnn', init: undefined, width: 1, sigma: 0, epochs: 4, batch: 1, lr: 0.1, momentum: 0.9, weightDecay: 0, schedule: 'cosine', shift: 0, seed: 0, data: '' } as const;
    expect(learningRate(settings, 0, 100, 0)).toBeCloseTo(0.1, 12);
    expect(learningRate(settings, 50, 100, 2)).toBeCloseTo(0.05, 12);
    const step = { ...settings, schedule: 'step' } as const;
    expect([0, 1, 2, 3].map((epoch) => learningRate(step, 0, 1, epoch))).toEqual([0.1, 0.1, 0.1 * 0.1, 0.1 * 0.01]);
  });

  test('bad options are user errors naming the option', async () => {
    const data = await smallMnist();
    await expect(train({ ...data, arch: 'mnist-cnn', sigma: -1, epochs: 1 })).rejects.toThrow(/sigma/);
    await expect(train({ ...data, arch: 'mnist-cnn', sigma: 0, epochs: 0 })).rejects.toThrow(/epochs/);
    await expect(train({ ...data, arch: 'mnist-cnn', sigma: 0, epochs: 1, resume: true })).rejects.toThrow(/checkpoint/);
  });
});
