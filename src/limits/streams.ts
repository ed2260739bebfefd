/** Counts open streams per owner, so one client cannot hold every stream the server can serve. */
export interface StreamSlots {
  /** A release function when a slot was free (call it once, when the stream ends), or null when all are taken. */
  acquire(owner: string, limit: number): Promise<(() => Promise<void>) | null>;
}

export class MemoryStreamSlots implements StreamSlots {
  private readonly open = new Map<string, number>();

  async acquire(owner: string, limit: number): Promise<(() => Promise<void>) | null> {
    const count = this.open.get(owner) ?? 0;
    if (count >= limit) return null;
    this.open.set(owner, count + 1);
    let released = false;
    return async () => {
      if (released) return;
      released = true;
      const left = (this.open.get(owner) ?? 1) - 1;
      if (left > 0) this.open.set(owner, left);
      else this.open.delete(owner);
    };
  }
}
