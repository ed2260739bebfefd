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
    // Test files run one after another in a long-lived worker instead of a fresh process each: the app's modules,
    // tiktoken and PGlite load once, not once per file (about half the suite's CPU time). Test files therefore
    // must not leave module-level state behind; see useTestServer in test/support/server.ts.
    isolate: false,
    // Two workers, one per core: the files that mostly wait on real time (soak, scale-out, fairness, restarts)
    // overlap with the busy ones. Measured on a quiet 2-core machine: 88 s with two, 143 s with one. On a machine
    // busy with other work (load 25) files that wait on real time beside a busy one have timed out; run
    // `npx vitest run --maxWorkers=1` there.
    maxWorkers: 2,
  },
});
