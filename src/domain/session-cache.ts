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
 * in between) or whose word was missed goes unseen. Entries are shared:
 * callers must not change them.
 */
import type { Session } from './model.js';

export interface SessionCacheDeps {
  load(id: string): Promise<Session | null>;
  now(): number;
  ttlMs: number;
  /** past this many entries it starts over rather than growing without bound */
  max?: number;
}

export class SessionCache {
  private readonly entries = new Map<string, { session: Session; until: number }>();
  /** loads under way: concurrent callers share one; one that a change overtook is not kept */
  private readonly loading = new Map<string, Promise<Session | null>>();

  constructor(private readonly deps: SessionCacheDeps) {}

  get(id: string): Promise<Session | null> {
    const hit = this.entries.get(id);
    if (hit && hit.until > this.deps.now()) return Promise.resolve(hit.session);
    const under = this.loading.get(id);
    if (under) return under;
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
    this.entries.set(id, { session, until: this.deps.now() + this.deps.ttlMs * (1 - Math.random() / 2) });
  }
}
