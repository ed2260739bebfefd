import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { ROOT_CONTEXT } from '@opentelemetry/api';
import { eq, inArray, sql } from 'drizzle-orm';
import { get_encoding } from 'tiktoken';
import { type App, createApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import type { NewMessage } from '../src/conversations/store.js';
import { type ConversationRow, messages } from '../src/storage/schema.js';

/** A model whose window holds 10,000 messages, so the whole conversation is in context before a trim. */
const MODEL = 'gpt-4.1';
const SIZES = [1_000, 10_000] as const;
const RUNS = 30;
const WARMUP_RUNS = 5;
/** The steady state of the automatic fit: each new message pushes about 1% of the context out. */
const STEADY_TRIM_FRACTION = 0.01;
/** The seed's `trim_messages(max_tokens=4000)`, on the whole 10,000-message context at once. */
const SEED_TRIM_MAX_TOKENS = 4000;
const TEXT_BYTES = 1_000_000;

export interface ContextBenchSize {
  messages: number;
  contextTokens: number;
  /** Conversation.tokenCount: one aggregate over the stored counts. */
  tokenCountMs: number;
  /** trimContext DROP_OLDEST dropping the oldest ~1% of the context. */
  trimMs: number;
  trimRemoved: number;
  /** The automatic fit when the context already fits (the common case before a request). */
  fitNoopMs: number;
  /** The automatic fit when the new request pushes the oldest ~1% out. */
  fitMs: number;
}

export interface ContextBenchResult {
  model: string;
  runs: number;
  sizes: ContextBenchSize[];
  /** One trim of the whole 10,000-message context down to 4,000 tokens: each dropped row is rewritten. */
  seedTrim: { messages: number; maxTokens: number; removed: number; ms: number };
  countText: { bytes: number; counterMs: number; tiktokenMs: number; ratio: number };
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};

/** Median of `runs` timed runs after a few untimed ones (JIT, caches, first reads of fresh pages). */
async function timed(
  run: () => Promise<unknown>,
  reset?: () => Promise<unknown>,
  runs = RUNS,
): Promise<number> {
  const samples: number[] = [];
  for (let i = -WARMUP_RUNS; i < runs; i++) {
    await reset?.();
    const started = performance.now();
    await run();
    if (i >= 0) samples.push(performance.now() - started);
  }
  return round(median(samples));
}

const round = (ms: number) => Math.round(ms * 100) / 100;

/** A conversation of `size` messages: questions, answers and a tool call with its result every tenth row. */
async function seedConversation(app: App, ownerId: string, size: number): Promise<ConversationRow> {
  const { conversations, tokens, database } = app.services;
  const conversation = await conversations.create(ownerId, {
    systemPrompt: 'You are a meticulous travel assistant.',
    settings: { model: MODEL },
  });
  const rows: (typeof messages.$inferInsert)[] = [];
  for (let seq = 2; rows.length < size - 1; seq++) {
    const callId = `call_${seq}`;
    const message: NewMessage =
      seq % 10 === 4
        ? {
            role: 'assistant',
            content: null,
            toolCalls: [{ id: callId, functionName: 'lookup', arguments: '{}' }],
          }
        : seq % 10 === 5
          ? { role: 'tool', content: `{"fare": ${seq}}`, toolCallId: `call_${seq - 1}` }
          : { role: seq % 2 ? 'assistant' : 'user', content: `Message ${seq} about ferries and trains.` };
    rows.push({
      ...message,
      id: randomUUID(),
      conversationId: conversation.id,
      seq,
      tokenCount: await tokens.countMessage(message, MODEL),
    });
  }
  for (let start = 0; start < rows.length; start += 1000) {
    await database.db.insert(messages).values(rows.slice(start, start + 1000));
  }
  return conversation;
}

async function bringBack(app: App, ids: string[]) {
  const { db } = app.services.database;
  if (ids.length > 0) await db.update(messages).set({ inContext: true }).where(inArray(messages.id, ids));
}

/** Brings every message back into context, vacuumed so earlier runs' dead rows do not slow later ones. */
async function restoreContext(app: App, conversationId: string) {
  const { db } = app.services.database;
  await db.update(messages).set({ inContext: true }).where(eq(messages.conversationId, conversationId));
  await db.execute(sql`vacuum messages`);
}

export async function runContextBench(): Promise<ContextBenchResult> {
  const config = loadConfig({ DATABASE_URL: 'memory://', PORT: '0', LOG_LEVEL: 'silent' });
  const app = await createApp(config);
  try {
    const { context, conversations, principals } = app.services;
    const owner = await principals.ensurePrincipal('context-bench', []);
    const caller = { signal: new AbortController().signal, logger: app.logger, trace: ROOT_CONTEXT };
    const { contextWindow } = app.services.models.get(MODEL);
    const sizes: ContextBenchSize[] = [];
    let largest: ConversationRow | undefined;

    for (const size of SIZES) {
      const conversation = await seedConversation(app, owner.id, size);
      largest = conversation;
      const contextTokens = await conversations.tokenCount(conversation.id);
      const steadyLimit = Math.floor(contextTokens * (1 - STEADY_TRIM_FRACTION));
      // Each timed run is undone (untimed) by bringing back just the rows it dropped.
      let removed: string[] = [];
      const restore = () => bringBack(app, removed);
      const trim = async () => {
        ({ removedIds: removed } = await context.trimContext(
          owner.id,
          conversation.id,
          steadyLimit,
          'drop_oldest',
          caller,
        ));
      };
      const fitContext = async (maxTokens: number) => {
        ({ removedIds: removed } = await context.fit(conversation, { model: MODEL, maxTokens }, caller));
      };

      sizes.push({
        messages: size,
        contextTokens,
        tokenCountMs: await timed(() => conversations.tokenCount(conversation.id)),
        trimMs: await timed(trim, restore),
        trimRemoved: removed.length,
        fitNoopMs: await timed(() => fitContext(1000), restore),
        fitMs: await timed(() => fitContext(contextWindow - steadyLimit), restore),
      });
    }

    if (!largest) throw new Error('no conversation seeded');
    const conversationId = largest.id;
    const seedTrim = () =>
      context.trimContext(owner.id, conversationId, SEED_TRIM_MAX_TOKENS, 'drop_oldest', caller);
    await restoreContext(app, conversationId);
    const { removedIds } = await seedTrim();
    const seedTrimMs = await timed(seedTrim, () => restoreContext(app, conversationId), 5);

    return {
      model: MODEL,
      runs: RUNS,
      sizes,
      seedTrim: {
        messages: SIZES[SIZES.length - 1] ?? 0,
        maxTokens: SEED_TRIM_MAX_TOKENS,
        removed: removedIds.length,
        ms: seedTrimMs,
      },
      countText: await countOneMegabyte(app),
    };
  } finally {
    await app.close();
  }
}

/** TokenCounter.countText against tiktoken's own encode on the same 1 MB text (median of alternating runs). */
async function countOneMegabyte(app: App): Promise<ContextBenchResult['countText']> {
  const sentence = 'The quick brown fox jumps over the lazy dog; naïve café prices rose 12.5% in 2024. ';
  const text = sentence.repeat(Math.ceil(TEXT_BYTES / Buffer.byteLength(sentence))).slice(0, TEXT_BYTES);
  const direct = get_encoding(app.services.models.get(MODEL).encoding);
  const counterSamples: number[] = [];
  const tiktokenSamples: number[] = [];
  const sample = async (into: number[], run: () => unknown) => {
    const started = performance.now();
    await run();
    into.push(performance.now() - started);
  };
  try {
    for (let i = 0; i < 7; i++) {
      await sample(tiktokenSamples, () => direct.encode_ordinary(text).length);
      await sample(counterSamples, () => app.services.tokens.countText(text, MODEL));
    }
  } finally {
    direct.free();
  }
  const counterMs = median(counterSamples);
  const tiktokenMs = median(tiktokenSamples);
  return {
    bytes: Buffer.byteLength(text),
    counterMs: round(counterMs),
    tiktokenMs: round(tiktokenMs),
    ratio: round(counterMs / tiktokenMs),
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const result = await runContextBench();
  console.table(result.sizes);
  console.log('seed trim:', result.seedTrim);
  console.log('count 1 MB:', result.countText);
}
