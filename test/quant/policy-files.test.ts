// Policies (quant/policy.ts) and their cost (quant/cost.ts) on the cases StrykerJS found unchecked: every shape of a
// malformed policy gets its own one-line message naming the source, widths at the ends of 2..8 are accepted, files
// round-trip, --policy and --bits each resolve alone; the cost of a bias-less conv beside a gemm, counted by hand.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { modelFromBytes } from '../../src/onnx/model.js';
import { policyCost } from '../../src/quant/cost.js';
import { loadPolicy, parseBits, resolvePolicy, savePolicy, uniformPolicy, validatePolicy } from '../../src/quant/policy.js';
import { GraphBuilder } from '../../src/train/architectures.js';
import { exportTrainGraph } from '../../src/train/export.js';
import { loadFixture } from '../support/fixtures.js';

const model = loadFixture('tiny_mlp');
const dir = mkdtempSync(path.join(tmpdir(), 'arq-policy-files-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const good = () => JSON.parse(JSON.stringify(uniformPolicy(model.graph, model.sha256, 8, 8)));
const sha = model.sha256;

describe('validatePolicy', () => {
  test.each([
    ['null', null, /^p\.json: expected a JSON object$/],
    ['a number', 3, /^p\.json: expected a JSON object$/],
    ['no model', { ...good(), model: 5 }, /^p\.json: model must be the sha256 of the ONNX file$/],
    ['layers not an array', { ...good(), layers: {} }, /^p\.json: layers must be an array$/],
    ['a layer without a name', { ...good(), layers: [{ wbits: 8, abits: 8 }] }, /^p\.json: layers\[0\] has no name$/],
    ['a null layer', { ...good(), layers: [null] }, /^p\.json: layers\[0\] has no name$/],
    ['a width given as a string', { ...good(), layers: [{ ...good().layers[0], wbits: '8' }] }, /^p\.json: layer '.*': wbits must be an integer in 2\.\.8, got "8"$/],
  ])('rejects %s with one line naming the source', (_, value, message) => {
    expect(() => validatePolicy(value, model.graph, sha, { source: 'p.json' })).toThrow(message);
  });

  test('names "policy" without a source, the first missing layer and how many more are missing', () => {
    const cnn = loadFixture('mnist_cnn');
    const policy = uniformPolicy(cnn.graph, cnn.sha256, 8, 8);
    const names = policy.layers.map((l) => l.name);
    expect(names.length).toBeGreaterThanOrEqual(3);
    expect(() => validatePolicy({ ...policy, layers: policy.layers.slice(0, -3) }, cnn.graph, cnn.sha256)).toThrow(`policy: layer '${names.at(-3)}' has no bit widths (and 2 more)`);
    expect(() => validatePolicy({ ...policy, layers: policy.layers.slice(0, -1) }, cnn.graph, cnn.sha256)).toThrow(new RegExp(`^policy: layer '${names.at(-1)}' has no bit widths$`));
  });

  test('widths 2 and 8 are valid; a policy for another file only with allowOtherModel, naming both files', () => {
    const policy = good();
    policy.layers[0].wbits = 2;
    policy.layers[0].abits = 8;
    expect(validatePolicy(policy, model.graph, sha).layers[0]).toEqual({ ...policy.layers[0] });
    const other = { ...good(), model: 'a'.repeat(64) };
    expect(() => validatePolicy(other, model.graph, sha)).toThrow(`policy: made for model aaaaaaaaaaaa..., but this model is ${sha.slice(0, 12)}...`);
    expect(validatePolicy(other, model.graph, sha, { allowOtherModel: true }).model).toBe('a'.repeat(64));
  });
});

describe('policy files and shorthands', () => {
  test('--bits accepts any case and surrounding blanks, nothing before or after', () => {
    expect(parseBits(' W4a8 ')).toEqual({ wbits: 4, abits: 8 });
    for (const bad of ['xw4a4', 'w4a4 8']) expect(() => parseBits(bad)).toThrow(/^--bits: expected a shorthand/);
  });

  test('a saved policy loads back; --policy and --bits each resolve on their own', async () => {
    const file = path.join(dir, 'p.json');
    const policy = uniformPolicy(model.graph, sha, 4, 6);
    await savePolicy(file, policy);
    expect(readFileSync(file, 'utf8')).toBe(`${JSON.stringify(policy, null, 2)}\n`);
    expect(await loadPolicy(file, model.graph, sha)).toEqual(policy);
    expect(await resolvePolicy({ policy: file }, model.graph, sha)).toEqual(policy);
    expect(await resolvePolicy({ bits: 'w4a6' }, model.graph, sha)).toEqual(policy);
    writeFileSync(path.join(dir, 'bad.json'), '{');
    await expect(loadPolicy(path.join(dir, 'bad.json'), model.graph, sha)).rejects.toThrow(/bad\.json: not valid JSON \(/);
    await expect(loadPolicy(path.join(dir, 'none.json'), model.graph, sha)).rejects.toThrow(`cannot read policy ${path.join(dir, 'none.json')}: ENOENT`);
    writeFileSync(path.join(dir, 'foreign.json'), JSON.stringify({ ...policy, format: 'haq' }));
    await expect(loadPolicy(path.join(dir, 'foreign.json'), model.graph, sha)).rejects.toThrow(`${path.join(dir, 'foreign.json')}: format must be "arq-policy/1"`);
    writeFileSync(path.join(dir, 'empty.json'), '');
    await expect(loadPolicy(path.join(dir, 'empty.json'), model.graph, sha)).rejects.toThrow(/empty\.json: not valid JSON/);
  });
});

describe('policyCost', () => {
  test('a bias-less conv and a gemm with bias, counted by hand', () => {
    // input [1, 4, 4]; conv 3x3 pad 1 to 2 channels, no bias (18 weights, 288 MACs); gemm 32 -> 3 with bias (96 MACs).
    const b = new GraphBuilder([1, 4, 4], 1);
    const graph = b.finish(b.gemm(b.flatten(b.conv('input', '/conv', 2, 3, 1), '/flatten'), '/fc', 3));
    const imported = modelFromBytes(exportTrainGraph(graph), 'small.onnx').graph;
    const cost = policyCost(imported, uniformPolicy(imported, 'x', 4, 8));
    expect(cost.bitops).toBe((288 + 96) * 4 * 8);
    expect(cost.floatBitops).toBe((288 + 96) * 32 * 32);
    expect(cost.bitopsPercent).toBeCloseTo(100 * (32 / 1024), 12);
    // weights at 4 bits, a float32 scale per output channel (2 + 3), float32 biases (0 + 3)
    expect(cost.sizeBytes).toBe((18 * 4 + 96 * 4 + 32 * (2 + 3 + 3)) / 8);
    expect(cost.floatSizeBytes).toBe(4 * (18 + 96 + 3));
  });
});
