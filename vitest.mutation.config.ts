// The vitest configuration StrykerJS runs (stryker.config.mjs): the suite's, narrowed to the test files of
// ARQ_MUTATION_TESTS (comma-separated globs) when set, so that a run over one folder of src/ runs that folder's
// tests and not the whole suite for every mutant. The event-loop tests are left out: they measure the main
// thread's CPU time, which a mutant that only slows the code must not fail.
import { chmodSync } from 'node:fs';
import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

// Stryker copies the project into its sandbox without file modes, so the launcher lost its executable bit there and
// every test that runs `arq` as a program (test/cli/run.ts) failed to spawn it (EACCES): run-identity.test.ts's
// `arq certify` wrote no results file. package.json's `prepare` sets the bit for the same reason. Note that the CLI
// runs the compiled dist/, never the sandbox's mutated sources: a test through bin/arq.js kills no mutant.
chmodSync(new URL('./bin/arq.js', import.meta.url), 0o755);

const include = process.env.ARQ_MUTATION_TESTS?.split(',').filter(Boolean) ?? base.test!.include;

export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include,
    exclude: ['**/node_modules/**', 'test/**/event-loop.test.ts', 'test/data/limits.test.ts'],
    reporters: ['default'],
  },
});
