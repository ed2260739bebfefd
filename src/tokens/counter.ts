import { setImmediate as nextTurn } from 'node:timers/promises';
import { get_encoding, type Tiktoken } from 'tiktoken';
import { tokenChunks } from './chunks.js';
import type { Encoding, ModelTable } from './models.js';

export type ChatRole = 'system' | 'user' | 'assistant' | 'tool';

export interface ToolCallLike {
  id: string;
  functionName: string;
  arguments: string;
}

export interface ChatMessageLike {
  role: ChatRole;
  content: string | null;
  name?: string | null;
  toolCalls?: ToolCallLike[] | null;
  toolCallId?: string | null;
}

export interface ToolDefinitionLike {
  name: string;
  description?: string;
  parameters: Record<string, unknown>;
}

export interface CountRequestInput {
  model: string;
  messages: readonly ChatMessageLike[];
  tools?: readonly ToolDefinitionLike[] | null;
}

/** Every message is wrapped as `<|start|>{role}\n{content}<|end|>` (OpenAI cookbook). */
export const TOKENS_PER_MESSAGE = 3;
/** A `name` field costs its own tokens plus one separator (OpenAI cookbook). */
export const TOKENS_PER_NAME = 1;
/** Every reply is primed with `<|start|>assistant<|message|>` (OpenAI cookbook). */
export const REPLY_PRIMING_TOKENS = 3;
/**
 * A tool call is rendered as a small JSON-ish wrapper around its name and arguments; OpenAI does not publish
 * the format, so each call is approximated as this constant + tokens(name) + tokens(arguments).
 */
export const TOKENS_PER_TOOL_CALL = 3;

/** Counting hands the event loop back after this long, so a huge text never stalls other requests. */
const SLICE_MS = 10;

// Encoders are immutable once built and costly to build (WASM + BPE ranks), so one per encoding for the process.
const encoders = new Map<Encoding, Tiktoken>();

function encoder(encoding: Encoding): Tiktoken {
  let enc = encoders.get(encoding);
  if (!enc) {
    enc = get_encoding(encoding);
    encoders.set(encoding, enc);
  }
  return enc;
}

/**
 * Function-definition overhead per the OpenAI cookbook ("How to count tokens with tiktoken", tools section).
 * For each function: funcInit + tokens(`name:description`) (one trailing '.' of the description dropped);
 * if it has properties: propInit once, then per top-level property propKey + tokens(`name:type:description`)
 * and, for an enum, enumInit + per item (enumItem + tokens(item)). funcEnd once for the whole tool list.
 * Nested object properties are not walked, as in the cookbook; the result is an approximation.
 */
const TOOL_CONSTANTS: Record<Encoding, { funcInit: number; funcEnd: number }> = {
  o200k_base: { funcInit: 7, funcEnd: 12 },
  cl100k_base: { funcInit: 10, funcEnd: 12 },
};
const PROP_INIT = 3;
const PROP_KEY = 3;
const ENUM_INIT = -3;
const ENUM_ITEM = 3;

/**
 * Token counts for text, messages, tool definitions and whole requests. `countRequest` is the single rule
 * shared by the platform (stored per-message counts) and the simulator (`usage.prompt_tokens`).
 * Counting is linear in the text (see chunks.ts) and yields to the event loop every SLICE_MS.
 */
export class TokenCounter {
  /** When counting last took the event loop, and when it last checked the time (see `encode`). */
  private sliceStartedAt = 0;
  private checkedAt = 0;

  constructor(private readonly models: ModelTable) {
    // Building an encoder blocks for hundreds of milliseconds: pay it at start, not inside a request.
    for (const encoding of Object.keys(TOOL_CONSTANTS) as Encoding[]) encoder(encoding);
  }

  async countText(text: string, model: string): Promise<number> {
    return this.encode(text, this.models.get(model).encoding);
  }

