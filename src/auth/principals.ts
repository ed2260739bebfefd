import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { and, asc, desc, eq, inArray, notInArray, type SQL } from 'drizzle-orm';
import { AppError, ErrorCode, notFound } from '../errors.js';
import type { Db } from '../storage/db.js';
import { apiKeys, principals } from '../storage/schema.js';

export interface Principal {
  id: string;
  name: string;
  scopes: string[];
  /** The key the request authenticated with: its budgets apply besides the principal's. Absent in dev mode. */
  apiKeyId?: string;
}

/** What an admin sees of a key: never the key itself, which exists only as its hash. */
export interface ApiKeyInfo {
  id: string;
  prefix: string;
  source: 'config' | 'created';
  principal: Principal;
  createdAt: Date;
  lastUsedAt: Date | null;
}

export interface ConfiguredKey {
  principal: string;
  key: string;
  scopes: string[];
}

export const DEV_PRINCIPAL_NAME = 'dev';

export const hashKey = (key: string) => createHash('sha256').update(key).digest('hex');
/** Enough of a key to tell it apart in a list (`ap_Xy12…`), too little to guess the rest. */
const prefixOf = (key: string) => key.slice(0, 7);
const sameScopes = (a: string[], b: string[]) => [...a].sort().join('|') === [...b].sort().join('|');

/** Principals and their API keys; keys are stored only as SHA-256 hashes. */
export class PrincipalStore {
  constructor(private readonly db: Db) {}

  /** The principal, created with `scopes` if new; configuration is the source of truth for its scopes. */
  async ensurePrincipal(name: string, scopes: string[]): Promise<Principal> {
    const [row] = await this.db
      .insert(principals)
      .values({ id: randomUUID(), name, scopes })
      .onConflictDoUpdate({ target: principals.name, set: { scopes } })
      .returning();
    if (!row) throw new Error(`could not store principal ${name}`);
    return { id: row.id, name: row.name, scopes: row.scopes };
  }

  /**
   * Makes the stored configuration keys exactly the API_KEYS list: each listed key is bound to its principal
   * (with the listed scopes), and a key that came from API_KEYS but is no longer listed stops working.
   */
  async syncConfiguredKeys(keys: ConfiguredKey[]): Promise<void> {
    for (const { principal: name, key, scopes } of keys) {
      const principal = await this.ensurePrincipal(name, scopes);
      await this.db
        .insert(apiKeys)
        .values({
          id: randomUUID(),
          principalId: principal.id,
          keyHash: hashKey(key),
          prefix: prefixOf(key),
          source: 'config',
        })
        .onConflictDoUpdate({
          target: apiKeys.keyHash,
          set: { principalId: principal.id, prefix: prefixOf(key), source: 'config' },
        });
    }
    const listed = keys.map(({ key }) => hashKey(key));
    await this.db
      .delete(apiKeys)
      .where(
        listed.length > 0
          ? and(eq(apiKeys.source, 'config'), notInArray(apiKeys.keyHash, listed))
          : eq(apiKeys.source, 'config'),
      );
  }

  /**
   * Creates a fresh key; the plaintext is returned once and never stored. A new principal gets `scopes`
   * (none when omitted); an existing one keeps its scopes, and asking for different ones is refused rather
   * than silently changing what its other keys may do.
   */
  async createKey(
    principalName: string,
    scopes: string[] | null,
  ): Promise<{ principal: Principal; key: string }> {
    const [existing] = await this.db.select().from(principals).where(eq(principals.name, principalName));
    if (existing && scopes !== null && !sameScopes(existing.scopes, scopes)) {
      throw new AppError(
        ErrorCode.BAD_USER_INPUT,
        `input.scopes: principal ${principalName} exists with scopes [${existing.scopes.join(', ')}]; ` +
          'omit scopes to add a key with those, or use another principal name',
        { field: 'input.scopes' },
      );
    }
    const principal = existing
      ? { id: existing.id, name: existing.name, scopes: existing.scopes }
      : await this.ensurePrincipal(principalName, scopes ?? []);
    const key = `ap_${randomBytes(24).toString('base64url')}`;
    await this.db.insert(apiKeys).values({
      id: randomUUID(),
      principalId: principal.id,
      keyHash: hashKey(key),
      prefix: prefixOf(key),
      source: 'created',
    });
    return { principal, key };
  }

  /** The principal with that id or name, if any. */
  async find(by: { id: string } | { name: string }): Promise<Principal | null> {
    const [row] = await this.db
      .select({ id: principals.id, name: principals.name, scopes: principals.scopes })
      .from(principals)
      .where('id' in by ? eq(principals.id, by.id) : eq(principals.name, by.name));
    return row ?? null;
  }

  /** Every key, newest first; or the one with `id`. */
  async listKeys(id?: string): Promise<ApiKeyInfo[]> {
    const rows = await this.db
      .select({ key: apiKeys, principal: principals })
      .from(apiKeys)
      .innerJoin(principals, eq(apiKeys.principalId, principals.id))
      .where(id === undefined ? undefined : eq(apiKeys.id, id))
      .orderBy(desc(apiKeys.createdAt), desc(apiKeys.id));
    return rows.map(({ key, principal }) => ({
      id: key.id,
      prefix: key.prefix,
      source: key.source,
      createdAt: key.createdAt,
      lastUsedAt: key.lastUsedAt,
      principal: { id: principal.id, name: principal.name, scopes: principal.scopes },
    }));
  }

  /** The principals with these names (those that exist). */
  byNames(names: readonly string[]): Promise<Principal[]> {
    return this.select(inArray(principals.name, [...names]));
  }

  /** The principals with these ids (those that still exist). */
  byIds(ids: readonly string[]): Promise<Principal[]> {
    return this.select(inArray(principals.id, [...ids]));
  }

  private select(where: SQL): Promise<Principal[]> {
    return this.db
      .select({ id: principals.id, name: principals.name, scopes: principals.scopes })
      .from(principals)
      .where(where)
      .orderBy(asc(principals.name));
  }

  /** Deletes a key; its hash is returned so the caller can drop it from caches. */
  async revokeKey(id: string): Promise<{ info: ApiKeyInfo; keyHash: string }> {
    const [info] = await this.listKeys(id);
    const [deleted] = await this.db.delete(apiKeys).where(eq(apiKeys.id, id)).returning();
    if (!info || !deleted) throw notFound('ApiKey', id);
    return { info, keyHash: deleted.keyHash };
  }

  /** The key's principal, recording when it was used; null for an unknown or revoked key. */
  async authenticate(key: string): Promise<Principal | null> {
    const [used] = await this.db
      .update(apiKeys)
      .set({ lastUsedAt: new Date() })
      .where(eq(apiKeys.keyHash, hashKey(key)))
      .returning({ principalId: apiKeys.principalId, apiKeyId: apiKeys.id });
    if (!used) return null;
    const principal = await this.find({ id: used.principalId });
    return principal && { ...principal, apiKeyId: used.apiKeyId };
  }
}
