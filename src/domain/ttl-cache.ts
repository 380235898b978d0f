/**
 * A small in-process cache whose entries expire `ttlMs` after they were
 * loaded (by the injected clock). For settings read on a hot path that may
 * lag a change made elsewhere by at most `ttlMs`. Past `max` entries it
 * starts over rather than growing without bound.
 */
export class TtlCache<V> {
  private readonly entries = new Map<string, { value: V; until: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number,
    private readonly max = 10_000,
  ) {}

  async get(key: string, load: () => Promise<V>): Promise<V> {
    const hit = this.entries.get(key);
    if (hit && hit.until > this.now()) return hit.value;
    const value = await load();
    if (this.entries.size >= this.max) this.entries.clear();
    this.entries.set(key, { value, until: this.now() + this.ttlMs });
    return value;
  }

  /** Forgets the entry: the next get() loads it again. */
  delete(key: string): void {
    this.entries.delete(key);
  }
}
