// The CLI as a user runs it (test/cli/run.ts): info, predict, quantize, certify, smooth-predict, bench, search.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { decodeNpy } from '../../src/data/index.js';
import { GraphBuilder } from '../../src/train/architectures.js';
import { exportTrainGraph } from '../../src/train/export.js';
import { fixturePath } from '../support/fixtures.js';
import { arq as arqRun, root } from './run.js';

const arq = (...args: string[]) => arqRun(args);

describe('arq info', () => {
  test('prints layers, MACs and parameters', async () => {
    const { code, stdout } = await arq('info', fixturePath('resnet20'));
    expect(code).toBe(0);
    expect(stdout).toMatch(/22 quantizable layers/);
  });

  test('--json follows the documented fields', async () => {
    const { stdout } = await arq('info', fixturePath('mnist_cnn'), '--json');
    const info = JSON.parse(stdout);
    expect(info.layers).toHaveLength(4);
    expect(Object.keys(info.layers[0])).toEqual(expect.arrayContaining(['name', 'op', 'macs', 'params']));
    expect(info.macs).toBe(info.layers.reduce((s: number, l: { macs: number }) => s + l.macs, 0));
  });

  test('with a policy, --json adds its measured time per image beside W8A8\'s, the ratio of the two, and how they were measured', async () => {
    const { code, stdout } = await arq('info', fixturePath('mnist_cnn'), '--bits', 'w4a4', '--threads', '1', '--batch', '16', '--json');
    expect(code).toBe(0);
    const info = JSON.parse(stdout);
    expect(info.bitops_percent).toBeCloseTo(100 * 16 / 1024, 12);
    const { time } = info;
    expect(time).toMatchObject({ engine: 'int', batch: 16, threads: 1, repeats: 5 });
    expect(['scalar', 'avx2', 'avx512vnni']).toContain(time.isa);
    for (const field of ['seconds_per_image', 'w8a8_seconds_per_image', 'images_per_second', 'time_vs_w8a8', 'bitops_vs_w8a8', 'round_ms']) {
      expect(Number.isFinite(time[field]) && time[field] > 0, field).toBe(true);
    }
    for (const field of ['seconds_per_image_range', 'w8a8_seconds_per_image_range', 'time_vs_w8a8_range']) {
      expect(time[field].every((x: number) => Number.isFinite(x) && x > 0), field).toBe(true);
    }
    // Both ratios come from the printed figures: the two measured times, and BitOps over W8A8's 6.25%.
    expect(time.time_vs_w8a8).toBe(time.seconds_per_image / time.w8a8_seconds_per_image);
    expect(time.images_per_second).toBe(1 / time.seconds_per_image);
    expect(time.bitops_vs_w8a8).toBeCloseTo(0.25, 12);
    expect(time.kernels).toBeTypeOf('string');
  });

  test('prints the time and both ratios to W8A8; --no-time and a model without a policy measure nothing', async () => {
    const { code, stdout } = await arq('info', fixturePath('mnist_cnn'), '--bits', 'w2a8', '--threads', '1');
    expect(code).toBe(0);
    expect(stdout).toMatch(/time per image on this CPU \(integer engine, \w+, batch 64, 1 thread, median of 5 rounds\): [\d.]+ µs .*; W8A8 [\d.]+ µs/);
    expect(stdout).toMatch(/vs W8A8: [\d.]+x the time \(rounds [\d.]+ - [\d.]+\) for 0\.25x the BitOps: BitOps is a model of arithmetic, not time on this CPU/);
    const skipped = await arq('info', fixturePath('mnist_cnn'), '--bits', 'w2a8', '--no-time', '--json');
    expect(JSON.parse(skipped.stdout).time).toBeUndefined();
    expect(JSON.parse(skipped.stdout).bitops_percent).toBeGreaterThan(0);
    expect(JSON.parse((await arq('info', fixturePath('mnist_cnn'), '--json')).stdout).time).toBeUndefined();
  });

  test('a model the integer plan cannot run still shows its BitOps, and says why its time was not measured', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'arq-cli-'));
    const b = new GraphBuilder([1, 4, 4], 1);
    const out = b.gemm(b.flatten(b.conv(b.maxpool('input', '/pool', 2), '/conv', 2, 1, 1), '/flatten'), '/fc', 2);
    const file = path.join(dir, 'pool-first.onnx');
    writeFileSync(file, exportTrainGraph(b.finish(out)));
    const json = await arq('info', file, '--bits', 'w4a4', '--json');
    expect(json.code).toBe(0);
    const info = JSON.parse(json.stdout);
    expect(info.bitops_percent).toBeCloseTo(100 * 16 / 1024, 12);
    expect(info.time).toBeUndefined();
    expect(info.time_error).toBe("node '/pool/MaxPool' (maxpool) needs a quantized input: the integer plan quantizes at the first Conv or Gemm layer");
    const text = await arq('info', file, '--bits', 'w4a4');
    expect(text.stdout).toContain("time per image: not measured: node '/pool/MaxPool' (maxpool) needs a quantized input");
    expect((await arq('info', file, '--bits', 'w4a4', '--threads', '0')).code).not.toBe(0);
  });

  test('a bad policy or timing setting fails with one line naming it', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'arq-cli-'));
    const model = fixturePath('mnist_cnn');
    const { stdout } = await arq('info', model, '--json');
    const sha256 = (JSON.parse(stdout) as { sha256: string }).sha256;
    const layers = (JSON.parse(stdout) as { layers: { name: string }[] }).layers.map((l) => ({ name: l.name, wbits: 4, abits: 4 }));
    const write = (name: string, value: unknown) => {
      writeFileSync(path.join(dir, name), JSON.stringify(value));
      return path.join(dir, name);
    };
    const cases: [string[], RegExp][] = [
      [['--policy', write('missing.json', { format: 'arq-policy/1', model: sha256, layers: layers.slice(1) })], /has no bit widths/],
      [['--policy', write('wide.json', { format: 'arq-policy/1', model: sha256, layers: layers.map((l, i) => (i ? l : { ...l, abits: 9 })) })], /abits must be an integer in 2\.\.8, got 9/],
      [['--policy', write('other.json', { format: 'arq-policy/1', model: 'f'.repeat(64), layers })], /made for model ffffffffffff/],
      [['--bits', 'w4a4', '--threads', '0'], /^arq: threads: expected an integer in \[1, 256\], got 0$/],
      [['--bits', 'w4a4', '--batch', '0'], /^arq: batch: expected an integer in \[1, 65536\], got 0$/],
      [['--bits', 'w4a4', '--repeats', '0'], /^arq: repeats: expected an integer in \[1, 1000\], got 0$/],
    ];
    for (const [flags, message] of cases) {
      const run = await arq('info', model, ...flags);
      expect(run.code, flags.join(' ')).not.toBe(0);
      expect(run.stderr.trim().split('\n')).toHaveLength(1);
      expect(run.stderr.trim()).toMatch(message);
    }
  });

  test('a missing file or a non-ONNX file fails with one line and a non-zero exit', async () => {
    const missing = await arq('info', '/nonexistent/model.onnx');
    expect(missing.code).not.toBe(0);
    expect(missing.stderr.trim()).toMatch(/^arq: cannot read model \/nonexistent\/model\.onnx: ENOENT$/);
    const dir = mkdtempSync(path.join(tmpdir(), 'arq-cli-'));
    writeFileSync(path.join(dir, 'bad.onnx'), 'not a model at all');
    const bad = await arq('info', path.join(dir, 'bad.onnx'));
    expect(bad.code).not.toBe(0);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
  });
});

