export {
  type ChatMessageLike,
  type ChatRole,
  type CountRequestInput,
  REPLY_PRIMING_TOKENS,
  TOKENS_PER_MESSAGE,
  TOKENS_PER_NAME,
  TOKENS_PER_TOOL_CALL,
  TokenCounter,
  type ToolCallLike,
  type ToolDefinitionLike,
} from './counter.js';
export {
  BUILTIN_MODELS,
  costUsd,
  type Encoding,
  type ModelInfo,
  ModelTable,
  modelInfoSchema,
  type TokenUsageLike,
} from './models.js';
