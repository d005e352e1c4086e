/**
 * The C++ sources under native/ follow the checked-in .clang-format: `clang-format --dry-run -Werror` over every .cc
 * and .h file fails on the first line that it would change. Without the clang-format binary (Debian package
 * clang-format; .ci/run installs it) the test reports itself skipped, never passed.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLANG_FORMAT = process.env.CLANG_FORMAT ?? 'clang-format';
const available = spawnSync(CLANG_FORMAT, ['--version'], { encoding: 'utf8' }).status === 0;

function nativeSources(): string[] {
  return readdirSync(path.join(ROOT, 'native'), { recursive: true, encoding: 'utf8' })
    .filter((file) => /\.(cc|h)$/.test(file))
    .map((file) => path.join('native', file))
    .sort();
}

test.skipIf(!available)('every native source is formatted as .clang-format says (clang-format --dry-run -Werror)', () => {
  const sources = nativeSources();
  expect(sources.length).toBeGreaterThan(50);
  const result = spawnSync(CLANG_FORMAT, ['--dry-run', '-Werror', '--style=file', ...sources], { cwd: ROOT, encoding: 'utf8' });
  // clang-format names each file and line it would change; the first few are enough to find the offender.
  const findings = result.stderr.split('\n').filter((line) => /: error: /.test(line));
  expect(findings.slice(0, 10), 'clang-format would change these lines (run clang-format -i on the files named)').toEqual([]);
  expect(result.status).toBe(0);
});

test.skipIf(!available)('the check fails on a badly formatted source (the gate can fail)', () => {
  // The same invocation on a snippet with a 200-column line and a misplaced brace, read from stdin as a .cc file.
  const snippet = `int f(int a)\n{ return a + ${'1 + '.repeat(60)}1; }\n`;
  const result = spawnSync(CLANG_FORMAT, ['--dry-run', '-Werror', '--style=file', '--assume-filename=native/x.cc'], {
    cwd: ROOT,
    input: snippet,
    encoding: 'utf8',
  });
  expect(result.status).not.toBe(0);
  expect(result.stderr).toMatch(/error: code should be clang-formatted/);
});

test.skipIf(!available)('the style is the checked-in one: Google based, 120 columns', () => {
  const style = execFileSync(CLANG_FORMAT, ['--dump-config', '--assume-filename=native/x.cc'], { cwd: ROOT, encoding: 'utf8' });
  expect(style).toMatch(/^ColumnLimit:\s+120$/m);
  expect(style).toMatch(/^PointerAlignment:\s+Left$/m);
});