describe('arq predict', () => {
  test('--json prints the documented fields and --logits writes [N, classes] float32 NPY', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'arq-cli-'));
    const logits = path.join(dir, 'logits.npy');
    const { code, stdout } = await arq('predict', '--model', fixturePath('mnist_cnn'), '--data', 'mnist', '--max', '50', '--json', '--logits', logits);
    expect(code).toBe(0);
    const result = JSON.parse(stdout);
    expect(Object.keys(result)).toEqual(['count', 'accuracy', 'predictions', 'engine', 'seconds', 'samples_per_second']);
    expect(result.count).toBe(50);
    expect(result.engine).toBe('float');
    const npy = decodeNpy(readFileSync(logits));
    expect(npy.dtype).toBe('float32');
    expect(npy.shape).toEqual([50, 10]);
  });

  test('the ort and float engines predict the same classes', async () => {
    const args = ['predict', '--model', fixturePath('mnist_cnn'), '--data', 'mnist:test', '--max', '64', '--json'];
    const ort = JSON.parse((await arq(...args, '--engine', 'ort')).stdout);
    const native = JSON.parse((await arq(...args, '--engine', 'float')).stdout);
    expect(native.predictions).toEqual(ort.predictions);
  });

  test('bad flags and mismatched data fail with one line', async () => {
    const engine = await arq('predict', '--model', fixturePath('mnist_cnn'), '--data', 'mnist', '--engine', 'gpu');
    expect(engine.code).not.toBe(0);
    expect(engine.stderr).toMatch(/Invalid values/);
    const shape = await arq('predict', '--model', fixturePath('resnet20'), '--data', 'mnist', '--max', '4');
    expect(shape.code).not.toBe(0);
    expect(shape.stderr.trim()).toMatch(/^arq: the model expects images of shape \[3, 32, 32\] but mnist:test has \[1, 28, 28\]$/);
    const spec = await arq('predict', '--model', fixturePath('mnist_cnn'), '--data', 'foo:bar');
    expect(spec.code).not.toBe(0);
    expect(spec.stderr).toMatch(/unknown kind/);
    const batch = await arq('predict', '--model', fixturePath('mnist_cnn'), '--data', 'mnist', '--batch', '0');
    expect(batch.stderr.trim()).toBe('arq: batch: expected an integer in [1, 65536], got 0');
  });
});

