import type { Clock } from './clock.js';

/** Where cached replies live: an LRU map in this process, or Redis shared by every instance. */
export interface CacheStore {
  get(key: string): Promise<string | null>;
  set(key: string, value: string): Promise<void>;
}

export interface CacheBounds {
  ttlMs: number;
  maxEntries: number;
}

export class MemoryCacheStore implements CacheStore {
  /** A Map iterates in insertion order, so re-inserting on every read keeps the least recently used first. */
  private readonly entries = new Map<string, { value: string; expiresAt: number }>();

  constructor(
    private readonly bounds: CacheBounds,
    private readonly clock: Clock,
  ) {}

  async get(key: string): Promise<string | null> {
    const entry = this.entries.get(key);
    if (!entry) return null;
    this.entries.delete(key);
    if (entry.expiresAt <= this.clock.now()) return null;
    this.entries.set(key, entry);
    return entry.value;
  }

  async set(key: string, value: string): Promise<void> {
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAt: this.clock.now() + this.bounds.ttlMs });
    for (const oldest of this.entries.keys()) {
      if (this.entries.size <= this.bounds.maxEntries) break;
      this.entries.delete(oldest);
    }
  }
}
