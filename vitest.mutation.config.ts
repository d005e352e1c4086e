// The vitest configuration StrykerJS runs (stryker.config.mjs): the suite's, narrowed to the test files of
// ARQ_MUTATION_TESTS (comma-separated globs) when set, so that a run over one folder of src/ runs that folder's
// tests and not the whole suite for every mutant. The event-loop tests are left out: they measure the main
// thread's CPU time, which a mutant that only slows the code must not fail.
import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

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
