/**
 * A small in-process cache whose entries expire `ttlMs` after they were
 * loaded (by the injected clock). For settings read on a hot path that may
 * lag a change made elsewhere by at most `ttlMs`. Callers that miss while a
 * load of the same key is under way share it, so an expiry under load costs
 * one read, not one per caller, and an entry in use is loaded again in the
 * last quarter of its life while it still serves, so that under steady use
 * nobody waits for the load (on the send path, every message of a site did,
 * once a second). Past `max` entries it starts over rather than growing
 * without bound.
 */
/** an entry used after this share of its life is loaded again in the background while it still serves */
const REFRESH_AT = 0.75;

export class TtlCache<V> {
  private readonly entries = new Map<string, { value: V; until: number; refreshAt: number }>();
  private readonly loading = new Map<string, Promise<V>>();

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number,
    private readonly max = 10_000,
  ) {}

  get(key: string, load: () => Promise<V>): Promise<V> {
    const now = this.now();
    const hit = this.entries.get(key);
    if (hit && hit.until > now) {
      // used late in its life: loaded again now, so that the callers after it find it fresh instead of all waiting for the load
      if (now >= hit.refreshAt && !this.loading.has(key)) this.load(key, load).catch(() => undefined);
      return Promise.resolve(hit.value);
    }
    return this.loading.get(key) ?? this.load(key, load);
  }

  private load(key: string, load: () => Promise<V>): Promise<V> {
    const loaded: Promise<V> = load().then(
      (value) => {
        if (this.loading.get(key) === loaded) {
          this.loading.delete(key);
          if (this.entries.size >= this.max) this.entries.clear();
          const now = this.now();
          this.entries.set(key, { value, until: now + this.ttlMs, refreshAt: now + this.ttlMs * REFRESH_AT });
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
