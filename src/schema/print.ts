import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { printSchema } from 'graphql';
import { schema } from './index.js';

/**
 * `schema.graphql` is printed from the Pothos schema; with --check it fails when the checked-in copy is stale.
 * `--file PATH` points at another copy (the test of the check itself uses it).
 */
const fileArg = process.argv.indexOf('--file');
const target =
  fileArg > 0 && process.argv[fileArg + 1]
    ? resolve(process.argv[fileArg + 1] as string)
    : resolve(dirname(fileURLToPath(import.meta.url)), '../../schema.graphql');
const printed = `${printSchema(schema)}\n`;

if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(target, 'utf8');
  } catch {
    // a missing file is stale too
  }
  if (current !== printed) {
    console.error('schema.graphql is stale: run `npm run schema:print` and commit the result.');
    process.exit(1);
  }
  console.log('schema.graphql is up to date.');
} else {
  writeFileSync(target, printed);
  console.log(`wrote ${target}`);
}
