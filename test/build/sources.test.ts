// CMakeLists.txt (the build `npm install` runs) and binding.gyp (node-gyp) must compile the same sources with the
// same ISA split; this fails when one list gains a file the other lacks.
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const read = (file: string) => readFileSync(path.join(root, file), 'utf8');

function cmakeList(name: string): string[] {
  const match = new RegExp(`set\\(${name}\\s+([^)]*)\\)`).exec(read('CMakeLists.txt'));
  if (!match) throw new Error(`CMakeLists.txt has no set(${name} ...)`);
  return match[1].split(/\s+/).filter(Boolean).sort();
}

function gypSources(target: string): string[] {
  const text = read('binding.gyp').replace(/#.*$/gm, '');
  const block = new RegExp(`'target_name':\\s*'${target}'[\\s\\S]*?'sources':\\s*\\[([\\s\\S]*?)\\]`).exec(text);
  if (!block) throw new Error(`binding.gyp has no target ${target} with sources`);
  return [...block[1].matchAll(/'([^']+)'/g)].map((m) => m[1]).sort();
}

test.each([
  ['ARQ_SOURCES', 'arq'],
  ['ARQ_AVX2_SOURCES', 'arq_avx2'],
  ['ARQ_AVX512_SOURCES', 'arq_avx512'],
  ['ARQ_AVX512VBMI_SOURCES', 'arq_avx512vbmi'],
])('CMake %s equals binding.gyp target %s', (list, target) => {
  expect(gypSources(target)).toEqual(cmakeList(list));
});

test('every listed source exists and every native .cc file is listed', async () => {
  const listed = ['ARQ_SOURCES', 'ARQ_AVX2_SOURCES', 'ARQ_AVX512_SOURCES', 'ARQ_AVX512VBMI_SOURCES'].flatMap(cmakeList);
  for (const file of listed) expect(existsSync(path.join(root, file)), file).toBe(true);
  const { readdirSync } = await import('node:fs');
  const walk = (dir: string): string[] =>
    readdirSync(path.join(root, dir), { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(`${dir}/${e.name}`) : e.name.endsWith('.cc') ? [`${dir}/${e.name}`] : []));
  expect(walk('native').sort()).toEqual([...listed].sort());
});
