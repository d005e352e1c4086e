import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { SmoothedClassifier } from '../../src/smoothing/smoothed.js';
import { createSampler } from '../../src/smoothing/sampler.js';
import type { EngineName } from '../../src/engine/classifier.js';
import { loadFixture } from '../support/fixtures.js';

// Hostile inputs and the life cycle of the smoothed classifier and its samplers, on every engine: bad images are
// rejected with one line naming the argument and the first bad index before any engine runs, and every promise
// settles, also around close().
const model = loadFixture('mnist_cnn');
const good = Float32Array.from({ length: 784 }, (_, i) => (i % 17) / 17);
const ENGINE_NAMES: readonly EngineName[] = ['float', 'ort'];

function withValueAt(index: number, value: number): Float32Array {
  const image = good.slice();
  image[index] = value;
  return image;
}

describe.each(ENGINE_NAMES)('SmoothedClassifier on the %s engine', (engine) => {
  test('rejects NaN, infinities and values far outside [0, 1], naming the first bad index', async () => {
    const smoothed = await SmoothedClassifier.create(model, { engine, sigma: 0.25, threads: 1, seed: 1 });
    try {
      for (const value of [NaN, Infinity, -Infinity, 1e30, -1e30, 255, -1.5]) {
        const all = new Float32Array(784).fill(value);
        await expect(smoothed.certify(all, { n: 100 })).rejects.toThrow(/^image: expected image values in \[-1, 2\] .*, got .* at index 0$/);
        await expect(smoothed.predict(withValueAt(300, value), { n: 100 })).rejects.toThrow(/^image: .* at index 300$/);
      }
      await expect(smoothed.certify(new Float32Array(783))).rejects.toThrow(/^image: expected a Float32Array of 784 values, got 783 values$/);
      await expect(smoothed.certify(new Float64Array(784) as unknown as Float32Array)).rejects.toThrow(/image: expected a Float32Array of 784 values/);
      // Slightly out-of-range values (unclipped noise) are still images.
      const certified = await smoothed.certify(withValueAt(5, 1.2), { n0: 10, n: 200 });
      expect(certified.samples).toBe(210);
    } finally {
      await smoothed.close();
    }
  });

  test('after close() every call rejects at once, close() twice is fine, calls in flight settle', async () => {
    const smoothed = await SmoothedClassifier.create(model, { engine, sigma: 0.25, threads: 1, seed: 2 });
    // Three chunks of samples: close() lands while the first is drawn, so the call must not go on to the next one.
    const inFlight = smoothed.certify(good, { n0: 10, n: 25_000 }).then(
      () => 'resolved',
      (error: Error) => error.message,
    );
    await smoothed.close();
    await smoothed.close();
    expect(await inFlight).toMatch(/sampler is closed/);
    await expect(smoothed.certify(good, { n: 100 })).rejects.toThrow(/^this SmoothedClassifier is closed; create a new one$/);
    await expect(smoothed.predict(good, { n: 100 })).rejects.toThrow(/closed/);
  }, 30_000);
});

describe.each(ENGINE_NAMES)('the %s sampler', (engine) => {
  test('rejects bad images and any call after close()', async () => {
    const sampler = await createSampler(model, engine, { sigma: 0.5, seed: 3, batch: 50, threads: 1 });
    await expect(sampler.sample(withValueAt(783, NaN), 0, 0, 10, false)).rejects.toThrow(/^image: .* got NaN at index 783$/);
    const { counts } = await sampler.sample(good, 0, 0, 10, false);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(10);
    const inFlight = sampler.sample(good, 0, 0, 5000, false).then(
      () => 'resolved',
      (error: Error) => error.message,
    );
    await sampler.close();
    await sampler.close();
    // The native plan finishes its job; the ONNX Runtime worker is gone, so its call rejects.
    expect(await inFlight).toMatch(engine === 'ort' ? /the ort sampler is closed/ : /resolved/);
    await expect(sampler.sample(good, 0, 0, 10, false)).rejects.toThrow(`the ${engine} sampler is closed`);
  }, 30_000);
});

test('an ONNX Runtime sampler whose model ONNX Runtime cannot load rejects and leaves no worker behind', async () => {
  // A graph arq imports, with bytes ONNX Runtime refuses: the worker's setup fails and must be terminated.
  const broken = { ...model, bytes: new Uint8Array([1, 2, 3]) };
  const ports = () => process.getActiveResourcesInfo().filter((name) => name === 'MessagePort').length;
  const before = ports();
  await expect(createSampler(broken, 'ort', { sigma: 0.5, seed: 3, batch: 50, threads: 1 })).rejects.toThrow(/ONNX Runtime could not load the model/);
  expect(ports()).toBe(before);
});

test('closing ONNX Runtime samplers while ONNX Runtime computes never aborts the process', () => {
  // onnxruntime-node aborts the process ("terminate called after throwing an instance of 'Napi::Error'") when its
  // worker is terminated inside run(); close() must stop the worker between batches instead. In a child node, so an
  // abort shows as its exit status; each round closes at a later moment of the sampling.
  const script = `(async () => {
const [root, rounds] = process.argv.slice(1);
const { readFileSync } = require('node:fs');
const { modelFromBytes } = await import(root + '/dist/onnx/model.js');
const { createSampler } = await import(root + '/dist/smoothing/sampler.js');
const file = root + '/test/fixtures/mnist_cnn.onnx';
const model = modelFromBytes(readFileSync(file), file);
const image = Float32Array.from({ length: 784 }, (_, i) => (i % 17) / 17);
for (let r = 0; r < Number(rounds); r++) {
  const sampler = await createSampler(model, 'ort', { sigma: 0.5, seed: 3, batch: 50, threads: 1 });
  const inFlight = sampler.sample(image, 0, 0, 100000, false).then(() => 'resolved', (error) => error.message);
  await new Promise((resolve) => setTimeout(resolve, 7 * r));
  await sampler.close();
  const settled = await inFlight;
  if (settled !== 'the ort sampler is closed') throw new Error('round ' + r + ': ' + settled);
}
console.log('done');
})();`;
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
  const run = spawnSync(process.execPath, ['-e', script, root, '6'], { encoding: 'utf8', timeout: 60_000 });
  expect({ status: run.status, signal: run.signal, stdout: run.stdout.trim(), stderr: run.stderr }).toEqual({ status: 0, signal: null, stdout: 'done', stderr: '' });
}, 60_000);
