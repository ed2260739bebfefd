import type { MessageRow } from '../storage/schema.js';

/**
 * The context as the model API accepts it: an assistant message with tool calls goes only together with a result
 * for each of its calls right after it, and a tool result only after its call. A pair left incomplete (its
 * instance died between the call and the results) is left out, rather than failing every later request of the
 * conversation with a 400.
 */
export function wholeToolPairs(context: MessageRow[]): MessageRow[] {
  const kept: MessageRow[] = [];
  for (let i = 0; i < context.length; i++) {
    const message = context[i] as MessageRow;
    if (message.role === 'tool') continue;
    const calls = message.toolCalls ?? [];
    if (calls.length === 0) {
      kept.push(message);
      continue;
    }
    const results: MessageRow[] = [];
    for (let next = context[i + 1]; next?.role === 'tool'; next = context[i + 1]) {
      results.push(next);
      i++;
    }
    const answered = new Set(results.map((result) => result.toolCallId));
    if (calls.every((call) => answered.has(call.id))) kept.push(message, ...results);
  }
  return kept;
}
