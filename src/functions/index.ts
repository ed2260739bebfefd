export { ArgumentValidator, forbiddenKey } from './arguments.js';
export { FUNCTION_NAME, FunctionService, toolMessageContent } from './service.js';
export { type FunctionStats, FunctionStore } from './store.js';
export type {
  BuiltinFunction,
  ExecutionRequest,
  FunctionCallChoice,
  FunctionCallMode,
  FunctionContext,
  ToolCall,
  ToolOffer,
} from './types.js';
export { WebhookCaller } from './webhook.js';
