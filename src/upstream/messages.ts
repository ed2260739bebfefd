import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import type { MessageRow } from '../storage/schema.js';

/** A stored message as the chat completions API takes it. */
export function toMessageParam(message: MessageRow): ChatCompletionMessageParam {
  const content = message.content ?? '';
  switch (message.role) {
    case 'system':
      return { role: 'system', content, ...(message.name ? { name: message.name } : {}) };
    case 'user':
      return { role: 'user', content, ...(message.name ? { name: message.name } : {}) };
    case 'tool':
      return { role: 'tool', content, tool_call_id: message.toolCallId ?? '' };
    case 'assistant':
      return {
        role: 'assistant',
        // A refusal goes back as what the model said, so the model sees its own earlier answer.
        content: message.content ?? message.refusal,
        ...(message.toolCalls?.length
          ? {
              tool_calls: message.toolCalls.map((call) => ({
                id: call.id,
                type: 'function' as const,
                function: { name: call.functionName, arguments: call.arguments },
              })),
            }
          : {}),
      };
  }
}
