import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { parseJson, readBody, sendEmpty, sendJson } from './http.js';
import type { RequestLog } from './request-log.js';
import { type Fault, faultSchema, type Latency, latencySchema, type SimulatorOptions } from './types.js';

const faultRequestSchema = z.object({ fault: faultSchema, times: z.number().int().positive().default(1) });
const usageSettingSchema = z.object({ omit: z.boolean() });

/** What tests steer while the simulator runs: faults for the next requests, latency, and whether usage is sent. */
export class Controls {
  latency: Required<Latency>;
  /** Whether responses leave `usage` out (see SimulatorOptions.omitUsage). */
  omitUsage: boolean;
  private readonly faults: { fault: Fault; remaining: number }[] = [];

  constructor(options: Pick<SimulatorOptions, 'firstTokenMs' | 'chunkDelayMs' | 'omitUsage'>) {
    this.latency = { firstTokenMs: options.firstTokenMs ?? 0, chunkDelayMs: options.chunkDelayMs ?? 0 };
    this.omitUsage = options.omitUsage ?? false;
  }

  setLatency(latency: Latency): void {
    this.latency = { ...this.latency, ...latency };
  }

  /** Queues a fault for the next `times` chat completion requests (FIFO; each request consumes one). */
  injectFault(fault: Fault, times: number): void {
    if (times > 0) this.faults.push({ fault, remaining: times });
  }

  clearFaults(): void {
    this.faults.length = 0;
  }

  /** The fault the request being answered gets, if one is queued. */
  takeFault(): Fault | undefined {
    const head = this.faults[0];
    if (!head) return undefined;
    if (--head.remaining <= 0) this.faults.shift();
    return head.fault;
  }

  /** Requests still to be answered with a fault. */
  queuedFaults(): number {
    return this.faults.reduce((sum, entry) => sum + entry.remaining, 0);
  }
}

/** The control API over HTTP (`/_simulator/*`), for a simulator in another process; SimulatorClient calls it. */
export async function serveControl(
  controls: Controls,
  log: RequestLog,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
): Promise<void> {
  const route = `${req.method} ${path}`;
  switch (route) {
    case 'POST /_simulator/faults': {
      const parsed = faultRequestSchema.safeParse(parseJson(await readBody(req)));
      if (!parsed.success) return refuse(res, parsed.error);
      controls.injectFault(parsed.data.fault, parsed.data.times);
      return sendJson(res, 200, { queued: controls.queuedFaults() });
    }
    case 'DELETE /_simulator/faults':
      controls.clearFaults();
      return sendEmpty(res);
    case 'POST /_simulator/latency': {
      const parsed = latencySchema.safeParse(parseJson(await readBody(req)));
      if (!parsed.success) return refuse(res, parsed.error);
      controls.setLatency(parsed.data);
      return sendJson(res, 200, controls.latency);
    }
    case 'POST /_simulator/usage': {
      const parsed = usageSettingSchema.safeParse(parseJson(await readBody(req)));
      if (!parsed.success) return refuse(res, parsed.error);
      controls.omitUsage = parsed.data.omit;
      return sendJson(res, 200, { omit: controls.omitUsage });
    }
    case 'GET /_simulator/requests':
      return sendJson(res, 200, { data: log.listed() });
    case 'DELETE /_simulator/requests':
      log.clear();
      return sendEmpty(res);
  }
  sendJson(res, 404, { error: { message: `Unknown simulator control route ${route}` } });
}

function refuse(res: ServerResponse, error: z.ZodError): void {
  sendJson(res, 400, { error: { message: error.message } });
}