describe('arq quantize and the int engine', () => {
  test('quantize writes a QDQ model and its policy; predict --policy reuses it; --json follows the fields', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'arq-cli-'));
    const out = path.join(dir, 'q.onnx');
    const model = path.join(root, 'models/mnist-cnn-s025.onnx');
    const quantized = await arq('quantize', '--model', model, '--bits', 'w4a8', '--calibration', '64', '--out', out, '--json');
    expect(quantized.code).toBe(0);
    const result = JSON.parse(quantized.stdout);
    expect(result.bitops_percent).toBeCloseTo(3.125, 6);
    const policy = JSON.parse(readFileSync(path.join(dir, 'q.policy.json'), 'utf8'));
    expect(policy.layers.every((l: { wbits: number; abits: number }) => l.wbits === 4 && l.abits === 8)).toBe(true);
    const predicted = await arq('predict', '--model', model, '--data', 'mnist', '--max', '500', '--engine', 'int', '--policy', path.join(dir, 'q.policy.json'), '--calibration', '64', '--json');
    expect(predicted.code).toBe(0);
    expect(JSON.parse(predicted.stdout).accuracy).toBeGreaterThan(0.97);
  });

  test('bad policies and bit widths fail with one line', async () => {
    const model = path.join(root, 'models/mnist-cnn-s025.onnx');
    const bits = await arq('predict', '--model', model, '--data', 'mnist', '--engine', 'int', '--bits', 'w9a8');
    expect(bits.stderr.trim()).toMatch(/^arq: --bits: expected a shorthand like w8a8/);
    const missing = await arq('predict', '--model', model, '--data', 'mnist', '--engine', 'int');
    expect(missing.stderr.trim()).toBe('arq: a quantization policy is needed: give --policy FILE or --bits w8a8');
    const floatWithBits = await arq('predict', '--model', model, '--data', 'mnist', '--bits', 'w8a8');
    expect(floatWithBits.stderr.trim()).toBe('arq: --policy and --bits apply to --engine int');
    const out = await arq('quantize', '--model', model, '--bits', 'w8a8', '--out', '/tmp/x.bin');
    expect(out.stderr.trim()).toMatch(/--out: expected a \.onnx file/);
  });
});

