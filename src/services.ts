import type { Authenticator, PrincipalStore } from './auth/index.js';
import type { CompletionService } from './completions/service.js';
import type { Config } from './config.js';
import type { ConversationSettings, settingsSchema } from './conversations/settings.js';
import type { ConversationStore } from './conversations/store.js';
import type { Database } from './storage/db.js';
import type { ModelTable, TokenCounter } from './tokens/index.js';

/** Everything app.ts builds once and hands to resolvers through the context. */
export interface Services {
  config: Config;
  database: Database;
  models: ModelTable;
  tokens: TokenCounter;
  principals: PrincipalStore;
  authenticator: Authenticator;
  conversations: ConversationStore;
  completions: CompletionService;
  settingsSchema: ReturnType<typeof settingsSchema>;
  defaultSettings: ConversationSettings;
}
