import { spawn } from 'node:child_process';

export interface ExampleRun {
  stdout: string;
  stderr: string;
  code: number | null;
}

/** `npm run example:chat` as a user runs it (without the codegen step, which the suite has done already). */
export function runExample(
  url: string,
  args: string[],
  onStdout?: (text: string) => void,
  env: Record<string, string> = {},
): Promise<ExampleRun> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'examples/chat-client/main.ts', ...args], {
    env: { ...process.env, AGENT_PLATFORM_URL: url, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const run: ExampleRun = { stdout: '', stderr: '', code: null };
  child.stdout.on('data', (chunk: Buffer) => {
    run.stdout += chunk.toString();
    onStdout?.(run.stdout);
  });
  child.stderr.on('data', (chunk: Buffer) => {
    run.stderr += chunk.toString();
  });
  return new Promise((resolve) => child.once('exit', (code) => resolve({ ...run, code })));
}

export function completionIdOf(run: ExampleRun): string {
  const id = /completion (\S+)/.exec(run.stderr)?.[1];
  if (!id) throw new Error(`no completion id in: ${run.stderr}`);
  return id;
}
