import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Native work already uses every core; parallel test files would only contend for them.
    fileParallelism: false,
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
});
