import { costUsd, ModelTable } from '../../src/tokens/index.js';
import type { CompletionRecord, Evidence, LoggedRequest, Replay } from './evidence.js';

export interface Invariant {
  name: string;
  held: boolean;
  /** What was counted, and what broke it when it did not hold. */
  figures: string;
}

const MARKER = /soak-[0-9a-f]+-\d+/;
/**
 * Requests arrive at the simulator a little after the limiter let them go, some later than others (more so on a
 * loaded machine): the bucket bound is checked with this much slack. Two instances not sharing their buckets
 * would exceed it many times over.
 */
const ARRIVAL_JITTER_MS = 1000;
/** Heap after the run may exceed the baseline by this much (caches, JIT, pools sized by the peak). */
const HEAP_TOLERANCE = { ratio: 0.25, bytes: 8 * 1024 * 1024 };

const count = <T>(items: T[], key: (item: T) => string | null | undefined) => {
  const counts = new Map<string, number>();
  for (const item of items) {
    const k = key(item);
    if (k) counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return counts;
};
const isOneToN = (seqs: number[]) => seqs.every((seq, index) => seq === index + 1);
const examples = (items: string[]) => (items.length ? ` (e.g. ${items.slice(0, 3).join('; ')})` : '');

export function checkInvariants(evidence: Evidence): Invariant[] {
  return [
    userMessagesStored(evidence),
    completionsTerminal(evidence),
    repliesStoredOnce(evidence),
    requestsValid(evidence),
    usageCountedOnce(evidence),
    rateLimitHeld(evidence),
    waitsBounded(evidence),
    memoryReturned(evidence),
  ];
}

function userMessagesStored({ turns, completions, messages }: Evidence): Invariant {
  const users = messages.filter((message) => message.role === 'user');
  const byMarker = count(users, (message) => MARKER.exec(message.content ?? '')?.[0]);
  const byCompletion = count(users, (message) => message.completionId);
  const completionByKey = new Map(completions.map((row) => [row.idempotencyKey, row]));
  const problems: string[] = [];
  let unanswered = 0;
  for (const turn of turns) {
    const stored = byMarker.get(turn.marker) ?? 0;
    const completion = completionByKey.get(turn.marker);
    if (turn.outcome === 'unanswered') unanswered++;
    if (stored > 1) problems.push(`${turn.marker} stored ${stored} times`);
    else if (completion && stored === 0) problems.push(`${turn.marker} has a completion but no user message`);
    else if (!completion && turn.outcome !== 'unanswered')
      problems.push(`${turn.marker} was answered (${turn.outcome}) but nothing was stored`);
  }
  for (const row of completions) {
    if ((byCompletion.get(row.id) ?? 0) !== 1)
      problems.push(`completion ${row.id} has ${byCompletion.get(row.id) ?? 0} user messages`);
  }
  if (unanswered > 0) problems.push(`${unanswered} turns got no answer from any instance`);
  const retried = turns.filter((turn) => turn.retries > 0).length;
  return {
    name: 'every user message is stored',
    held: problems.length === 0,
    figures:
      `${turns.length} sent (${retried} re-sent after a kill), ${users.length} stored, ` +
      `${problems.length} problems${examples(problems)}`,
  };
}

function completionsTerminal({ turns, completions, replays }: Evidence): Invariant {
  const problems: string[] = [];
  const statuses = count(completions, (row) => row.status);
  let events = 0;
  for (const row of completions) {
    const replay = replays.get(row.id);
    if (!replay) {
      problems.push(`${row.id} was not replayed`);
      continue;
    }
    events += replay.seqs.length;
    const problem = replayProblem(row, replay);
    if (problem) problems.push(`${row.id}: ${problem}`);
  }
  let streams = 0;
  let reconnects = 0;
  for (const turn of turns.filter((t) => t.seqs.length > 0)) {
    streams++;
    reconnects += turn.reconnects;
    const replay = turn.completionId ? replays.get(turn.completionId) : undefined;
    if (!isOneToN(turn.seqs))
      problems.push(`${turn.marker}: the client received seqs ${turn.seqs.join(',')}`);
    else if (turn.terminals > 1)
      problems.push(`${turn.marker}: the client received ${turn.terminals} terminal events`);
    else if (turn.terminals === 1 && replay && turn.seqs.length !== replay.seqs.length)
      problems.push(
        `${turn.marker}: the client received ${turn.seqs.length} events, the replay has ${replay.seqs.length}`,
      );
    else if (turn.terminals === 0 && turn.kind !== 'chat-left')
      problems.push(`${turn.marker}: the client's stream ended without a terminal event (${turn.outcome})`);
  }
  const byStatus = [...statuses].map(([status, n]) => `${n} ${status}`).join(', ');
  return {
    name: 'every completion is terminal, events gapless, one terminal event last',
    held: problems.length === 0,
    figures:
      `${completions.length} completions (${byStatus}); ${events} events replayed; ${streams} client streams ` +
      `with ${reconnects} reconnects; ${problems.length} problems${examples(problems)}`,
  };
}

function replayProblem(row: CompletionRecord, replay: Replay): string | undefined {
  if (row.status === 'running') return 'still RUNNING';
  if (replay.end !== 'complete') return `replay ${replay.end} after ${replay.seqs.length} events`;
  if (!isOneToN(replay.seqs)) return `seqs ${replay.seqs.join(',')}`;
  const terminals = replay.kinds.filter((kind) => kind === 'CompletionDone' || kind === 'CompletionFailed');
  if (terminals.length !== 1) return `${terminals.length} terminal events`;
  const last = replay.kinds.at(-1);
  if (last !== 'CompletionDone' && last !== 'CompletionFailed') return `ends with ${last}`;
  if ((last === 'CompletionDone') !== (row.status === 'completed')) return `${last} but status ${row.status}`;
  return undefined;
}

function repliesStoredOnce({ completions, messages, executions }: Evidence): Invariant {
  const problems: string[] = [];
  const finals = count(
    messages.filter((message) => message.role === 'assistant' && !message.hasToolCalls),
    (message) => message.completionId,
  );
  for (const row of completions) {
    const n = finals.get(row.id) ?? 0;
    if (n > 1) problems.push(`${row.id} has ${n} replies`);
    if (row.status === 'completed' && n !== 1) problems.push(`${row.id} completed with ${n} replies`);
  }
  const toolResults = count(
    messages.filter((message) => message.role === 'tool'),
    (message) => message.toolCallId,
  );
  for (const [callId, n] of toolResults) if (n > 1) problems.push(`tool call ${callId} answered ${n} times`);
  const runs = count(executions, (execution) => execution.toolCallId);
  for (const [callId, n] of runs) if (n > 1) problems.push(`tool call ${callId} executed ${n} times`);
  const failedRuns = executions.filter((execution) => execution.status === 'failed').length;
  return {
    name: 'no reply is stored twice',
    held: problems.length === 0,
    figures:
      `${[...finals.values()].reduce((a, b) => a + b, 0)} replies, ${toolResults.size} tool results, ` +
      `${executions.length} function executions (${failedRuns} failed); ${problems.length} problems${examples(problems)}`,
  };
}

/**
 * Whatever died mid-way, what the server sends upstream stays a request the API accepts (tool calls paired with
 * their results): otherwise every later turn of that conversation fails.
 */
function requestsValid({ requests }: Evidence): Invariant {
  const refused = requests.filter(
    (request) => request.httpStatus === 400 && request.fault?.type !== 'bad_request',
  );
  return {
    name: 'every upstream request is valid (conversations stay usable)',
    held: refused.length === 0,
    figures: `${requests.length} upstream requests, ${refused.length} refused with 400${examples(refused.map((request) => request.id))}`,
  };
}

/** The marker of the user message an upstream request answers (its last user message). */
function markerOf(request: LoggedRequest): string | undefined {
  const messages = request.body?.messages;
  if (!Array.isArray(messages)) return undefined;
  const lastUser = messages.findLast((message: { role?: string }) => message?.role === 'user') as
    | { content?: unknown }
    | undefined;
  return typeof lastUser?.content === 'string' ? MARKER.exec(lastUser.content)?.[0] : undefined;
}

function usageCountedOnce({ completions, requests, usageReport }: Evidence): Invariant {
  const models = new ModelTable();
  const byMarker = new Map<string, LoggedRequest[]>();
  for (const request of requests) {
    const marker = markerOf(request);
    if (marker) byMarker.set(marker, [...(byMarker.get(marker) ?? []), request]);
  }
  const problems: string[] = [];
  let exact = 0;
  let bounded = 0;
  let lost = 0;
  let lostTokens = 0;
  for (const row of completions) {
    const sent = byMarker.get(row.idempotencyKey ?? '') ?? [];
    const served = sent.filter((request) => request.usage);
    const prompt = served.reduce((sum, request) => sum + (request.usage?.prompt_tokens ?? 0), 0);
    const reply = served.reduce((sum, request) => sum + (request.usage?.completion_tokens ?? 0), 0);
    const clean = row.status === 'completed' && served.every((request) => request.status === 'completed');
    const expectedCost = costUsd(models.get(row.model), row);
    if (Math.abs(expectedCost - row.costUsd) > 1e-9)
      problems.push(`${row.id} costs ${row.costUsd}, not ${expectedCost}`);
    if (clean) {
      exact++;
      if (row.promptTokens !== prompt || row.completionTokens !== reply)
        problems.push(
          `${row.id} counted ${row.promptTokens}+${row.completionTokens}, upstream ${prompt}+${reply}`,
        );
    } else if (row.errorMessage?.includes('instance running this completion stopped')) {
      // The dead instance held the run's usage in memory: what it spent upstream is not recorded anywhere.
      lost++;
      lostTokens += prompt + reply - row.promptTokens - row.completionTokens;
    } else {
      bounded++;
      if (row.promptTokens > prompt || row.completionTokens > reply)
        problems.push(
          `${row.id} counted ${row.promptTokens}+${row.completionTokens}, more than upstream ${prompt}+${reply}`,
        );
    }
  }
  const sum = (pick: (row: CompletionRecord) => number) =>
    completions.reduce((total, row) => total + pick(row), 0);
  const totals = {
    promptTokens: sum((row) => row.promptTokens),
    completionTokens: sum((row) => row.completionTokens),
    costUsd: sum((row) => row.costUsd),
  };
  if (
    usageReport.completions !== completions.length ||
    usageReport.promptTokens !== totals.promptTokens ||
    usageReport.completionTokens !== totals.completionTokens ||
    Math.abs(usageReport.costUsd - totals.costUsd) > 1e-6
  )
    problems.push(
      `the usage report says ${JSON.stringify(usageReport)}, the completions ${JSON.stringify(totals)}`,
    );
  return {
    name: 'usage and cost are counted once',
    held: problems.length === 0,
    figures:
      `${exact} clean runs equal to the upstream's usage, ${bounded} cut-short runs at most it; usage report = ` +
      `sum of completions (${totals.promptTokens + totals.completionTokens} tokens, $${totals.costUsd.toFixed(4)}); ` +
      `${lost} runs lost with a killed instance left ${lostTokens} upstream tokens unrecorded; ` +
      `${problems.length} problems${examples(problems)}`,
  };
}

/**
 * A token bucket of `capacity` refilled over `windowMs` lets through at most capacity + rate × length requests in
 * any interval. Checked over every interval between two logged arrivals at the simulator.
 */
function rateLimitHeld({ requests, settings }: Evidence): Invariant {
  const { requests: capacity, windowMs } = settings.rateLimit;
  const times = requests.map((request) => request.startedAt).sort((a, b) => a - b);
  const rate = capacity / windowMs;
  let worst = { excess: Number.NEGATIVE_INFINITY, count: 0, spanMs: 0 };
  for (let i = 0; i < times.length; i++) {
    for (let j = i; j < times.length; j++) {
      const spanMs = (times[j] ?? 0) - (times[i] ?? 0);
      const allowed = capacity + rate * (spanMs + ARRIVAL_JITTER_MS);
      const excess = j - i + 1 - allowed;
      if (excess > worst.excess) worst = { excess, count: j - i + 1, spanMs };
    }
  }
  let peak = 0;
  for (let i = 0, j = 0; j < times.length; j++) {
    while ((times[j] ?? 0) - (times[i] ?? 0) >= windowMs) i++;
    peak = Math.max(peak, j - i + 1);
  }
  return {
    name: 'the rate limit held at the upstream',
    held: worst.excess <= 0,
    figures:
      `${times.length} upstream requests at ${capacity} per ${windowMs / 1000} s: busiest window ${peak} ` +
      `(bucket allows ${2 * capacity} with its burst); tightest interval ${worst.count} in ${worst.spanMs} ms ` +
      `(${Math.floor(capacity + rate * (worst.spanMs + ARRIVAL_JITTER_MS))} allowed)`,
  };
}

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const match = /^(\w+)(?:\{([^}]*)\})?\s+(\S+)$/.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const [, key = '', value = ''] of (match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)) labels[key] = value;
    samples.push({ name: match[1] ?? '', labels, value: Number(match[3]) });
  }
  return samples;
}

