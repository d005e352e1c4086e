// StrykerJS mutation testing of the TypeScript core (issue 22): `npm run mutation` (not part of `npm test`).
// Incremental: results are kept in reports/mutation/stryker-incremental.json (committed), so a rerun only tests the
// mutants whose code or covering tests changed. Narrow a run with `npm run mutation -- --mutate src/smoothing/bounds.ts`.
// Needs the built addon (build/Release/arq.node) and dist/ (the ONNX Runtime worker), both copied into the sandbox.
// ARQ_MUTATION_TESTS narrows the test files (vitest.mutation.config.ts), e.g. per folder, as docs/mutation.md records:
//   ARQ_MUTATION_TESTS='test/quant/**/*.test.ts,test/engine/int-plan.test.ts,test/engine/grid.test.ts,test/reference/**/*.test.ts' \
//     npm run mutation -- --mutate 'src/quant/**/*.ts,src/engine/int-plan.ts,src/engine/grid.ts'
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  plugins: ['@stryker-mutator/vitest-runner'],
  vitest: { configFile: 'vitest.mutation.config.ts', related: true },
  // The integer plan and the grids moved from src/quant to src/engine: still in scope.
  mutate: ['src/search/**/*.ts', 'src/smoothing/**/*.ts', 'src/quant/**/*.ts', 'src/engine/int-plan.ts', 'src/engine/grid.ts', 'src/train/**/*.ts', '!src/smoothing/ort-worker.ts'],
  coverageAnalysis: 'perTest',
  // The native work already uses every core: one test process at a time.
  concurrency: 1,
  timeoutMS: 60_000,
  // The first run of the covering tests, on a shared machine.
  dryRunTimeoutMinutes: 30,
  incremental: true,
  incrementalFile: 'reports/mutation/stryker-incremental.json',
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  tempDirName: 'build/.stryker-tmp',
  ignorePatterns: ['build/**', '!build/Release/arq.node', 'reports', 'runs', 'out', 'arq-search'],
  cleanTempDir: 'always',
};
