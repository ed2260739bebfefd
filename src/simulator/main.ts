import { createSimulator } from './index.js';

// This entry point runs the simulator on its own (`npm run simulator`), so it reads its own environment.
function numberFromEnv(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0)
    throw new Error(`${name} must be a non-negative number, got '${raw}'`);
  return value;
}

function booleanFromEnv(name: string): boolean {
  const raw = process.env[name] ?? '';
  if (raw === '' || raw === 'false' || raw === '0') return false;
  if (raw === 'true' || raw === '1') return true;
  throw new Error(`${name} must be true or false, got '${raw}'`);
}

const simulator = await createSimulator({
  port: numberFromEnv('SIMULATOR_PORT') ?? 4010,
  host: process.env.SIMULATOR_HOST || '127.0.0.1',
  firstTokenMs: numberFromEnv('SIMULATOR_FIRST_TOKEN_MS'),
  chunkDelayMs: numberFromEnv('SIMULATOR_CHUNK_DELAY_MS'),
  replyWords: numberFromEnv('SIMULATOR_REPLY_WORDS'),
  omitUsage: booleanFromEnv('SIMULATOR_OMIT_USAGE'),
});
console.log(`OpenAI simulator listening on ${simulator.url}`);

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    simulator.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}
