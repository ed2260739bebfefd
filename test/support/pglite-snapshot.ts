import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PGlite } from '@electric-sql/pglite';
import type { TestProject } from 'vitest/node';
import { openDatabase } from '../../src/storage/db.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A file holding a migrated, empty PGlite data directory that test servers start from. */
    pgliteSnapshotPath: string;
  }
}

const root = fileURLToPath(new URL('../../', import.meta.url));
const CACHE = join(root, 'node_modules/.cache/agent-platform');

/**
 * vitest global setup: initdb plus migrations cost seconds of CPU per embedded database, so every PGlite test
 * server starts from one migrated snapshot (see `DatabaseOptions.pgliteSnapshot`). It is kept between runs under
 * node_modules/.cache, named by the migrations and the PGlite build it was made with, so a focused run of one
 * file does not pay initdb either.
 */
export default async function setup(project: TestProject): Promise<void> {
  const path = join(CACHE, `pglite-${await snapshotKey()}.tar`);
  if (!existsSync(path)) {
    const database = await openDatabase('memory://');
    const client = (database.db as unknown as { $client: PGlite }).$client;
    const snapshot = await client.dumpDataDir('none');
    await database.close();
    await mkdir(CACHE, { recursive: true });
    // Written aside, then renamed: a run starting at the same moment never reads half a snapshot.
    const partial = `${path}.${process.pid}`;
    await writeFile(partial, Buffer.from(await snapshot.arrayBuffer()));
    await rename(partial, path);
    for (const file of await readdir(CACHE)) {
      if (file.startsWith('pglite-') && file.endsWith('.tar') && join(CACHE, file) !== path) {
        await rm(join(CACHE, file), { force: true });
      }
    }
  }
  project.provide('pgliteSnapshotPath', path);
}

/** A hash of every migration file and of the PGlite package: either changing makes a new snapshot. */
async function snapshotKey(): Promise<string> {
  const hash = createHash('sha256');
  const pgliteDirectory = dirname(dirname(createRequire(import.meta.url).resolve('@electric-sql/pglite')));
  hash.update(await readFile(join(pgliteDirectory, 'package.json')));
  for (const folder of [join(root, 'drizzle'), join(root, 'drizzle/meta')]) {
    for (const file of (await readdir(folder)).sort()) {
      if (file.endsWith('.sql') || file.endsWith('.json'))
        hash.update(file).update(await readFile(join(folder, file)));
    }
  }
  return hash.digest('hex').slice(0, 16);
}
