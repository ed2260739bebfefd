import type { ConversationStore } from '../conversations/store.js';
import { type FunctionService, toolMessageContent } from '../functions/index.js';
import type { CompletionRow, ToolCallRecord } from '../storage/schema.js';
import type { ApprovalGate } from './approval-gate.js';
import type { CompletionEventLog } from './events.js';
import { type CompletionRun, pausedState, type RunState } from './run-state.js';

/**
 * The model's tool calls in the loop: stored with the assistant message, run (those that may run now), and each
 * answered by a `tool` message; calls that need a person's decision pause the run until they are decided.
 */
export class ToolCalls {
  constructor(
    private readonly deps: {
      conversations: ConversationStore;
      events: CompletionEventLog;
      functions: FunctionService;
      gate: ApprovalGate;
    },
  ) {}

  /**
   * Stores the assistant's tool calls (from the `step`-th request) and answers those that may run now. When some
   * must wait for approval the run pauses: the completion returned (AWAITING_APPROVAL, or as a lease sweep left
   * it) ends this run, and another may resume it. Null: the loop goes on.
   */
  async run(
    run: CompletionRun,
    reply: { content: string; toolCalls: ToolCallRecord[] },
    step: number,
  ): Promise<CompletionRow | null> {
    const { completion } = run;
    await this.deps.conversations.append(run.conversation, {
      role: 'assistant',
      content: reply.content || null,
      toolCalls: reply.toolCalls,
      completionId: completion.id,
    });
    run.content = '';
    const { now, waiting } = this.deps.gate.split(run.offer, reply.toolCalls, run.request.requireApproval);
    await this.answer(run, now);
    if (waiting.length === 0) return null;
    return this.deps.gate.pause(completion, waiting, pausedState(run, step));
  }

  /** A resumed run's calls as decided: the approved ones run, the others get a result saying why they did not. */
  async answerDecided(run: CompletionRun, state: RunState): Promise<void> {
    const refused = new Map<string, string>();
    const calls: ToolCallRecord[] = [];
    for (const decided of await this.deps.gate.pauseCalls(run.completion.id, state)) {
      const { toolCallId, functionName } = decided;
      calls.push({ id: toolCallId, functionName, arguments: JSON.stringify(decided.arguments) });
      if (decided.status !== 'approved') refused.set(toolCallId, await this.deps.gate.notRun(decided));
    }
    await this.answer(run, calls, refused);
  }

  /**
   * Runs tool calls concurrently (but those `refused`, answered with the result given) and stores each result as
   * a `tool` message, even when cancelled, so the calls never lack their answers in the conversation.
   */
  private async answer(
    run: CompletionRun,
    calls: ToolCallRecord[],
    refused: ReadonlyMap<string, string> = new Map(),
  ): Promise<void> {
    const { conversations, events, functions } = this.deps;
    const { completion } = run;
    const results = await Promise.all(
      calls.map(async (call) => {
        const refusal = refused.get(call.id);
        if (refusal !== undefined) return refusal;
        const execution = await functions.executeToolCall(
          completion.ownerId,
          run.offer,
          call,
          completion.id,
          run,
        );
        events.append(completion.id, { kind: 'functionExecuted', execution });
        return toolMessageContent(execution);
      }),
    );
    for (const [index, call] of calls.entries()) {
      await conversations.append(run.conversation, {
        role: 'tool',
        content: results[index] ?? '',
        name: call.functionName,
        toolCallId: call.id,
        completionId: completion.id,
      });
    }
    run.signal.throwIfAborted();
  }
}
