// ESLint over src/, test/, bench/ and scripts/ (run by test/architecture/lint.test.ts, so `npm test` counts every
// finding). Type-aware through tsconfig.check.json, the program the type check also reads. The rule set is small on
// purpose: each rule catches a bug class the type checker lets through, or keeps one convention the code follows.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'build/**', 'node_modules/**', 'reports/**', 'out/**', 'runs/**', 'arq-search/**', '**/*.cjs', '**/*.js', '**/*.mjs'] },
  {
    files: ['**/*.ts'],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { project: './tsconfig.check.json', tsconfigRootDir: import.meta.dirname },
    },
    plugins: { '@typescript-eslint': tseslint.plugin },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // A promise nobody awaits loses its rejection (an unhandled rejection ends the process) and its ordering.
      '@typescript-eslint/no-floating-promises': 'error',
      // An async callback where a void one is expected (event handlers, forEach) drops its rejection the same way.
      '@typescript-eslint/no-misused-promises': 'error',
      // Awaiting a non-promise is a sign the callee's contract was misread.
      '@typescript-eslint/await-thenable': 'error',
      // `return promise` inside try skips its catch and finally (a plan released before the run ends).
      '@typescript-eslint/return-await': ['error', 'in-try-catch'],
      // Throwing a non-Error loses the stack and breaks `instanceof ArqError` at the CLI's error boundary.
      '@typescript-eslint/only-throw-error': 'error',
      // A switch over a union (ops, engines, modes) must name every member, so a new member cannot fall through.
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      // Dead code: unused variables, parameters after the last used one, imports. `_name` marks a deliberate discard.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true }],
      // An assertion the type already implies hides the real type from the reader and from later refactors.
      '@typescript-eslint/no-unnecessary-type-assertion': 'error',
      // "[object Object]" or "undefined" in a message or a file name: only strings and numbers go into templates.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      '@typescript-eslint/no-base-to-string': 'error',
      '@typescript-eslint/no-for-in-array': 'error',
      // Type-only imports are erased: marking them keeps runtime import graphs (and lazy CLI imports) honest.
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      // Loose equality's coercions are never what arq's numeric code means.
      eqeqeq: ['error', 'always'],
      'no-var': 'error',
      'prefer-const': 'error',
      'no-debugger': 'error',
      'no-self-compare': 'error',
      'no-unreachable': 'error',
      'no-constant-condition': ['error', { checkLoops: false }],
      'no-dupe-keys': 'error',
      'no-fallthrough': 'error',
      // `while ((match = re.exec(text)))` is the one assignment in a condition arq writes, always parenthesised.
      'no-cond-assign': ['error', 'except-parens'],
    },
  },
);
