/**
 * Sessions as this instance last read them, for the send path: every message
 * checks its session, and reading it from the database each time cost the
 * embedded server about as much as storing the message.
 *
 * An entry serves until its session changes: every transition, on any
 * instance, is told to every instance (SessionChanges in domain/ports.ts),
 * and the owner of the cache calls `forget` when it hears of one (about
 * when a database read would have seen the change: one hop after the store
 * has it). So a message costs no look-up anywhere. Until 2026-12-07 each use
 * read a change stamp in Redis instead, a round trip before every message
 * was stored (bench/RESULTS.md). An entry also serves for at most `ttlMs`:
 * that bounds how long a transition that was never told (its instance died
 * in between) or whose word was missed goes unseen; a session in use is read
 * again shortly before (REFRESH_AT), without its callers waiting. Entries
 * are shared: callers must not change them.
 */
import type { Session } from './model.js';

/**
 * An entry used after this share of its life is read again in the
 * background while it still serves. Without it, a session in steady use
 * made one of its messages wait for that read every few seconds: at 1,000
 * msg/s over 100 sessions, one message in 40, which waited behind the
 * store's inserts (bench/RESULTS.md, 2026-12-08).
 */
const REFRESH_AT = 0.75;

export interface SessionCacheDeps {
  load(id: string): Promise<Session | null>;
  now(): number;
  ttlMs: number;
  /** past this many entries it starts over rather than growing without bound */
  max?: number;
  /** spreads the entries' lives (Math.random by default) */
  random?: () => number;
}

export class SessionCache {
  private readonly entries = new Map<string, { session: Session; until: number; refreshAt: number }>();
  /** loads under way: concurrent callers share one; one that a change overtook is not kept */
  private readonly loading = new Map<string, Promise<Session | null>>();

  constructor(private readonly deps: SessionCacheDeps) {}

  get(id: string): Promise<Session | null> {
    const now = this.deps.now();
    const hit = this.entries.get(id);
    if (hit && hit.until > now) {
      // in use late in its life: read again now, so that the next callers find it fresh instead of waiting for the read
      if (now >= hit.refreshAt && !this.loading.has(id)) this.load(id).catch(() => undefined);
      return Promise.resolve(hit.session);
    }
    return this.loading.get(id) ?? this.load(id);
  }

  private load(id: string): Promise<Session | null> {
    const load: Promise<Session | null> = this.deps.load(id).then(
      (session) => {
        // forgotten meanwhile (the session changed): what it read may predate the change
        if (this.loading.get(id) === load) {
          this.loading.delete(id);
          this.keep(id, session);
        }
        return session;
      },
      (err: unknown) => {
        if (this.loading.get(id) === load) this.loading.delete(id);
        throw err;
      },
    );
    this.loading.set(id, load);
    return load;
  }

  /** The session changed (or may have): the next get() reads it again, and a load under way is not kept. */
  forget(id: string): void {
    this.entries.delete(id);
    this.loading.delete(id);
  }

  /** Word of changes may have been missed: every session is read again. */
  forgetAll(): void {
    this.entries.clear();
    this.loading.clear();
  }

  private keep(id: string, session: Session | null): void {
    if (!session) {
      this.entries.delete(id);
      return;
    }
    if (this.entries.size >= (this.deps.max ?? 50_000)) this.entries.clear();
    // somewhere in the second half of the TTL: sessions read together (the first messages after a
    // start) would otherwise all expire together, and their reads stall every send at once
    const now = this.deps.now();
    const life = this.deps.ttlMs * (1 - (this.deps.random ?? Math.random)() / 2);
    this.entries.set(id, { session, until: now + life, refreshAt: now + life * REFRESH_AT });
  }
}
