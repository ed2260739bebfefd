import { AppError, ErrorCode } from '../errors.js';
import { hashKey, type Principal, type PrincipalStore } from './principals.js';

/**
 * Resolves the caller of a request. In development mode (no API keys configured, loopback only) a request
 * without a key acts as the single local principal; a key that is sent is always checked. A key is looked up
 * again after `cacheTtlMs`, so a key revoked on another instance stops working here within that time.
 */
export class Authenticator {
  // Keyed by the key's hash, as revocation knows it.
  private readonly cache = new Map<string, { principal: Principal; expiresAt: number }>();

  constructor(
    private readonly store: PrincipalStore,
    private readonly devPrincipal: Principal | null,
    private readonly cacheTtlMs = 10_000,
  ) {}

  async authenticate(authorization: string | null | undefined): Promise<Principal | null> {
    const key = parseBearer(authorization);
    if (key === null) return this.devPrincipal;
    const hash = hashKey(key);
    const cached = this.cache.get(hash);
    if (cached && cached.expiresAt > Date.now()) return cached.principal;
    const principal = await this.store.authenticate(key);
    if (!principal) throw new AppError(ErrorCode.UNAUTHENTICATED, 'Invalid API key');
    this.cache.set(hash, { principal, expiresAt: Date.now() + this.cacheTtlMs });
    return principal;
  }

  /** Forgets a revoked key at once on this instance. */
  forget(keyHash: string): void {
    this.cache.delete(keyHash);
  }
}

function parseBearer(authorization: string | null | undefined): string | null {
  if (!authorization) return null;
  const match = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
  if (!match?.[1]) throw new AppError(ErrorCode.UNAUTHENTICATED, 'Authorization must be "Bearer <key>"');
  return match[1];
}
