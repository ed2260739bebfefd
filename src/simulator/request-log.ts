import { EventEmitter } from 'node:events';
import type { IncomingHttpHeaders } from 'node:http';
import type { ListedRequest, SimulatedRequest, SimulatedRequestStatus, SimulatorEvent } from './types.js';

/** Headers that carry the caller's credentials (the real key, when a server is pointed at the simulator). */
const CREDENTIAL_HEADERS = ['authorization', 'api-key', 'cookie'];
/** Bodies bigger than this are left out of `GET /_simulator/requests`. */
const MAX_LISTED_BODY_BYTES = 16 * 1024;
const DEFAULT_LIMIT = 10_000;

interface Waiter {
  predicate: (request: SimulatedRequest) => boolean;
  resolve: (request: SimulatedRequest) => void;
  reject: (error: Error) => void;
}

/** The headers as received, with each credential replaced by `[redacted]`: the log never holds a key. */
function redact(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const redacted = { ...headers };
  for (const name of CREDENTIAL_HEADERS) if (name in redacted) redacted[name] = '[redacted]';
  return redacted;
}

/**
 * Every chat completion request with its live status, oldest dropped beyond `limit` so long benchmarks stay
 * bounded. Tests wait on it with `waitFor` or listen to its events.
 */
export class RequestLog {
  readonly entries: SimulatedRequest[] = [];
  private readonly events = new EventEmitter();
  private readonly waiters = new Set<Waiter>();

  constructor(private readonly limit = DEFAULT_LIMIT) {}

  /** Logs a new request (credentials redacted) and returns the entry to update as it goes. */
  add(request: SimulatedRequest): SimulatedRequest {
    const entry = { ...request, headers: redact(request.headers) };
    this.entries.push(entry);
    const excess = this.entries.length - this.limit;
    if (excess > 0) this.entries.splice(0, excess);
    this.events.emit('request', entry);
    this.notify(entry);
    return entry;
  }

  settle(entry: SimulatedRequest, status: Exclude<SimulatedRequestStatus, 'running'>): void {
    entry.status = status;
    entry.finishedAt = Date.now();
    this.events.emit(status, entry);
    this.notify(entry);
  }

  /** Lets waiters see an entry that changed in place (chunks sent); cheap when nobody waits. */
  notify(entry: SimulatedRequest): void {
    for (const waiter of this.waiters) if (waiter.predicate(entry)) waiter.resolve(entry);
  }

  /** Resolves with the first entry matching `predicate`, now or as soon as one changes to match. */
  waitFor(predicate: (request: SimulatedRequest) => boolean, timeoutMs: number): Promise<SimulatedRequest> {
    const existing = this.entries.find(predicate);
    if (existing) return Promise.resolve(existing);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`No simulated request matched within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter: Waiter = {
        predicate,
        resolve: (request) => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          resolve(request);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.waiters.add(waiter);
    });
  }

  on(event: SimulatorEvent, listener: (request: SimulatedRequest) => void): void {
    this.events.on(event, listener);
  }

  off(event: SimulatorEvent, listener: (request: SimulatedRequest) => void): void {
    this.events.off(event, listener);
  }

  clear(): void {
    this.entries.length = 0;
  }

  /** The log as `GET /_simulator/requests` lists it: bodies over 16 KiB left out. */
  listed(): ListedRequest[] {
    return this.entries.map(({ body, ...rest }) =>
      rest.bodyBytes > MAX_LISTED_BODY_BYTES ? rest : { ...rest, body },
    );
  }

  /** Fails every pending `waitFor` (the simulator is closing). */
  close(): void {
    for (const waiter of this.waiters) waiter.reject(new Error('The simulator was closed'));
    this.waiters.clear();
  }
}