/**
 * The limiter's own wait histogram (summed over every instance life, each read before it was killed): every wait
 * falls in a bucket at or below the first bucket bound that is at least RATE_LIMIT_MAX_WAIT.
 */
function waitsBounded({ scrapes, settings }: Evidence): Invariant {
  const maxWaitSeconds = settings.rateLimit.maxWaitMs / 1000;
  const buckets = new Map<number, number>();
  let waits = 0;
  let rejected = 0;
  for (const scrape of scrapes) {
    const samples = parseMetrics(scrape.text).filter((sample) => sample.labels.limit === 'upstream');
    for (const sample of samples) {
      if (sample.name === 'agent_rate_limit_wait_seconds_bucket') {
        const le = Number(sample.labels.le);
        buckets.set(le, (buckets.get(le) ?? 0) + sample.value);
      }
      if (sample.name === 'agent_rate_limit_wait_seconds_count') waits += sample.value;
      if (sample.name === 'agent_rate_limit_rejections_total') rejected += sample.value;
    }
  }
  const bounds = [...buckets.keys()].sort((a, b) => a - b);
  const bound = bounds.find((le) => le >= maxWaitSeconds) ?? Number.POSITIVE_INFINITY;
  const slowest = bounds.find((le) => (buckets.get(le) ?? 0) >= waits);
  return {
    name: 'no request waited beyond its maximum wait',
    held: (buckets.get(bound) ?? 0) === waits,
    figures:
      `${waits} upstream requests through the limiter over ${scrapes.length} instance lives, the slowest within ` +
      `${slowest} s (RATE_LIMIT_MAX_WAIT ${maxWaitSeconds} s, histogram bound ${bound} s); ` +
      `${rejected} refused with RATE_LIMITED`,
  };
}

function memoryReturned({ memory }: Evidence): Invariant {
  const { baseline, end } = memory;
  const allowed = baseline.heapUsedBytes * (1 + HEAP_TOLERANCE.ratio) + HEAP_TOLERANCE.bytes;
  const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  return {
    name: "the server's memory came back to its baseline",
    held: end.heapUsedBytes <= allowed,
    figures:
      `survivor heap after GC ${mb(baseline.heapUsedBytes)} -> ${mb(end.heapUsedBytes)} (allowed ${mb(allowed)}); ` +
      `RSS ${mb(baseline.rssBytes)} -> ${mb(end.rssBytes)}`,
  };
}
