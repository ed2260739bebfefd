export { ArgumentValidator, forbiddenKey, unstorableJson } from './arguments.js';
export { FUNCTION_NAME, FunctionService, toolMessageContent } from './service.js';
export { type FunctionStats, FunctionStore, type McpToolDefinition } from './store.js';
export type {
  BuiltinFunction,
  ExecutionRequest,
  FunctionCallChoice,
  FunctionCallMode,
  FunctionContext,
  McpCaller,
  ToolCall,
  ToolOffer,
} from './types.js';
export { WebhookCaller } from './webhook.js';
