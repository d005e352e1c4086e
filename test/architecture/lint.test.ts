// ESLint (eslint.config.js: typescript-eslint, type-aware) over src/, test/, bench/ and scripts/, with zero findings.
import path from 'node:path';
import { ESLint } from 'eslint';
import { expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');

it('ESLint finds nothing in src/, test/, bench/ and scripts/', async () => {
  const results = await new ESLint({ cwd: ROOT }).lintFiles(['src', 'test', 'bench', 'scripts']);
  const findings = results.flatMap((result) => result.messages.map((m) => `${path.relative(ROOT, result.filePath)}:${m.line}:${m.column} ${m.ruleId ?? 'eslint'}: ${m.message}`));
  expect(findings, 'fix these (`npx eslint --fix src test bench scripts` fixes some); each rule says why in eslint.config.js').toEqual([]);
}, 600_000);
