// The dependency direction of src/ (docs/architecture.md): each top-level folder, or file directly under src/, may
// import only from its own layer or the layers below it, and no two folders may import each other, even within one
// layer. Fails naming every import that runs upward and every cycle; a new folder must be placed in LAYERS.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/** Lowest first; units in one entry are peers. A unit is a folder of src/ or a file directly in it (by its stem). */
const LAYERS: readonly (readonly string[])[] = [
  ['util'],
  ['native'],
  ['graph'],
  ['onnx', 'data', 'ort'],
  ['engine'],
  ['quant'],
  ['smoothing', 'train', 'verify'],
  ['report'],
  ['search', 'serve', 'distributed'],
  ['cli', 'index'],
];

const SRC = path.resolve(import.meta.dirname, '../../src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const full = path.join(dir, entry);
    if (statSync(full).isDirectory()) return sourceFiles(full);
    return entry.endsWith('.ts') ? [full] : [];
  });
}

/** The unit a path under src/ belongs to: its top-level folder, or its stem for a file directly in src/. */
function unitOf(file: string): string {
  const [first, ...rest] = path.relative(SRC, file).split(path.sep);
  return rest.length > 0 ? first : first.replace(/\.[jt]s$/, '');
}

interface Edge {
  readonly from: string;
  readonly to: string;
  /** 'src/a/b.ts imports ../c/d.js' */
  readonly where: string;
}

/** Every import between two units (static, type-only, re-exports and dynamic import() alike). */
function crossUnitImports(): Edge[] {
  const edges: Edge[] = [];
  for (const file of sourceFiles(SRC)) {
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    for (const { fileName } of importedFiles) {
      if (!fileName.startsWith('.')) continue;
      const target = path.resolve(path.dirname(file), fileName);
      const from = unitOf(file);
      const to = unitOf(target);
      if (from !== to) edges.push({ from, to, where: `src/${path.relative(SRC, file)} imports ${fileName}` });
    }
  }
  return edges;
}

const rank = new Map(LAYERS.flatMap((units, index) => units.map((unit) => [unit, index] as const)));
const order = LAYERS.map((units) => units.join(' | ')).join(' -> ');

describe('src/ layering', () => {
  const edges = crossUnitImports();

  it('places every folder and top-level file of src/ in a layer', () => {
    const units = [...new Set(sourceFiles(SRC).map(unitOf))].sort();
    const unplaced = units.filter((unit) => !rank.has(unit));
    expect(unplaced, `add these to LAYERS in test/architecture/layers.test.ts (and docs/architecture.md): ${order}`).toEqual([]);
  });

  it('has no import from a higher layer', () => {
    const upward = edges.filter((e) => rank.has(e.from) && rank.has(e.to) && rank.get(e.to)! > rank.get(e.from)!);
    const message = `imports must point down the layers ${order}; move the imported code down or the importer up`;
    expect(upward.map((e) => `${e.where} (${e.from} -> ${e.to})`), message).toEqual([]);
  });

  it('has no import cycle between folders', () => {
    const next = new Map<string, Set<string>>();
    for (const e of edges) next.set(e.from, (next.get(e.from) ?? new Set()).add(e.to));
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const visit = (unit: string, trail: string[]): void => {
      if (state.get(unit) === 'done') return;
      if (state.get(unit) === 'open') {
        cycles.push([...trail.slice(trail.indexOf(unit)), unit].join(' -> '));
        return;
      }
      state.set(unit, 'open');
      for (const to of next.get(unit) ?? []) visit(to, [...trail, unit]);
      state.set(unit, 'done');
    };
    for (const unit of [...next.keys()].sort()) visit(unit, []);
    const witnesses = cycles.map((cycle) => {
      const units = cycle.split(' -> ');
      const links = units.slice(1).map((to, i) => edges.find((e) => e.from === units[i] && e.to === to)!.where);
      return `${cycle}: ${links.join('; ')}`;
    });
    expect(witnesses, 'folders must not import each other, even within one layer').toEqual([]);
  });
});
