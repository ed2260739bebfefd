import { get_encoding, type Tiktoken } from 'tiktoken';
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
 */
export class TokenCounter {
  constructor(private readonly models: ModelTable) {}

  countText(text: string, model: string): number {
    return this.encode(text, this.models.get(model).encoding);
  }

  /**
   * 3 + tokens(role) + tokens(content) [+ tokens(name) + 1] + per tool call (3 + tokens(name) + tokens(arguments)).
   * `toolCallId` is not counted: it addresses the result and is not rendered into the model's prompt. Nor is
   * the `name` of a tool message: OpenAI's tool messages have no name field, so it never reaches the wire.
   */
  countMessage(message: ChatMessageLike, model: string): number {
    const encoding = this.models.get(model).encoding;
    let tokens = TOKENS_PER_MESSAGE + this.encode(message.role, encoding);
    if (message.content) tokens += this.encode(message.content, encoding);
    if (message.name && message.role !== 'tool')
      tokens += this.encode(message.name, encoding) + TOKENS_PER_NAME;
    if (message.toolCalls) tokens += this.countToolCalls(message.toolCalls, encoding);
    return tokens;
  }

  countTools(tools: readonly ToolDefinitionLike[], model: string): number {
    if (tools.length === 0) return 0;
    const encoding = this.models.get(model).encoding;
    const { funcInit, funcEnd } = TOOL_CONSTANTS[encoding];
    let tokens = funcEnd;
    for (const tool of tools) {
      tokens +=
        funcInit + this.encode(`${tool.name}:${withoutFinalPeriod(tool.description ?? '')}`, encoding);
      const properties = asRecord(tool.parameters.properties);
      const entries = properties ? Object.entries(properties) : [];
      if (entries.length === 0) continue;
      tokens += PROP_INIT;
      for (const [name, raw] of entries) {
        const schema = asRecord(raw) ?? {};
        tokens += PROP_KEY;
        if (Array.isArray(schema.enum)) {
          tokens += ENUM_INIT;
          for (const item of schema.enum) tokens += ENUM_ITEM + this.encode(String(item), encoding);
        }
        const type = Array.isArray(schema.type) ? schema.type.join(',') : String(schema.type ?? '');
        const description = typeof schema.description === 'string' ? schema.description : '';
        tokens += this.encode(`${name}:${type}:${withoutFinalPeriod(description)}`, encoding);
      }
    }
    return tokens;
  }

  /** sum(countMessage) + 3 for reply priming + countTools when tools are offered. */
  countRequest({ model, messages, tools }: CountRequestInput): number {
    let tokens = REPLY_PRIMING_TOKENS;
    for (const message of messages) tokens += this.countMessage(message, model);
    if (tools && tools.length > 0) tokens += this.countTools(tools, model);
    return tokens;
  }

  /**
   * Tokens the model generated: tokens(content) + per tool call (3 + tokens(name) + tokens(arguments)),
   * i.e. the assistant message's count without its role wrapper.
   */
  completionTokens(
    content: string | null,
    toolCalls: readonly ToolCallLike[] | null | undefined,
    model: string,
  ): number {
    const encoding = this.models.get(model).encoding;
    let tokens = content ? this.encode(content, encoding) : 0;
    if (toolCalls) tokens += this.countToolCalls(toolCalls, encoding);
    return tokens;
  }

  private countToolCalls(toolCalls: readonly ToolCallLike[], encoding: Encoding): number {
    let tokens = 0;
    for (const call of toolCalls) {
      tokens +=
        TOKENS_PER_TOOL_CALL +
        this.encode(call.functionName, encoding) +
        this.encode(call.arguments, encoding);
    }
    return tokens;
  }

  // encode_ordinary treats `<|endoftext|>` and friends as plain text instead of throwing.
  private encode(text: string, encoding: Encoding): number {
    return text.length === 0 ? 0 : encoder(encoding).encode_ordinary(text).length;
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
