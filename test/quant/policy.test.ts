import { describe, expect, test } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadFixture } from '../support/fixtures.js';
import { layerNames, loadPolicy, parseBits, resolvePolicy, uniformPolicy, validatePolicy } from '../../src/quant/policy.js';
import { policyCost } from '../../src/quant/cost.js';

const model = loadFixture('resnet20');

describe('policies', () => {
  test('--bits shorthands', () => {
    expect(parseBits('w8a8')).toEqual({ wbits: 8, abits: 8 });
    expect(parseBits('W2A8')).toEqual({ wbits: 2, abits: 8 });
    for (const bad of ['w1a8', 'w8a9', 'w8', '8a8', 'w4a4x']) expect(() => parseBits(bad)).toThrow(/--bits/);
  });

  test('a uniform policy names every quantizable layer once', () => {
    const policy = uniformPolicy(model.graph, model.sha256, 4, 8);
    expect(policy.layers.map((l) => l.name)).toEqual(layerNames(model.graph));
    expect(validatePolicy(JSON.parse(JSON.stringify(policy)), model.graph, model.sha256)).toEqual(policy);
  });

  const good = () => JSON.parse(JSON.stringify(uniformPolicy(model.graph, model.sha256, 8, 8)));
  test.each([
    ['an unknown layer', (p: any) => { p.layers[0].name = 'nope'; }, /layer 'nope' is not a quantizable layer/],
    ['a missing layer', (p: any) => { p.layers.pop(); }, /layer '\/linear\/Gemm' has no bit widths/],
    ['a duplicated layer', (p: any) => { p.layers[1].name = p.layers[0].name; }, /appears twice/],
    ['a width of 9', (p: any) => { p.layers[3].wbits = 9; }, /wbits must be an integer in 2\.\.8, got 9/],
    ['a width of 1', (p: any) => { p.layers[3].abits = 1; }, /abits must be an integer in 2\.\.8, got 1/],
    ['a fractional width', (p: any) => { p.layers[3].abits = 4.5; }, /abits/],
    ['another model', (p: any) => { p.model = 'f'.repeat(64); }, /made for model ffffffffffff/],
    ['a wrong format', (p: any) => { p.format = 'haq'; }, /format must be "arq-policy\/1"/],
  ])('rejects %s, naming it', (_, mutate, message) => {
    const policy = good();
    mutate(policy);
    expect(() => validatePolicy(policy, model.graph, model.sha256, { source: 'p.json' })).toThrow(message);
  });

  test('files: bad JSON and missing files are clear errors; --policy and --bits exclude each other', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'arq-policy-'));
    writeFileSync(path.join(dir, 'bad.json'), '{ not json');
    await expect(loadPolicy(path.join(dir, 'bad.json'), model.graph, model.sha256)).rejects.toThrow(/not valid JSON/);
    await expect(loadPolicy(path.join(dir, 'none.json'), model.graph, model.sha256)).rejects.toThrow(/cannot read policy.*ENOENT/);
    await expect(resolvePolicy({ policy: 'x', bits: 'w8a8' }, model.graph, model.sha256)).rejects.toThrow(/either --policy or --bits/);
    await expect(resolvePolicy({}, model.graph, model.sha256)).rejects.toThrow(/policy is needed/);
  });
});

describe('cost model', () => {
  test('W8A8 is 6.25% and W4A4 and W2A8 are 1.5625% of float BitOps', () => {
    const percent = (w: number, a: number) => policyCost(model.graph, uniformPolicy(model.graph, model.sha256, w, a)).bitopsPercent;
    expect(percent(8, 8)).toBeCloseTo(6.25, 10);
    expect(percent(4, 4)).toBeCloseTo(1.5625, 10);
    expect(percent(2, 8)).toBeCloseTo(1.5625, 10);
  });

  test('size counts weights at wbits plus float32 scales and biases', () => {
    const graph = loadFixture('tiny_mlp').graph;
    const cost = policyCost(graph, uniformPolicy(graph, 'x', 4, 8));
    // tiny_mlp: MatMul 64x32 (+bias 32), Gemm 32x10 (+bias 10)
    const weights = 64 * 32 + 32 * 10;
    expect(cost.sizeBytes).toBe(Math.ceil((weights * 4 + 32 * (32 + 32 + 10 + 10)) / 8));
    expect(cost.floatSizeBytes).toBe(4 * (weights + 32 + 10));
  });
});
