import type { TokenCounter } from '../tokens/index.js';
import { extractArguments } from './arguments.js';
import { type ChatRequest, type ChatTool, textOf, type ValidatedRequest } from './protocol.js';
import { formattedReply, REFUSAL_TEXT, type ResponseFormat } from './response-format.js';

export type FinishReason = 'stop' | 'tool_calls' | 'length';

export interface PlannedToolCall {
  id: string;
  name: string;
  arguments: string;
}

export interface ReplyPlan {
  content: string | null;
  /** The model declined: this is its `refusal`, and `content` is null. */
  refusal: string | null;
  /** `content` (or `refusal`) split into stream chunks: one word with its leading whitespace each. */
  pieces: string[];
  toolCalls: PlannedToolCall[];
  finishReason: FinishReason;
  completionTokens: number;
}

export interface PlanOptions {
  replyWords?: number;
  nextToolCallId: () => string;
  /** Raw arguments for the first tool call (the `tool_arguments` fault). */
  toolArgumentsOverride?: string;
  /** A reasoning model's thinking: part of the completion tokens and of the token limit, never of the text. */
  reasoningTokens?: number;
  /** The request's `response_format`, which the reply follows. */
  responseFormat?: ResponseFormat;
  /** Decline to answer (the `refusal` fault). */
  refuse?: boolean;
}

/**
 * The deterministic "model": tool calls when the last message is the user's and a tool is forced or matches,
 * a summary of the results when the last messages are tool results, otherwise a reply derived from the prompt.
 */
export async function planReply(
  validated: ValidatedRequest,
  counter: TokenCounter,
  options: PlanOptions,
): Promise<ReplyPlan> {
  const { request } = validated;
  const reasoning = options.reasoningTokens ?? 0;
  if (options.refuse) {
    const completionTokens = reasoning + (await counter.completionTokens(REFUSAL_TEXT, null, request.model));
    return {
      content: null,
      refusal: REFUSAL_TEXT,
      pieces: splitWords(REFUSAL_TEXT),
      toolCalls: [],
      finishReason: 'stop',
      completionTokens,
    };
  }
  const last = request.messages[request.messages.length - 1];
  const userText = last?.role === 'user' ? (textOf(last.content) ?? '') : undefined;
  const tools = userText === undefined ? [] : selectTools(request, userText);

  if (tools.length > 0 && userText !== undefined) {
    const toolCalls = tools.map((tool, i) => ({
      id: options.nextToolCallId(),
      name: tool.function.name,
      arguments:
        i === 0 && options.toolArgumentsOverride !== undefined
          ? options.toolArgumentsOverride
          : JSON.stringify(extractArguments(userText, tool.function.parameters ?? {})),
    }));
    const completionTokens =
      reasoning +
      (await counter.completionTokens(
        null,
        toolCalls.map((call) => ({ id: call.id, functionName: call.name, arguments: call.arguments })),
        request.model,
      ));
    return {
      content: null,
      refusal: null,
      pieces: [],
      toolCalls,
      finishReason: 'tool_calls',
      completionTokens,
    };
  }

  const text = toolResultsReply(request) ?? plainReply(request, options.replyWords);
  const full = options.responseFormat ? formattedReply(options.responseFormat, text) : text;
  const allPieces = splitWords(full);
  const requested = request.max_completion_tokens ?? request.max_tokens ?? undefined;
  const limit = requested === undefined ? undefined : Math.max(0, requested - reasoning);
  const kept =
    limit === undefined ? allPieces.length : await fittingPieces(allPieces, limit, counter, request.model);
  const pieces = kept === allPieces.length ? allPieces : allPieces.slice(0, kept);
  const content = pieces === allPieces ? full : pieces.join('');
  return {
    content,
    refusal: null,
    pieces,
    toolCalls: [],
    finishReason: pieces === allPieces ? 'stop' : 'length',
    completionTokens: reasoning + (await counter.completionTokens(content, null, request.model)),
  };
}

/**
 * Tools are considered only when the last message is the user's and `tool_choice` is not 'none'.
 * A forced function is called alone; otherwise every matching tool is called (in request order, only the first
 * when `parallel_tool_calls` is false); 'required' with no match calls the first tool.
 */
function selectTools(request: ChatRequest, userText: string): ChatTool[] {
  const tools = request.tools ?? [];
  const choice = request.tool_choice ?? 'auto';
  if (tools.length === 0 || choice === 'none') return [];
  if (typeof choice === 'object') return tools.filter((tool) => tool.function.name === choice.function.name);
  const matching = tools.filter((tool) => toolMatches(tool, userText));
  const selected = matching.length === 0 && choice === 'required' ? tools.slice(0, 1) : matching;
  return request.parallel_tool_calls === false ? selected.slice(0, 1) : selected;
}

