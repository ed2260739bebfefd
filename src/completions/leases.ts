import type { ConversationStore } from '../conversations/store.js';
import { ErrorCode } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { CompletionErrorRecord, CompletionRow } from '../storage/schema.js';
import type { CompletionEventLog } from './events.js';
import type { RunRegistry } from './runs.js';
import type { CompletionStore, Lease } from './store.js';

const INSTANCE_LOST: CompletionErrorRecord = {
  code: ErrorCode.UPSTREAM_UNAVAILABLE,
  message: 'The instance running this completion stopped before it ended; what arrived is kept as PARTIAL',
};

/**
 * Keeps this instance's leases on the completions it runs, and sweeps up after instances that died: a running
 * completion whose lease expired is marked FAILED, its reply so far stored as a PARTIAL message, and its
 * subscribers (on any instance) told with a CompletionFailed event.
 */
export class LeaseKeeper {
  private timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly deps: {
      lease: Lease;
      completions: CompletionStore;
      conversations: ConversationStore;
      events: CompletionEventLog;
      /** This instance's running completions and their replies so far. */
      runs: Pick<RunRegistry, 'active'>;
      logger: Logger;
    },
  ) {}

  start(): void {
    const { lease, logger } = this.deps;
    const guard = (work: () => Promise<unknown>, what: string) => () =>
      void work().catch((error: unknown) => logger.error({ err: error }, what));
    const renew = guard(
      () => this.deps.completions.renewLeases(lease, this.deps.runs.active()),
      'lease renewal failed',
    );
    const sweep = guard(() => this.sweep(), 'lease sweep failed');
    this.timers = [setInterval(renew, lease.ms / 3), setInterval(sweep, lease.ms / 2)];
    for (const timer of this.timers) timer.unref();
    sweep();
  }

  stop(): void {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
  }

  async sweep(): Promise<CompletionRow[]> {
    const { completions, conversations, events, logger } = this.deps;
    const expired = await completions.failExpired(INSTANCE_LOST);
    for (const row of expired) {
      if (row.partialContent) {
        const conversation = await conversations.get(row.ownerId, row.conversationId);
        const message = await conversations.append(conversation, {
          role: 'assistant',
          content: row.partialContent,
          status: 'partial',
          completionId: row.id,
        });
        await completions.finish(row.id, { messageId: message.id });
      }
      await events.appendRecovered(row.id, { kind: 'failed', error: INSTANCE_LOST });
      logger.warn({ completionId: row.id, instanceId: row.instanceId }, 'completion lost with its instance');
    }
    return expired;
  }
}
