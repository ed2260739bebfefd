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
    // One worker: with two on two cores, a full run at load 25 timed out or failed eight files that wait on real
    // time (rate limits, leases, grace periods, /healthz latency) beside a busy file.
    maxWorkers: 1,
  },
});
