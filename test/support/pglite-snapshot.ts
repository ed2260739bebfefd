import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import type { TestProject } from 'vitest/node';
import { openDatabase } from '../../src/storage/db.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A file holding a migrated, empty PGlite data directory that test servers start from. */
    pgliteSnapshotPath: string;
  }
}

/**
 * vitest global setup: initdb plus migrations cost seconds per embedded database, so they run once per test run
 * and every in-memory test server loads the result (see `DatabaseOptions.pgliteSnapshot`).
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const directory = await mkdtemp(join(tmpdir(), 'agent-platform-pglite-'));
  const database = await openDatabase('memory://');
  const client = (database.db as unknown as { $client: PGlite }).$client;
  const snapshot = await client.dumpDataDir('none');
  await database.close();
  const path = join(directory, 'snapshot.tar');
  await writeFile(path, Buffer.from(await snapshot.arrayBuffer()));
  project.provide('pgliteSnapshotPath', path);
  return () => rm(directory, { recursive: true, force: true });
}
