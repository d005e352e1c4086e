// The output rule at the command line (util/files.ts checkOutputs: never an input, never an existing file without
// --overwrite, a device only where it works, an unwritable directory named with its errno), checked before any
// long work; and the small promises of issue 13: repeated flags, one alpha range, a damaged checkpoint named, no
// ONNX Runtime log lines on stderr, --seed described as it works.
import { chmodSync, copyFileSync, linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { onnx } from '../../src/onnx/proto.js';
import { idxImages, idxLabels } from '../data/helpers.js';
import { arq, asUnprivileged, nullDevice, root } from './run.js';

const dir = mkdtempSync(path.join(tmpdir(), 'arq-cli-out-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
// Reachable by the unprivileged user, with one directory nobody may write in.
chmodSync(dir, 0o755);
const readOnly = path.join(dir, 'read-only');
mkdirSync(readOnly, { mode: 0o555 });
chmodSync(readOnly, 0o555);

const model = path.join(dir, 'model.onnx');
copyFileSync(path.join(root, 'models/mnist-cnn-s025.onnx'), model);
const images = path.join(dir, 'images');
const labels = path.join(dir, 'labels');
writeFileSync(images, idxImages(8, 28, 28));
writeFileSync(labels, idxLabels([0, 1, 2, 3, 4, 5, 6, 7]));
const data = `idx:${images},${labels}`;
const trainFlags = ['train', '--arch', 'mnist-cnn', '--data', data, '--sigma', '0.25', '--epochs', '1', '--batch', '4'];

const oneLine = (stderr: string) => {
  expect(stderr.endsWith('\n') && stderr.indexOf('\n') === stderr.length - 1, `one line on stderr: ${JSON.stringify(stderr)}`).toBe(true);
  return stderr.trim();
};

describe('outputs never replace inputs or existing files', () => {
  test('quantize --out that is a hard link to its --model is refused before calibration, and the model is intact', async () => {
    const link = path.join(dir, 'link.onnx');
    linkSync(model, link);
    const before = readFileSync(model);
    const result = await arq(['quantize', '--model', model, '--bits', 'w8a8', '--data', data, '--calibration', '4', '--out', link, '--overwrite']);
    expect(result.code).not.toBe(0);
    expect(oneLine(result.stderr)).toBe(`arq: --out ${link}: is the input ${model} (the same file): writing it would destroy the input; choose another path`);
    expect(readFileSync(model).equals(before)).toBe(true);
  });

  test('predict --logits: not over the model nor an existing file without --overwrite; a device such as /dev/null works', async () => {
    const common = ['predict', '--model', model, '--data', data];
    const overModel = await arq([...common, '--logits', model]);
    expect(oneLine(overModel.stderr)).toBe(`arq: --logits ${model}: is the input ${model} (the same file): writing it would destroy the input; choose another path`);
    const existing = path.join(dir, 'existing.npy');
    writeFileSync(existing, 'keep me');
    const noOverwrite = await arq([...common, '--logits', existing]);
    expect(oneLine(noOverwrite.stderr)).toBe(`arq: --logits ${existing}: exists; pass --overwrite to replace it, or choose another path`);
    expect(readFileSync(existing, 'utf8')).toBe('keep me');
    const device = nullDevice(dir);
    const toDevice = await arq([...common, '--logits', device, '--json']);
    expect(toDevice.code).toBe(0);
    expect(JSON.parse(toDevice.stdout).count).toBe(8);
    expect(statSync(device).isCharacterDevice()).toBe(true);
  });

  test('train refuses its own data as --out and a --resume without checkpoint, before the first step', async () => {
    const overData = await arq([...trainFlags, '--out', labels]);
    expect(oneLine(overData.stderr)).toBe(`arq: --out ${labels}: is the input ${labels} (the same file): writing it would destroy the input; choose another path`);
    const out = path.join(dir, 'trained.onnx');
    const resume = await arq([...trainFlags, '--out', out, '--resume']);
    expect(oneLine(resume.stderr)).toBe(`arq: --resume: no checkpoint ${out}.checkpoint.json to continue from (run without --resume to start training)`);
  });

  test('certify --out a device such as /dev/null is refused clearly (FILE.summary.json goes beside it)', async () => {
    const device = nullDevice(dir);
    const certify = await arq(['certify', '--model', model, '--data', data, '--out', device]);
    expect(oneLine(certify.stderr)).toBe(`arq: --out ${device}: is not a regular file (a device or pipe), and this command writes files beside its output; give a file path`);
  });
});

// Root writes anywhere, so these run arq as an unprivileged user (asUnprivileged), where the checkout lets one run it.
const unprivileged = asUnprivileged();
const runsUnprivileged = (await arq(['--version'], unprivileged)).code === 0;

describe.skipIf(!runsUnprivileged)('an unwritable output directory is named with its errno before any work', () => {
  test('train --out and search --out in a read-only directory: EACCES, not ENOENT, and no training step', async () => {
    const unwritable = await arq([...trainFlags, '--out', path.join(readOnly, 'm.onnx')], unprivileged);
    expect(oneLine(unwritable.stderr)).toBe(`arq: --out ${path.join(readOnly, 'm.onnx')}: cannot write in ${readOnly}: permission denied (EACCES)`);
    expect(unwritable.stdout).toBe('');
    const search = await arq(['search', '--model', model, '--data', data, '--out', path.join(readOnly, 'run')], unprivileged);
    expect(oneLine(search.stderr)).toBe(`arq: --out ${path.join(readOnly, 'run')}: cannot write in ${readOnly}: permission denied (EACCES)`);
  });
});

describe('flags and messages', () => {
  test('a repeated scalar flag is an error naming it; alpha has one range, (0, 1), in certify and smooth-predict', async () => {
    const repeated = await arq(['smooth-predict', '--model', model, '--data', data, '-n', '1000', '-n', '1']);
    expect(oneLine(repeated.stderr)).toBe('arq: -n was given more than once (-n 1000, then -n 1): give it once');
    for (const command of [['certify', '--out', path.join(dir, 'c.tsv')], ['smooth-predict']]) {
      const alpha = await arq([...command, '--model', model, '--data', data, '--alpha', '1']);
      expect(oneLine(alpha.stderr)).toBe('arq: alpha: expected a number in (0, 1), got 1');
    }
  });

  test('certify --help says --seed seeds the smoothing noise', async () => {
    const help = await arq(['certify', '--help']);
    expect(help.stdout.replace(/\s+/g, ' ')).toContain('--seed seed of the Gaussian noise of smoothing (and of the calibration noise with --engine int)');
  });

  test('a damaged train checkpoint is an error naming the file', async () => {
    const checkpoint = path.join(dir, 'damaged.checkpoint.json');
    writeFileSync(checkpoint, JSON.stringify({ format: 'arq-train-checkpoint/1' }));
    const result = await arq(['train', '--arch', 'mnist-cnn', '--data', data, '--sigma', '0.25', '--epochs', '1', '--out', path.join(dir, 'r.onnx'), '--checkpoint', checkpoint, '--resume']);
    expect(oneLine(result.stderr)).toBe(`arq: ${checkpoint}: corrupt checkpoint: settings, history, tensors and momenta (base64 float32 arrays) are required`);
  });

  test("ONNX Runtime's own warnings (an unused initializer) stay off stderr", async () => {
    const proto = onnx.ModelProto.decode(readFileSync(model));
    proto.graph!.initializer!.push(onnx.TensorProto.create({ name: 'unused', dataType: onnx.TensorProto.DataType.FLOAT, dims: [2], floatData: [1, 2] }));
    const unused = path.join(dir, 'unused.onnx');
    writeFileSync(unused, onnx.ModelProto.encode(proto).finish());
    const result = await arq(['predict', '--model', unused, '--data', data, '--engine', 'ort']);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
  });
});
