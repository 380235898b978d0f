/**
 * A small in-process cache whose entries expire `ttlMs` after they were
 * loaded (by the injected clock). For settings read on a hot path that may
 * lag a change made elsewhere by at most `ttlMs`. Callers that miss while a
 * load of the same key is under way share it, so an expiry under load costs
 * one read, not one per caller. Past `max` entries it starts over rather than
 * growing without bound.
 */
export class TtlCache<V> {
  private readonly entries = new Map<string, { value: V; until: number }>();
  private readonly loading = new Map<string, Promise<V>>();

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number,
    private readonly max = 10_000,
  ) {}

  async get(key: string, load: () => Promise<V>): Promise<V> {
    const hit = this.entries.get(key);
    if (hit && hit.until > this.now()) return hit.value;
    const pending = this.loading.get(key);
    if (pending) return pending;
    const loaded: Promise<V> = load().then(
      (value) => {
        if (this.loading.get(key) === loaded) {
          this.loading.delete(key);
          if (this.entries.size >= this.max) this.entries.clear();
          this.entries.set(key, { value, until: this.now() + this.ttlMs });
        }
        return value;
      },
      (err: unknown) => {
        if (this.loading.get(key) === loaded) this.loading.delete(key);
        throw err;
      },
    );
    this.loading.set(key, loaded);
    return loaded;
  }

  /** Forgets the entry: the next get() loads it again. */
  delete(key: string): void {
    this.entries.delete(key);
    // a load under way may have read the old value: its result is not kept
    this.loading.delete(key);
  }
}
