export { ArgumentValidator, forbiddenKey } from './arguments.js';
export {
  type BuiltinFunction,
  type ExecutionRequest,
  FUNCTION_NAME,
  type FunctionCallChoice,
  type FunctionCallMode,
  type FunctionContext,
  FunctionService,
  type ToolCall,
  type ToolOffer,
  toolMessageContent,
} from './service.js';
export { type FunctionStats, FunctionStore } from './store.js';
export { WebhookCaller } from './webhook.js';
