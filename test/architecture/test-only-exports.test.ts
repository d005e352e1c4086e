// The addon's `_`-prefixed entries (src/native.ts: `_noise`, the kernel test bindings, `_setIsaCap`, ...) are for
// tests and benchmarks: they take an ISA level or a thread count a production caller has no business choosing, and
// their surface may change with a test. No module of src/ but the loader may reach them, neither by name
// (`addon()._noise`) nor through the loader's wrappers of them (`noise()`); production code has its own entries
// (e.g. `addGaussianNoise`). Fails naming each file and what it reaches.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve(import.meta.dirname, '../../src');
const LOADER = path.join(SRC, 'native.ts');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const full = path.join(dir, entry);
    if (statSync(full).isDirectory()) return sourceFiles(full);
    return entry.endsWith('.ts') ? [full] : [];
  });
}

const parse = (file: string) => ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);

/** The `_` entries of the addon (members of the loader's Addon interface) and the loader's functions that return them. */
function testOnlySurface(): { entries: Set<string>; wrappers: Set<string> } {
  const loader = parse(LOADER);
  const entries = new Set<string>();
  const wrappers = new Set<string>();
  for (const statement of loader.statements) {
    if (ts.isInterfaceDeclaration(statement) && statement.name.text === 'Addon') {
      for (const member of statement.members) {
        const name = member.name && ts.isIdentifier(member.name) ? member.name.text : '';
        if (name.startsWith('_')) entries.add(name);
      }
    }
    if (ts.isFunctionDeclaration(statement) && statement.name && statement.body && /addon\(\)\._\w+/.test(statement.body.getText(loader))) {
      wrappers.add(statement.name.text);
    }
  }
  return { entries, wrappers };
}

/** What `file` reaches of the test-only surface: `._entry` accesses and wrappers imported from the loader. */
function reaches(file: string, surface: ReturnType<typeof testOnlySurface>): string[] {
  const source = parse(file);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isPropertyAccessExpression(node) && surface.entries.has(node.name.text)) found.push(`.${node.name.text}`);
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier) && path.resolve(path.dirname(file), node.moduleSpecifier.text) === LOADER.replace(/\.ts$/, '.js')) {
      const bindings = node.importClause?.namedBindings;
      if (bindings && ts.isNamedImports(bindings)) {
        for (const element of bindings.elements) {
          const imported = (element.propertyName ?? element.name).text;
          if (surface.wrappers.has(imported)) found.push(`${imported}()`);
        }
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

describe('test-only addon entries', () => {
  const surface = testOnlySurface();

  it('finds the surface it guards (the loader still declares _noise and wraps it as noise())', () => {
    expect(surface.entries).toContain('_noise');
    expect(surface.wrappers).toContain('noise');
  });

  it('are reached by no module of src/ but the loader', () => {
    const offenders = sourceFiles(SRC)
      .filter((file) => file !== LOADER)
      .flatMap((file) => reaches(file, surface).map((what) => `src/${path.relative(SRC, file)} reaches ${what}`));
    expect(offenders, 'production code must not call test-only entries; give it a proper export in native/ and src/native.ts').toEqual([]);
  });
});
