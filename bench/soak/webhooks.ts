import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The webhook functions the soak registers, each answered by the local webhook server below. */
export const SOAK_FUNCTIONS = {
  /** Answers at once. */
  soak_lookup: { path: '/lookup', description: 'Look up the stock level of a product.' },
  /** Answers after 0.2-2.5 s: beyond FUNCTION_TIMEOUT_MS some of the time, so some calls time out. */
  soak_slow: { path: '/slow', description: 'Estimate the delivery date of a parcel.' },
  /** Answers HTTP 500 half of the time. */
  soak_flaky: { path: '/flaky', description: 'Reserve a pickup slot at a store.' },
} as const;

export type SoakFunction = keyof typeof SOAK_FUNCTIONS;

const PARAMETERS = {
  type: 'object',
  properties: { item: { type: 'string', description: 'What the call is about' } },
  required: ['item'],
};

/** A small HTTP server on 127.0.0.1 playing the webhooks: fast, slow and failing ones. */
export class WebhookServer {
  private readonly server: Server;
  private readonly random: () => number;
  calls = 0;

  constructor(random: () => number) {
    this.random = random;
    this.server = createServer((req, res) => {
      this.calls++;
      // The body is read (and ignored) so the caller never sees a reset while still writing.
      req.resume();
      req.once('end', () => {
        const answer = (status: number, body: unknown) => {
          if (res.destroyed) return;
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(body));
        };
        if (req.url === SOAK_FUNCTIONS.soak_slow.path) {
          const timer = setTimeout(() => answer(200, { eta: '2 days' }), 200 + this.random() * 2300);
          res.once('close', () => clearTimeout(timer));
        } else if (req.url === SOAK_FUNCTIONS.soak_flaky.path && this.random() < 0.5) {
          answer(500, { error: 'pickup service unavailable' });
        } else answer(200, { ok: true, stock: 7 });
      });
    });
  }

  async listen(): Promise<void> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
  }

  get origin(): string {
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  /** The `registerFunction` inputs for every soak function. */
  registrations() {
    return Object.entries(SOAK_FUNCTIONS).map(([name, { path, description }]) => ({
      name,
      description,
      parameters: PARAMETERS,
      webhookUrl: `${this.origin}${path}`,
    }));
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }
}
