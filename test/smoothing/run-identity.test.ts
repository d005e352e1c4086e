// The resume identity in the library (smoothing/run-identity.ts): what it records for each engine, and that a library
// user resumes a file `arq certify` wrote, because both assemble the identity there; a changed identity is refused.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { loadDataset, selectionReach } from '../../src/data/index.js';
import { loadModel } from '../../src/onnx/model.js';
import { settingsPath } from '../../src/smoothing/results.js';
import { openSettingsFile, runIdentity } from '../../src/smoothing/run-identity.js';
import { certifyDataset } from '../../src/smoothing/run.js';
import { createSampler } from '../../src/smoothing/sampler.js';
import { arq } from '../cli/run.js';
import { idxImages, idxLabels } from '../data/helpers.js';
import { fixturePath } from '../support/fixtures.js';

const dir = mkdtempSync(path.join(tmpdir(), 'arq-identity-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('runIdentity', () => {
  const model = { sha256: 'a'.repeat(64) };
  const calibration = { settings: { sigma: 0.25, count: 8, seed: 0, data: 'mnist:train' } };

  test('float, a uniform shorthand, a policy by its layers, a QDQ file by how its biases are read', () => {
    expect(runIdentity({ model, engine: 'float', seed: 7 })).toEqual({ seed: 7, model: model.sha256, engine: 'float', policy: null, calibration: null });
    const policy = { layers: [{ name: 'a', wbits: 4, abits: 8 }, { name: 'b', wbits: 4, abits: 8 }] };
    expect(runIdentity({ model, engine: 'int', seed: 0, quantization: { policy, calibration }, bits: 'W4A8' })).toMatchObject({ policy: 'w4a8', calibration: calibration.settings });
    expect(runIdentity({ model, engine: 'int', seed: 0, quantization: { policy, calibration } }).policy).toBe(JSON.stringify(policy.layers));
    const qdq = { ...model, qdq: { bias: 'ort' } } as unknown as Parameters<typeof runIdentity>[0]['model'];
    expect(runIdentity({ model: qdq, engine: 'int', seed: 0 }).policy).toBe('qdq:ort');
    expect(runIdentity({ model: qdq, engine: 'ort', seed: 0 }).policy).toBeNull();
    // A QDQ file that does not say how its biases are read: its own (`file`).
    const plain = { ...model, qdq: {} } as unknown as Parameters<typeof runIdentity>[0]['model'];
    expect(runIdentity({ model: plain, engine: 'int', seed: 0 }).policy).toBe('qdq:file');
  });
});

describe('the settings file of a results file', () => {
  test('an existing file needs resume or overwrite; a resumed one needs its settings file, with equal settings', () => {
    const out = path.join(dir, 'x.tsv');
    writeFileSync(out, 'idx\n');
    expect(() => openSettingsFile(out, {})).toThrow(`${out} exists: resume it or overwrite it`);
    expect(() => openSettingsFile(out, { resume: true }).record({ a: 1 }, { a: 1 }, 1)).toThrow(`cannot resume ${out}: its settings file ${settingsPath(out)} is missing`);
    openSettingsFile(out, { overwrite: true }).record({ a: 1, b: null }, { a: 1, b: null, threads: 2 }, 0);
    expect(JSON.parse(readFileSync(settingsPath(out), 'utf8'))).toEqual({ compared: { a: 1, b: null }, settings: { a: 1, b: null, threads: 2 } });
    expect(() => openSettingsFile(out, { resume: true }).record({ a: 2 }, {}, 1)).toThrow(`cannot resume ${out}: it was written with different settings: a 1 (now 2)`);
    // absent and null are the same setting
    expect(() => openSettingsFile(out, { resume: true }).record({ a: 1 }, {}, 1)).not.toThrow();
    writeFileSync(settingsPath(out), '{');
    expect(() => openSettingsFile(out, { resume: true })).toThrow(/^cannot resume: .*x\.settings\.json is not a valid settings file/);
  });

  test('every differing setting is named; a settings file without `compared` settings is refused', () => {
    const out = path.join(dir, 'y.tsv');
    writeFileSync(out, 'idx\n');
    openSettingsFile(out, { overwrite: true }).record({ a: 1, b: 'x', c: 3 }, {}, 0);
    expect(() => openSettingsFile(out, { resume: true }).record({ a: 2, b: 'z', c: 3 }, {}, 1)).toThrow(`cannot resume ${out}: it was written with different settings: a 1 (now 2), b "x" (now "z")`);
    for (const text of ['{"settings":{}}', '{"compared":null}', '{"compared":3}']) {
      writeFileSync(settingsPath(out), text);
      expect(() => openSettingsFile(out, { resume: true })).toThrow(`cannot resume: ${settingsPath(out)} is not a valid settings file (no compared settings)`);
    }
  });

  test('a settings file is read only to resume an existing results file, and compared only when lines are kept', () => {
    const out = path.join(dir, 'z.tsv');
    // A stale, broken settings file beside no results file: a fresh start, resumed or not, replaces it.
    writeFileSync(settingsPath(out), '{');
    expect(() => openSettingsFile(out, { resume: true }).record({ a: 1 }, { a: 1 }, 0)).not.toThrow();
    writeFileSync(settingsPath(out), '{');
    writeFileSync(out, 'idx\n');
    // Overwriting never reads it.
    expect(() => openSettingsFile(out, { overwrite: true }).record({ a: 1 }, { a: 1 }, 0)).not.toThrow();
    // Resuming a file with no finished line keeps nothing, so other settings start it afresh.
    expect(() => openSettingsFile(out, { resume: true }).record({ a: 2 }, { a: 2 }, 0)).not.toThrow();
    expect(JSON.parse(readFileSync(settingsPath(out), 'utf8'))).toEqual({ compared: { a: 2 }, settings: { a: 2 } });
  });
});

test('a library user resumes what `arq certify` wrote, and not with another seed', async () => {
  const images = path.join(dir, 'images');
  const labels = path.join(dir, 'labels');
  writeFileSync(images, idxImages(4, 28, 28));
  writeFileSync(labels, idxLabels([0, 1, 2, 3]));
  const spec = `idx:${images},${labels}`;
  const out = path.join(dir, 'c.tsv');
  const cli = await arq(['certify', '--model', fixturePath('mnist_cnn'), '--data', spec, '--n0', '10', '--n', '100', '--max', '2', '--seed', '5', '--threads', '1', '--out', out, '--json']);
  expect({ code: cli.code, stderr: cli.stderr }).toEqual({ code: 0, stderr: '' });
  expect(existsSync(out)).toBe(true);

  const model = await loadModel(fixturePath('mnist_cnn'));
  const dataset = await loadDataset(spec, 'test', { limit: selectionReach(1, 4) });
  const run = async (seed: number) => {
    const sampler = await createSampler(model, 'float', { sigma: 0.25, seed, batch: 400, threads: 1 });
    try {
      return await certifyDataset({ sampler, dataset, out, identity: runIdentity({ model, engine: 'float', seed }), n0: 10, n: 100, max: 4, resume: true });
    } finally {
      await sampler.close();
    }
  };
  await expect(run(6)).rejects.toThrow(`cannot resume ${out}: it was written with different settings: seed 5 (now 6)`);
  const resumed = await run(5);
  expect(resumed.resumed).toBe(2);
  expect(resumed.rows.map((row) => row.idx)).toEqual([0, 1, 2, 3]);
});
