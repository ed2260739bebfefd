import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import type { Db } from '../storage/db.js';
import { apiKeys, principals } from '../storage/schema.js';

export interface Principal {
  id: string;
  name: string;
  scopes: string[];
}

export const DEV_PRINCIPAL_NAME = 'dev';

const hashKey = (key: string) => createHash('sha256').update(key).digest('hex');

/** Principals and their API keys; keys are stored only as SHA-256 hashes. */
export class PrincipalStore {
  constructor(private readonly db: Db) {}

  async ensurePrincipal(name: string, scopes: string[]): Promise<Principal> {
    const [row] = await this.db
      .insert(principals)
      .values({ id: randomUUID(), name, scopes })
      .onConflictDoUpdate({ target: principals.name, set: { scopes } })
      .returning();
    if (!row) throw new Error(`could not store principal ${name}`);
    return { id: row.id, name: row.name, scopes: row.scopes };
  }

  /** Binds a known key (from configuration) to a principal; idempotent across restarts and instances. */
  async ensureKey(principalName: string, key: string, scopes: string[]): Promise<Principal> {
    const principal = await this.ensurePrincipal(principalName, scopes);
    await this.db
      .insert(apiKeys)
      .values({ id: randomUUID(), principalId: principal.id, keyHash: hashKey(key) })
      .onConflictDoUpdate({ target: apiKeys.keyHash, set: { principalId: principal.id } });
    return principal;
  }

  /** Creates a fresh key; the plaintext is returned once and never stored. */
  async createKey(principalName: string, scopes: string[]): Promise<{ principal: Principal; key: string }> {
    const key = `ap_${randomBytes(24).toString('base64url')}`;
    const principal = await this.ensureKey(principalName, key, scopes);
    return { principal, key };
  }

  async authenticate(key: string): Promise<Principal | null> {
    const [row] = await this.db
      .select({ id: principals.id, name: principals.name, scopes: principals.scopes })
      .from(apiKeys)
      .innerJoin(principals, eq(apiKeys.principalId, principals.id))
      .where(eq(apiKeys.keyHash, hashKey(key)))
      .limit(1);
    return row ?? null;
  }
}