const STOP_WORDS = new Set(
  (
    'about above after again against also another based because been before being below between both call calls ' +
    'check could data does doing done down during each either else every from function given have having here ' +
    'into just like make more most must only other over provide provided request result results return returns ' +
    'same should some such than that their them then there these they this those through tool under until used ' +
    'user uses using value values very what when where which while will with within would your'
  ).split(' '),
);

/** A tool matches when its name (or the name with `_`/`-` as spaces) or a description keyword is in the text. */
function toolMatches(tool: ChatTool, text: string): boolean {
  const lower = text.toLowerCase();
  const name = tool.function.name.toLowerCase();
  if (containsPhrase(lower, name) || containsPhrase(lower, name.replace(/[_-]+/g, ' '))) return true;
  const words = new Set(wordsOf(lower).map(stem));
  return wordsOf((tool.function.description ?? '').toLowerCase())
    .filter((word) => word.length >= 4 && !STOP_WORDS.has(word))
    .some((word) => words.has(stem(word)));
}

function containsPhrase(text: string, phrase: string): boolean {
  const at = text.indexOf(phrase);
  if (at < 0) return false;
  const before = text[at - 1];
  const after = text[at + phrase.length];
  return (before === undefined || !/\w/.test(before)) && (after === undefined || !/\w/.test(after));
}

function wordsOf(text: string): string[] {
  return text.match(/[a-z][a-z']*/g) ?? [];
}

function stem(word: string): string {
  return word.length > 4 && word.endsWith('s') && !word.endsWith('ss') ? word.slice(0, -1) : word;
}

/** "Function results: <name> returned <content>; ..." for the tool messages that end the conversation. */
function toolResultsReply(request: ChatRequest): string | undefined {
  const { messages } = request;
  let first = messages.length;
  while (first > 0 && messages[first - 1]?.role === 'tool') first--;
  if (first === messages.length) return undefined;
  const caller = messages[first - 1];
  const names = new Map(
    caller?.role === 'assistant'
      ? (caller.tool_calls ?? []).map((call) => [call.id, call.function.name])
      : [],
  );
  const parts = messages.slice(first).map((message) => {
    const id = message.role === 'tool' ? message.tool_call_id : '';
    return `${names.get(id) ?? id} returned ${textOf(message.content) ?? ''}`;
  });
  return `Function results: ${parts.join('; ')}.`;
}

const QUOTED_WORDS = 24;

function plainReply(request: ChatRequest, replyWords: number | undefined): string {
  const source = promptText(request);
  if (replyWords !== undefined) return generatedWords(source, replyWords);
  const words = source.split(/\s+/).filter(Boolean);
  const quoted = words.slice(0, QUOTED_WORDS).join(' ');
  return `Simulated reply to: ${quoted}${words.length > QUOTED_WORDS ? '...' : ''}`;
}

function promptText(request: ChatRequest): string {
  const { messages } = request;
  const lastUser = messages.findLast((message) => message.role === 'user');
  const source = lastUser ?? messages.findLast((message) => textOf(message.content));
  return textOf(source?.content) ?? '';
}

const VOCABULARY = (
  'the agent model reply token stream answer context message function result value system request quickly ' +
  'carefully simply clearly often always data plan step check review report total budget merchant purchase ' +
  'account balance rule limit risk score approve decline analyze compute return update track record note ' +
  'and with for from into over under about after before then while because so yet also'
).split(' ');

/** Exactly `count` words picked by a PRNG seeded from the prompt, so a prompt always gets the same words. */
function generatedWords(source: string, count: number): string {
  const next = mulberry32(fnv1a(source));
  const words: string[] = [];
  for (let i = 0; i < count; i++) words.push(VOCABULARY[Math.floor(next() * VOCABULARY.length)] ?? 'word');
  if (words.length === 0) return '';
  const first = words[0] ?? '';
  words[0] = first.charAt(0).toUpperCase() + first.slice(1);
  return `${words.join(' ')}.`;
}

function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

function mulberry32(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function splitWords(text: string): string[] {
  return text.match(/\s*\S+|\s+$/g) ?? [];
}

/** The longest prefix of pieces whose text fits in `maxTokens` (binary search: counts grow with the prefix). */
async function fittingPieces(
  pieces: string[],
  maxTokens: number,
  counter: TokenCounter,
  model: string,
): Promise<number> {
  if ((await counter.countText(pieces.join(''), model)) <= maxTokens) return pieces.length;
  let low = 0;
  let high = pieces.length - 1;
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if ((await counter.countText(pieces.slice(0, mid).join(''), model)) <= maxTokens) low = mid;
    else high = mid - 1;
  }
  return low;
}
