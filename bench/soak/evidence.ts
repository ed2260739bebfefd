import pg from 'pg';
import type { SimulatedRequest } from '../../src/simulator/index.js';
import type { Scrape } from './cluster.js';
import type { SoakSettings } from './settings.js';
import type { Turn } from './traffic.js';

export type LoggedRequest = Omit<SimulatedRequest, 'body'> & { body?: Record<string, unknown> };

export interface CompletionRecord {
  id: string;
  status: string;
  model: string;
  promptTokens: number;
  completionTokens: number;
  costUsd: number;
  idempotencyKey: string | null;
  errorMessage: string | null;
}

export interface MessageRecord {
  completionId: string | null;
  role: string;
  content: string | null;
  hasToolCalls: boolean;
  toolCallId: string | null;
}

export interface ExecutionRecord {
  completionId: string | null;
  toolCallId: string | null;
  status: string;
}

/** A completion's events as `completionEvents(afterSeq: 0)` replays them after the run. */
export interface Replay {
  seqs: number[];
  kinds: string[];
  /** How the replay ended: `complete`, or why not. */
  end: string;
}

export interface Memory {
  heapUsedBytes: number;
  rssBytes: number;
}

/** Everything the invariants are checked over, gathered once the traffic has stopped. */
export interface Evidence {
  settings: SoakSettings;
  turns: Turn[];
  requests: LoggedRequest[];
  completions: CompletionRecord[];
  messages: MessageRecord[];
  executions: ExecutionRecord[];
  replays: Map<string, Replay>;
  scrapes: Scrape[];
  usageReport: { completions: number; promptTokens: number; completionTokens: number; costUsd: number };
  memory: { baseline: Memory; end: Memory };
  kills: number;
  durationMs: number;
}

/** Reads the rows the soak wrote, straight from its own database. */
export async function readDatabase(
  url: string,
): Promise<Pick<Evidence, 'completions' | 'messages' | 'executions'>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const completions = await client.query<CompletionRecord>(
      `select id, status, model, prompt_tokens as "promptTokens", completion_tokens as "completionTokens",
              cost_usd as "costUsd", idempotency_key as "idempotencyKey", error->>'message' as "errorMessage"
         from completions`,
    );
    const messages = await client.query<MessageRecord>(
      `select completion_id as "completionId", role, content, tool_calls is not null as "hasToolCalls",
              tool_call_id as "toolCallId"
         from messages where role <> 'system'`,
    );
    const executions = await client.query<ExecutionRecord>(
      `select completion_id as "completionId", tool_call_id as "toolCallId", status from function_executions`,
    );
    return { completions: completions.rows, messages: messages.rows, executions: executions.rows };
  } finally {
    await client.end();
  }
}

/** Completions still RUNNING in the database (waited on until the lease sweep has ended them all). */
export async function runningCount(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: number }>(
      `select count(*)::int as n from completions where status = 'running'`,
    );
    return rows[0]?.n ?? 0;
  } finally {
    await client.end();
  }
}
