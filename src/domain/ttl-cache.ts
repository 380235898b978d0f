/**
 * A small in-process cache whose entries expire `ttlMs` after they were
 * loaded (by the injected clock). For settings read on a hot path that may
 * lag a change made elsewhere by at most `ttlMs`. Callers that miss while a
 * load of the same key is under way share it, so an expiry under load costs
 * one read, not one per caller, and an entry in use is loaded again in the
 * last quarter of its life while it still serves, so that under steady use
 * nobody waits for the load (on the send path, every message of a site did,
 * once a second, and one in forty of a busy session's every few seconds:
 * bench/RESULTS.md, 2026-12-08). Past `max` entries it starts over rather
 * than growing without bound.
 */

/** an entry used after this share of its life is loaded again in the background while it still serves */
const REFRESH_AT = 0.75;

export interface TtlCacheOptions<V> {
  ttlMs: number;
  now(): number;
  /** past this many entries it starts over (default 10,000) */
  max?: number;
  /**
   * Spreads each entry's life over the second half of `ttlMs` by this
   * random number in [0, 1): values loaded together (a burst of first
   * uses) then do not all expire, and wait for their loads, together.
   */
  spread?: () => number;
  /** whether a loaded value is kept (default: every one) */
  keep?(value: V): boolean;
}

export class TtlCache<V> {
  private readonly entries = new Map<string, { value: V; until: number; refreshAt: number }>();
  /** loads under way: concurrent callers share one; one that a delete overtook is not kept */
  private readonly loading = new Map<string, Promise<V>>();

  constructor(private readonly opts: TtlCacheOptions<V>) {}

  get(key: string, load: () => Promise<V>): Promise<V> {
    const now = this.opts.now();
    const hit = this.entries.get(key);
    if (hit && hit.until > now) {
      // used late in its life: loaded again now, so that the callers after it find it fresh instead of all waiting for the load
      if (now >= hit.refreshAt && !this.loading.has(key)) this.load(key, load).catch(() => undefined);
      return Promise.resolve(hit.value);
    }
    return this.loading.get(key) ?? this.load(key, load);
  }

  /** Forgets the entry: the next get() loads it again, and a load under way (which may have read the old value) is not kept. */
  delete(key: string): void {
    this.entries.delete(key);
    this.loading.delete(key);
  }

  /** Forgets every entry, and every load under way. */
  clear(): void {
    this.entries.clear();
    this.loading.clear();
  }

  private load(key: string, load: () => Promise<V>): Promise<V> {
    const loaded: Promise<V> = load().then(
      (value) => {
        // deleted meanwhile: what it read may predate the change
        if (this.loading.get(key) === loaded) {
          this.loading.delete(key);
          this.keep(key, value);
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

  private keep(key: string, value: V): void {
    if (this.opts.keep && !this.opts.keep(value)) {
      this.entries.delete(key);
      return;
    }
    if (this.entries.size >= (this.opts.max ?? 10_000)) this.entries.clear();
    const now = this.opts.now();
    const life = this.opts.ttlMs * (this.opts.spread ? 1 - this.opts.spread() / 2 : 1);
    this.entries.set(key, { value, until: now + life, refreshAt: now + life * REFRESH_AT });
  }
}
