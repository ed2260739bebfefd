import { defineConfig } from 'vitest/config';

export default defineConfig({
  // graphql ships both ESM and CJS builds; some dependencies require() it, so everything must share the CJS one
  // or schema types from "another realm" are rejected.
  resolve: { alias: { graphql: 'graphql/index.js' } },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/pglite-snapshot.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
