import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'schema-check-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// `npm run schema:check` is `tsx src/schema/print.ts --check`; node with tsx's loader runs the same without npx.
const check = (file: string) =>
  run(process.execPath, ['--import', 'tsx', 'src/schema/print.ts', '--check', '--file', file]).then(
    () => 0,
    (error: { code: number }) => error.code,
  );

describe('schema:check', () => {
  it('passes on the checked-in schema.graphql', async () => {
    const file = join(dir, 'fresh.graphql');
    copyFileSync('schema.graphql', file);
    expect(await check(file)).toBe(0);
  });

  it('fails on a stale copy', async () => {
    const file = join(dir, 'stale.graphql');
    writeFileSync(file, 'type Query { stale: String }\n');
    expect(await check(file)).toBe(1);
  });
});