  /**
   * 3 + tokens(role) + tokens(content) [+ tokens(name) + 1] + per tool call (3 + tokens(name) + tokens(arguments)).
   * `toolCallId` is not counted: it addresses the result and is not rendered into the model's prompt. Nor is
   * the `name` of a tool message: OpenAI's tool messages have no name field, so it never reaches the wire.
   */
  async countMessage(message: ChatMessageLike, model: string): Promise<number> {
    const encoding = this.models.get(model).encoding;
    let tokens = TOKENS_PER_MESSAGE + (await this.encode(message.role, encoding));
    if (message.content) tokens += await this.encode(message.content, encoding);
    if (message.name && message.role !== 'tool')
      tokens += (await this.encode(message.name, encoding)) + TOKENS_PER_NAME;
    if (message.toolCalls) tokens += await this.countToolCalls(message.toolCalls, encoding);
    return tokens;
  }

  async countTools(tools: readonly ToolDefinitionLike[], model: string): Promise<number> {
    if (tools.length === 0) return 0;
    const encoding = this.models.get(model).encoding;
    const { funcInit, funcEnd } = TOOL_CONSTANTS[encoding];
    let tokens = funcEnd;
    for (const tool of tools) {
      tokens +=
        funcInit +
        (await this.encode(`${tool.name}:${withoutFinalPeriod(tool.description ?? '')}`, encoding));
      const properties = asRecord(tool.parameters.properties);
      const entries = properties ? Object.entries(properties) : [];
      if (entries.length === 0) continue;
      tokens += PROP_INIT;
      for (const [name, raw] of entries) {
        const schema = asRecord(raw) ?? {};
        tokens += PROP_KEY;
        if (Array.isArray(schema.enum)) {
          tokens += ENUM_INIT;
          for (const item of schema.enum) tokens += ENUM_ITEM + (await this.encode(String(item), encoding));
        }
        const type = Array.isArray(schema.type) ? schema.type.join(',') : String(schema.type ?? '');
        const description = typeof schema.description === 'string' ? schema.description : '';
        tokens += await this.encode(`${name}:${type}:${withoutFinalPeriod(description)}`, encoding);
      }
    }
    return tokens;
  }

  /** sum(countMessage) + 3 for reply priming + countTools when tools are offered. */
  async countRequest({ model, messages, tools }: CountRequestInput): Promise<number> {
    let tokens = REPLY_PRIMING_TOKENS;
    for (const message of messages) tokens += await this.countMessage(message, model);
    if (tools && tools.length > 0) tokens += await this.countTools(tools, model);
    return tokens;
  }

  /**
   * Tokens the model generated: tokens(content) + per tool call (3 + tokens(name) + tokens(arguments)),
   * i.e. the assistant message's count without its role wrapper.
   */
  async completionTokens(
    content: string | null,
    toolCalls: readonly ToolCallLike[] | null | undefined,
    model: string,
  ): Promise<number> {
    const encoding = this.models.get(model).encoding;
    let tokens = content ? await this.encode(content, encoding) : 0;
    if (toolCalls) tokens += await this.countToolCalls(toolCalls, encoding);
    return tokens;
  }

  private async countToolCalls(toolCalls: readonly ToolCallLike[], encoding: Encoding): Promise<number> {
    let tokens = 0;
    for (const call of toolCalls) {
      tokens +=
        TOKENS_PER_TOOL_CALL +
        (await this.encode(call.functionName, encoding)) +
        (await this.encode(call.arguments, encoding));
    }
    return tokens;
  }

  // encode_ordinary treats `<|endoftext|>` and friends as plain text instead of throwing.
  private async encode(text: string, encoding: Encoding): Promise<number> {
    let tokens = 0;
    for (const chunk of tokenChunks(text)) {
      const now = performance.now();
      // Checks come well under a millisecond apart while counting holds the loop; a longer gap means other
      // work ran in between, so this is a fresh slice and needs no extra turn.
      if (now - this.checkedAt > SLICE_MS) this.sliceStartedAt = now;
      else if (now - this.sliceStartedAt > SLICE_MS) {
        await nextTurn();
        this.sliceStartedAt = performance.now();
      }
      tokens += encoder(encoding).encode_ordinary(chunk).length;
      this.checkedAt = performance.now();
    }
    return tokens;
  }
}

function withoutFinalPeriod(text: string): string {
  return text.endsWith('.') ? text.slice(0, -1) : text;
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}
