import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { DONE_FRAME } from './encoding.js';
import type { Headers } from './http.js';
import type { Fault, Latency } from './types.js';

/** Zero-delay streams are written in batches of about this size rather than one write per chunk. */
const WRITE_BATCH_CHARS = 64 * 1024;

export interface StreamCut {
  /** Stop after the role chunk and this many content chunks (the caller then drops the connection). */
  disconnectAfter?: number;
  /** Send nothing for `ms` after the role chunk and `afterChunks` content chunks. */
  stall?: { afterChunks: number; ms: number };
}

/** Where a fault cuts into a stream: a disconnect, or a stall mid-stream. */
export function streamCut(fault: Fault | undefined): StreamCut {
  if (fault?.type === 'disconnect') return { disconnectAfter: fault.afterChunks };
  if (fault?.type === 'stall' && fault.afterChunks !== undefined)
    return { stall: { afterChunks: fault.afterChunks, ms: fault.ms ?? Number.POSITIVE_INFINITY } };
  return {};
}

export interface StreamOptions {
  /** Read before each frame, so a latency change applies to streams under way. */
  latency: () => Required<Latency>;
  cut: StreamCut;
  signal: AbortSignal;
  /** Called after each write with the number of `data:` chunks it held (`[DONE]` not counted). */
  onWritten: (chunks: number) => void;
}

/**
 * Sends the SSE response head and its frames as soon as they are due: `firstTokenMs` before the role and first
 * content chunk, `chunkDelayMs` before each later content chunk. Frames due at the same time are written
 * together, a batch at a time. Resolves true once every frame due is written, false when `signal` aborted (the
 * client left).
 */
export async function sendStream(
  res: ServerResponse,
  { frames, contentEnd }: { frames: string[]; contentEnd: number },
  headers: Headers,
  { latency, cut, signal, onWritten }: StreamOptions,
): Promise<boolean> {
  const { disconnectAfter, stall } = cut;
  res.writeHead(200, {
    ...headers,
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
  });
  res.flushHeaders();
  const last = disconnectAfter === undefined ? frames.length : Math.min(frames.length, 1 + disconnectAfter);
  let batch = '';
  let batched = 0;
  const flush = async () => {
    if (batch === '') return;
    const drained = res.write(batch);
    const written = batched;
    batch = '';
    batched = 0;
    onWritten(written);
    if (!drained) await once(res, 'drain', { signal }).catch(() => undefined);
  };
  for (let i = 0; i < last; i++) {
    const { firstTokenMs, chunkDelayMs } = latency();
    const paced = i === 0 ? firstTokenMs : i >= 2 && i < contentEnd ? chunkDelayMs : 0;
    const wait = stall && i === 1 + stall.afterChunks ? paced + stall.ms : paced;
    if (wait > 0) {
      await flush();
      if (!(await pause(wait, signal))) return false;
    }
    const frame = frames[i] ?? '';
    batch += frame;
    if (frame !== DONE_FRAME) batched++;
    if (batch.length >= WRITE_BATCH_CHARS) await flush();
    if (signal.aborted) return false;
  }
  await flush();
  return !signal.aborted;
}

/** Resolves true after `ms`, or false as soon as `signal` aborts (an infinite `ms` waits only for the abort). */
export async function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return false;
  if (ms <= 0) return true;
  if (ms === Number.POSITIVE_INFINITY) {
    await once(signal, 'abort');
    return false;
  }
  return delay(ms, true, { signal }).catch(() => false);
}
