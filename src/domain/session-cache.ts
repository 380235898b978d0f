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
 * again shortly before, without its callers waiting (domain/ttl-cache.ts).
 * Entries are shared: callers must not change them.
 */
import type { Session } from './model.js';
import { TtlCache } from './ttl-cache.js';

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
  private readonly cache: TtlCache<Session | null>;

  constructor(private readonly deps: SessionCacheDeps) {
    this.cache = new TtlCache({ ttlMs: deps.ttlMs, now: deps.now, max: deps.max ?? 50_000, spread: deps.random ?? Math.random, keep: (session) => session !== null });
  }

  get(id: string): Promise<Session | null> {
    return this.cache.get(id, () => this.deps.load(id));
  }

  /** The session changed (or may have): the next get() reads it again, and a load under way is not kept. */
  forget(id: string): void {
    this.cache.delete(id);
  }

  /** Word of changes may have been missed: every session is read again. */
  forgetAll(): void {
    this.cache.clear();
  }
}
