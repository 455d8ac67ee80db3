// ESLint for the TypeScript of src/, test/ and bench/ (npm run lint). typescript-eslint's
// recommended rules, plus the type-aware ones that matter in a supervisor: a promise that is
// neither awaited nor marked `void` is a bug (an error no one sees, an order no one meant).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'build/', 'build-arm64/', 'dist/', 'bench/dist/', 'bench/results/', '.tap/', '**/*.js', '**/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      // `const { containers: _, ...rest } = spec` drops a field on purpose.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      // Lazy loading is how a short command stays short (docs/PERFORMANCE.md): require() is meant.
      '@typescript-eslint/no-require-imports': 'off',
      // Prettier wraps code at 140 columns, but not strings, templates or comments.
      'max-len': ['error', { code: 140, ignoreUrls: true }],
    },
  },
  {
    // tap's t.test() returns a promise that tap itself waits for: the top level of a test file
    // is made of them.
    // And tests build manifests and request bodies as the raw JSON they are.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-floating-promises': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
      // tap stops at the first teardown that throws: helpers/cleanup.ts runs them all.
      'no-restricted-syntax': [
        'error',
        {
          selector: "CallExpression[callee.property.name=/^(teardown|after)$/]",
          message: "use cleanup(t, what, fn) from test/helpers/cleanup.ts: tap's teardowns stop at the first that throws",
        },
      ],
    },
  },
);
