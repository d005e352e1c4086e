// arq certify --shard i/k and arq merge as a user runs them (the compiled CLI, test/cli/run.ts).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { arq, root } from '../cli/run.js';

const dir = mkdtempSync(path.join(tmpdir(), 'arq-merge-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('certify --shard 0/2 and 1/2, merged, give the single run\'s rows; a missing shard is a gap', async () => {
  const common = ['certify', '--model', path.join(root, 'models/mnist-cnn-s025.onnx'), '--data', 'mnist', '--sigma', '0.25', '--max', '5', '--n0', '10', '--n', '200', '--quiet'];
  const out = (name: string) => path.join(dir, name);
  expect((await arq([...common, '--out', out('single.tsv')])).code).toBe(0);
  expect((await arq([...common, '--out', out('a.tsv'), '--shard', '0/2'])).code).toBe(0);
  expect((await arq([...common, '--out', out('b.tsv'), '--shard', '1/2'])).code).toBe(0);
  const merged = await arq(['merge', out('b.tsv'), out('a.tsv'), '--out', out('m.tsv')]);
  expect(merged.stdout).toContain(`merged 2 shards of a certify run: 5 images in ${out('m.tsv')}`);
  const cells = (p: string) => readFileSync(p, 'utf8').split('\n').filter(Boolean).map((l) => l.split('\t').slice(0, 5).join('\t'));
  expect(cells(out('m.tsv'))).toEqual(cells(out('single.tsv')));
  expect(cells(out('a.tsv'))).toHaveLength(3); // header and positions 0, 1

  const gap = await arq(['merge', out('a.tsv'), '--out', out('g.tsv')]);
  expect(gap.code).toBe(1);
  expect(gap.stderr).toContain('arq: merge: gap: 1 of 2 shards missing (1/2)');
  expect((await arq(['merge', out('a.tsv'), out('b.tsv'), '--out', out('m.tsv')])).stderr).toContain('exists');
  expect((await arq([...common, '--out', out('c.tsv'), '--shard', '2/2'])).stderr).toContain('arq: shard: the index must be below the count');
});
