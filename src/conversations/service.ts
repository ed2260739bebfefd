import { badInput } from '../errors.js';
import type { NewestFirstCursor } from '../storage/newest-first.js';
import type { ConversationRow, MessageRow } from '../storage/schema.js';
import type { ModelTable } from '../tokens/index.js';
import { parseInput, withoutNullish } from '../validation.js';
import { type ConversationSettings, checkModelSettings, settingsSchema } from './settings.js';
import type { ContextStrategy, ConversationStore, Role } from './store.js';

export interface CreateConversationInput {
  title?: string | null;
  systemPrompt?: string | null;
  /** Settings chosen now; the rest come from the defaults (OPENAI_MODEL and the OPENAI_* settings). */
  settings?: { [K in keyof ConversationSettings]?: ConversationSettings[K] | null | undefined };
  contextStrategy?: ContextStrategy | null;
}

export interface AddMessageInput {
  conversationId: string;
  role: Role;
  content: string;
  name?: string | null;
}

/** OpenAI's rule for a participant's name. */
const PARTICIPANT_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

/**
 * Conversations as clients see them: the owner's own only (every entry point takes the owner), settings checked
 * against the model before anything is stored, hand-written messages validated.
 */
export class ConversationService {
  private readonly settingsSchema;

  constructor(
    private readonly deps: { store: ConversationStore; models: ModelTable; defaults: ConversationSettings },
  ) {
    this.settingsSchema = settingsSchema(deps.models);
  }

  create(ownerId: string, input: CreateConversationInput): Promise<ConversationRow> {
    const settings = this.settings(this.deps.defaults, input.settings ?? {}, 'input.settings');
    return this.deps.store.create(ownerId, {
      title: input.title,
      systemPrompt: input.systemPrompt,
      settings,
      contextStrategy: input.contextStrategy,
    });
  }

  /**
   * `base` with the settings chosen now, each in range, the model accepted, and nothing the model would refuse
   * (a reasoning effort it does not document, sampling parameters a reasoning model takes only at their default).
   */
  settings(
    base: ConversationSettings,
    chosen: CreateConversationInput['settings'],
    prefix = 'input',
  ): ConversationSettings {
    const valid = withoutNullish(parseInput(this.settingsSchema, withoutNullish(chosen ?? {}), prefix));
    const settings = { ...base, ...valid };
    checkModelSettings(this.deps.models.get(settings.model), valid, settings.reasoningEffort, prefix);
    return settings;
  }

  get(ownerId: string, id: string): Promise<ConversationRow> {
    return this.deps.store.get(ownerId, id);
  }

  list(ownerId: string, after: NewestFirstCursor | null, limit: number): Promise<ConversationRow[]> {
    return this.deps.store.list(ownerId, after, limit);
  }

  delete(ownerId: string, id: string): Promise<void> {
    return this.deps.store.delete(ownerId, id);
  }

  tokenCount(conversationId: string): Promise<number> {
    return this.deps.store.tokenCount(conversationId);
  }

  /** A message by id, for a caller that holds its completion (already checked as the owner's). */
  message(id: string): Promise<MessageRow | null> {
    return this.deps.store.message(id);
  }

  /** The store underneath, for tests and benchmarks that set up history directly. */
  get store(): ConversationStore {
    return this.deps.store;
  }

  /** Appends a message a client wrote; TOOL messages come only from function executions. */
  async addMessage(ownerId: string, input: AddMessageInput): Promise<MessageRow> {
    if (input.role === 'tool') {
      throw badInput('input.role', 'TOOL messages are written by function executions, never added by hand');
    }
    if (input.name != null && !PARTICIPANT_NAME.test(input.name)) {
      throw badInput('input.name', `must match ${PARTICIPANT_NAME.source}`);
    }
    const conversation = await this.deps.store.get(ownerId, input.conversationId);
    return this.deps.store.append(conversation, {
      role: input.role,
      content: input.content,
      name: input.name,
    });
  }
}
