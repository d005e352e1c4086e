import { expect, test } from 'vitest';
import { makeDataset } from '../../src/data/index.js';
import { calibrate } from '../../src/quant/calibrate.js';
import { loadFixture } from '../support/fixtures.js';

// Calibration data that are not images (NaN, infinities, values far outside [0, 1]) are rejected, naming the dataset,
// the image and the index, before the float plan observes anything.
test('calibrate rejects calibration images that hold values other than image values', async () => {
  const { graph } = loadFixture('tiny_mlp');
  const images = Float32Array.from({ length: 4 * 64 }, (_, i) => (i % 13) / 13);
  for (const value of [NaN, Infinity, -1e30, 300]) {
    const bad = images.slice();
    bad[2 * 64 + 9] = value;
    const data = makeDataset({ name: 'hostile', shape: [1, 8, 8], images: bad, labels: new Int32Array(4) });
    await expect(calibrate(graph, data, { sigma: 0.25, count: 4, threads: 1 })).rejects.toThrow(/^hostile: expected image values in \[-1, 2\] .* at image 2 index 9$/);
  }
});
