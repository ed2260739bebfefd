import type { PlannedToolCall, ReplyPlan } from './reply.js';

const FINGERPRINT = 'fp_simulator';
const TOOL_ARGUMENT_PIECE_CHARS = 8;

export const DONE_FRAME = 'data: [DONE]\n\n';

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  completion_tokens_details?: { reasoning_tokens: number };
}

/** What a chat completion response says, however it is sent. */
export interface ResponseParts {
  id: string;
  created: number;
  model: string;
  plan: ReplyPlan;
  usage: Usage;
}

/** The `chat.completion` object of a non-streamed response. */
export function completionBody({ id, created, model, plan, usage }: ResponseParts, includeUsage: boolean) {
  const message: Record<string, unknown> = {
    role: 'assistant',
    content: plan.content,
    refusal: plan.refusal,
  };
  if (plan.toolCalls.length > 0) message.tool_calls = plan.toolCalls.map(toolCallJson);
  return {
    id,
    object: 'chat.completion',
    created,
    model,
    system_fingerprint: FINGERPRINT,
    choices: [{ index: 0, message, logprobs: null, finish_reason: plan.finishReason }],
    ...(includeUsage ? { usage } : {}),
  };
}

function toolCallJson(call: PlannedToolCall) {
  return { id: call.id, type: 'function', function: { name: call.name, arguments: call.arguments } };
}

/**
 * All SSE frames of a response, built from one precomputed prefix so each chunk costs one small stringify.
 * `contentEnd` is the index after the last content/tool-call frame (the ones paced by `chunkDelayMs`).
 */
export function streamFrames(
  { id, created, model, plan, usage }: ResponseParts,
  includeUsage: boolean,
): { frames: string[]; contentEnd: number } {
  const head =
    `data: {"id":${JSON.stringify(id)},"object":"chat.completion.chunk","created":${created},` +
    `"model":${JSON.stringify(model)},"system_fingerprint":"${FINGERPRINT}","choices":[`;
  // With include_usage, OpenAI sends `"usage":null` on every chunk but the last.
  const tail = includeUsage ? '],"usage":null}\n\n' : ']}\n\n';
  const frame = (delta: string, finishReason = 'null') =>
    `${head}{"index":0,"delta":${delta},"logprobs":null,"finish_reason":${finishReason}}${tail}`;

  const refusing = plan.refusal !== null;
  const frames = [
    frame(
      refusing
        ? '{"role":"assistant","content":null,"refusal":""}'
        : plan.content === null
          ? '{"role":"assistant","content":null}'
          : '{"role":"assistant","content":""}',
    ),
  ];
  const field = refusing ? 'refusal' : 'content';
  for (const piece of plan.pieces) frames.push(frame(`{"${field}":${JSON.stringify(piece)}}`));
  for (const [index, call] of plan.toolCalls.entries()) {
    const opening = { index, id: call.id, type: 'function', function: { name: call.name, arguments: '' } };
    frames.push(frame(JSON.stringify({ tool_calls: [opening] })));
    for (const piece of splitArguments(call.arguments)) {
      frames.push(frame(JSON.stringify({ tool_calls: [{ index, function: { arguments: piece } }] })));
    }
  }
  const contentEnd = frames.length;
  frames.push(frame('{}', JSON.stringify(plan.finishReason)));
  if (includeUsage) frames.push(`${head}],"usage":${JSON.stringify(usage)}}\n\n`);
  frames.push(DONE_FRAME);
  return { frames, contentEnd };
}

function splitArguments(text: string): string[] {
  const codePoints = Array.from(text);
  const pieces: string[] = [];
  for (let i = 0; i < codePoints.length; i += TOOL_ARGUMENT_PIECE_CHARS) {
    pieces.push(codePoints.slice(i, i + TOOL_ARGUMENT_PIECE_CHARS).join(''));
  }
  return pieces;
}
