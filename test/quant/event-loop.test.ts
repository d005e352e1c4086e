// prepareQuantization and building an integer plan for a smoothed classifier must never hold the event loop for more
// than 50 ms: an embedding server keeps answering while a quantization is calibrated. A 1 ms interval timer probes the
// loop during the call. On a busy machine a gap between two ticks is mostly time the main thread spent waiting for a
// core, which no library can prevent; where Linux reports the thread's CPU time (/proc/self/task/TID/schedstat) the
// test therefore holds the main thread's CPU time within each gap to the limit (the work that held the loop), and
// elsewhere the gap itself. Either way it takes the smallest of three runs' longest spans, so that one unlucky run
// (a descheduling, a collection) does not decide, while work that blocks the loop shows in every run.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { writeNpy } from '../../src/data/index.js';
import { prepareQuantization, type QuantizationOptions } from '../../src/quant/quantize.js';
import { calibrate } from '../../src/quant/calibrate.js';
import { IntPlan } from '../../src/engine/int-plan.js';
import { uniformPolicy } from '../../src/quant/policy.js';
import { SmoothedClassifier } from '../../src/smoothing/smoothed.js';
import { makeDataset } from '../../src/data/index.js';
import type { LoadedModel } from '../../src/onnx/model.js';
import { loadFixture } from '../support/fixtures.js';

const LIMIT_MS = 50;
const RUNS = 3;

const SCHEDSTAT = `/proc/self/task/${process.pid}/schedstat`;
const hasSchedstat = existsSync(SCHEDSTAT);

/** Milliseconds the main thread has spent on a CPU (schedstat's first field, in ns). */
function mainThreadCpuMs(): number {
  return Number(readFileSync(SCHEDSTAT, 'utf8').split(' ')[0]) / 1e6;
}

/** The longest span between two probe ticks during `call`: wall-clock, and on the main thread's CPU where known. */
async function longestSpan(call: () => Promise<unknown>): Promise<{ wall: number; cpu: number }> {
  let lastWall = performance.now();
  let lastCpu = hasSchedstat ? mainThreadCpuMs() : 0;
  const longest = { wall: 0, cpu: 0 };
  const probe = setInterval(() => {
    const wall = performance.now();
    const cpu = hasSchedstat ? mainThreadCpuMs() : wall;
    longest.wall = Math.max(longest.wall, wall - lastWall);
    longest.cpu = Math.max(longest.cpu, cpu - lastCpu);
    lastWall = wall;
    lastCpu = cpu;
  }, 1);
  try {
    await call();
    // The span that ends with the call's last synchronous step is only seen at the next tick.
    await new Promise((resolve) => setTimeout(resolve, 5));
  } finally {
    clearInterval(probe);
  }
  return longest;
}

async function longestSpans(call: () => Promise<unknown>): Promise<{ wall: number; cpu: number }[]> {
  const spans: { wall: number; cpu: number }[] = [];
  for (let run = 0; run < RUNS; run++) spans.push(await longestSpan(call));
  return spans;
}

function expectResponsive(spans: { wall: number; cpu: number }[]): void {
  const what = spans.map((s) => `${s.wall.toFixed(1)} ms wall, ${hasSchedstat ? `${s.cpu.toFixed(1)} ms on the CPU` : 'no CPU time'}`).join('; ');
  expect(Math.min(...spans.map((s) => s.cpu)), `longest spans between ticks per run: ${what}`).toBeLessThan(LIMIT_MS);
}

describe('prepareQuantization keeps the event loop responsive', () => {
  let dir: string;
  beforeAll(async () => {
    // CIFAR-shaped calibration data for ResNet-20: 8192 uint8 images as an npy pair (25 MB to decode).
    dir = mkdtempSync(path.join(tmpdir(), 'arq-event-loop-'));
    const count = 8192;
    const images = Uint8Array.from({ length: count * 3072 }, (_, i) => (i * 2654435761) >>> 24);
    await writeNpy(path.join(dir, 'x.npy'), images, [count, 3, 32, 32]);
    await writeNpy(path.join(dir, 'y.npy'), Int32Array.from({ length: count }, (_, i) => i % 10), [count]);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('MNIST CNN calibrated on the 60,000 MNIST training images', async () => {
    const model = loadFixture('mnist_cnn');
    expectResponsive(await longestSpans(() => prepareQuantization(model, { bits: 'w4a8', data: 'mnist', sigma: 0.25, threads: 1 })));
  });

  test('ResNet-20 calibrated on CIFAR-shaped npy images', async () => {
    const data = `npy:${path.join(dir, 'x.npy')},${path.join(dir, 'y.npy')}`;
    const model = loadFixture('resnet20');
    const options: QuantizationOptions = { bits: 'w4a8', data, calibrationData: data, calibrationCount: 64, sigma: 0.25, threads: 1 };
    expectResponsive(await longestSpans(() => prepareQuantization(model, options)));
  });
});

describe('building an integer plan keeps the event loop responsive', () => {
  test('a smoothed classifier on MobileNetV2 under a new policy (every clip search runs)', async () => {
    const spans: { wall: number; cpu: number }[] = [];
    for (let run = 0; run < RUNS; run++) {
      // A fresh import and calibration each run: weight codes and grids are memoised per weight array and calibration.
      const model = loadFixture('mobilenetv2');
      const images = Float32Array.from({ length: 8 * 3072 }, (_, i) => (i * 0.6180339887) % 1);
      const calibration = await calibrate(model.graph, makeDataset({ name: 'synthetic', shape: [3, 32, 32], images, labels: new Int32Array(8) }), { sigma: 0.25, count: 8, threads: 1 });
      const quantization = { policy: uniformPolicy(model.graph, model.sha256, 3, 6), calibration };
      spans.push(await longestSpan(async () => (await SmoothedClassifier.create(model, { engine: 'int', quantization, sigma: 0.25, threads: 1 })).close()));
    }
    expectResponsive(spans);
  });

  test('IntPlan.create builds the plan IntPlan.build does', async () => {
    const model = loadFixture('resnet20');
    const images = Float32Array.from({ length: 4 * 3072 }, (_, i) => (i * 0.6180339887) % 1);
    const calibration = await calibrate(model.graph, makeDataset({ name: 'synthetic', shape: [3, 32, 32], images, labels: new Int32Array(4) }), { sigma: 0.25, count: 4, threads: 1 });
    const policy = uniformPolicy(model.graph, model.sha256, 4, 5);
    const created = await IntPlan.create(model.graph, policy, calibration);
    const built = IntPlan.build(loadFixture('resnet20').graph, policy, calibration);
    expect(Array.from(await created.run(images, 4, 1))).toEqual(Array.from(await built.run(images, 4, 1)));
  });
});