describe('arq certify and smooth-predict', () => {
  const model = path.join(root, 'models/mnist-cnn-s025.onnx');
  const common = ['--model', model, '--data', 'mnist', '--sigma', '0.25', '--skip', '500', '--n0', '50', '--n', '1000'];

  test('certify writes the TSV and a summary with the documented fields, and --resume keeps finished lines', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'arq-cert-'));
    const out = path.join(dir, 'c.tsv');
    const first = await arq('certify', ...common, '--max', '3', '--out', out, '--json');
    expect(first.code).toBe(0);
    const summary = JSON.parse(first.stdout);
    for (const field of ['images', 'acr', 'abstain_rate', 'certified_accuracy', 'samples_per_second', 'seconds', 'settings']) expect(summary).toHaveProperty(field);
    expect(Object.keys(summary.certified_accuracy)).toEqual(expect.arrayContaining(['0', '0.25', '0.5', '0.75', '1', '1.25', '1.5', '1.75', '2']));
    expect(summary.images).toBe(3);
    const again = await arq('certify', ...common, '--max', '6', '--out', out);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/resume|overwrite/);
    const resumed = await arq('certify', ...common, '--max', '6', '--out', out, '--resume', '--json');
    expect(resumed.code).toBe(0);
    expect(JSON.parse(resumed.stdout).images).toBe(6);
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    expect(lines[0]).toBe('idx\tlabel\tpredict\tradius\tcorrect\ttime');
    expect(lines.slice(1).map((l) => Number(l.split('\t')[0]))).toEqual([0, 500, 1000, 1500, 2000, 2500]);
    const changed = await arq('certify', ...common.filter((a) => a !== '0.25' && a !== '--sigma'), '--sigma', '0.5', '--max', '6', '--out', out, '--resume');
    expect(changed.code).not.toBe(0);
  });

  test('IRS from a float cache certifies the int engine; radii never exceed the cached float radii', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'arq-irs-'));
    const cache = path.join(dir, 'f.irs');
    expect((await arq('certify', ...common, '--max', '6', '--out', path.join(dir, 'f.tsv'), '--cache', cache)).code).toBe(0);
    const irs = await arq('certify', '--model', model, '--data', 'mnist', '--sigma', '0.25', '--skip', '500', '--max', '6', '--engine', 'int', '--bits', 'w8a8', '--calibration', '64', '--out', path.join(dir, 'q.tsv'), '--incremental', cache, '--json');
    expect(irs.code).toBe(0);
    const radii = (file: string) => readFileSync(path.join(dir, file), 'utf8').trim().split('\n').slice(1).map((l) => Number(l.split('\t')[3]));
    const float = radii('f.tsv');
    radii('q.tsv').forEach((r, i) => expect(r).toBeLessThanOrEqual(float[i]));
    const mismatch = await arq('certify', '--model', model, '--data', 'mnist', '--sigma', '0.25', '--n', '5000', '--engine', 'float', '--out', path.join(dir, 'x.tsv'), '--incremental', cache);
    expect(mismatch.code).not.toBe(0);
  });

  test('smooth-predict prints accuracy and abstentions; bad flags fail with one line', async () => {
    const result = await arq('smooth-predict', '--model', model, '--data', 'mnist', '--sigma', '0.25', '--n', '200', '--skip', '1000', '--json');
    expect(result.code).toBe(0);
    const parsed = JSON.parse(result.stdout);
    expect(parsed.count).toBe(10);
    expect(parsed.accuracy).toBeGreaterThan(0.7);
    const bad = await arq('smooth-predict', '--model', model, '--data', 'mnist', '--alpha', '0');
    expect(bad.stderr.trim()).toBe('arq: alpha: expected a number in (0, 1), got 0');
    const irsFlags = await arq('certify', ...common, '--out', '/tmp/never.tsv', '--np', '10');
    expect(irsFlags.stderr.trim()).toBe('arq: --np, --gamma, --alpha-zeta and --from-scratch apply to --incremental');
    const samplesAlone = await arq('certify', ...common, '--out', '/tmp/never.tsv', '--job-samples', '1000');
    expect(samplesAlone.stderr.trim()).toBe('arq: --job-samples applies to --queue');
  });
});

describe('arq bench', () => {
  test('an unknown benchmark lists the available ones and exits non-zero', async () => {
    const result = await arq('bench', 'nope');
    expect(result.code).not.toBe(0);
    for (const name of ['certify', 'irs', 'kernels', 'layers', 'network', 'noise', 'train']) expect(result.stderr).toContain(name);
  });
});

describe('arq search', () => {
  const tiny = ['--episodes', '2', '--warmup', '1', '--val-images', '2', '--clean-images', '20', '--test-images', '2', '--n', '100', '--final-n', '100', '--calibration', '16', '--baselines', 'uniform'];

  test('runs on the bundled model by default, prints the final table and writes the report', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'arq-cli-search-'));
    const out = path.join(dir, 'run');
    const result = await arq('search', ...tiny, '--out', out);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/mnist-cnn-s025\.onnx/);
    expect(result.stdout).toMatch(/^float\s+100\.000%/m);
    expect(result.stdout).toMatch(/^ARQ\s+1\.\d+%/m);
    expect(result.stdout).toMatch(/^uniform W\dA\d\s+1\.\d+%/m); // the widest uniform choice with 8-bit ends
    expect(result.stdout).toMatch(/^rules of every budgeted policy .* first and last layers at 8 bits/m);
    expect(result.stdout).toContain(`report: ${path.join(out, 'report.html')}`);
    const again = await arq('search', ...tiny, '--out', out);
    expect(again.stderr.trim()).toMatch(/^arq: .* holds a search: continue it with --resume/);
    const json = JSON.parse((await arq('search', ...tiny, '--out', out, '--resume', '--json')).stdout);
    expect(Object.keys(json)).toEqual(expect.arrayContaining(['float', 'arq', 'uniform', 'files', 'settings']));
    expect(json.episodes).toBeUndefined();
  });

  test('a budget the pinned layers cannot meet fails with one line', async () => {
    const result = await arq('search', ...tiny, '--budget', '0.001', '--out', mkdtempSync(path.join(tmpdir(), 'arq-cli-search-')));
    expect(result.code).not.toBe(0);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/budget 0\.1000% of float BitOps cannot be met/);
  });
});
