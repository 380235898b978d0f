/**
 * Sessions as this instance last read them, for the send path: every message
 * checks its session, and reading it from the database each time cost the
 * embedded server about as much as storing the message.
 *
 * An entry serves while the session's stamp (SessionStamps: bumped by every
 * transition, on any instance) is the one read just before the entry was
 * loaded, so each use costs one stamp look-up instead of a database read,
 * and sees a transition made anywhere as soon as its stamp is bumped (one
 * round trip after the store has it: about when a database read would have
 * seen it). An entry also serves for at most `ttlMs`: that bounds how long a
 * transition that was never stamped (its instance died in between) goes
 * unseen. Entries are shared: callers must not change them.
 */
import type { Session } from './model.js';
import type { SessionStamps } from './ports.js';

export interface SessionCacheDeps {
  load(id: string): Promise<Session | null>;
  stamps: SessionStamps;
  now(): number;
  ttlMs: number;
  /** past this many entries it starts over rather than growing without bound */
  max?: number;
}

interface Loading {
  stamp: number;
  session: Promise<Session | null>;
}

export class SessionCache {
  private readonly entries = new Map<string, { session: Session; stamp: number; until: number }>();
  /** loads under way: callers that read the same stamp share one */
  private readonly loading = new Map<string, Loading>();

  constructor(private readonly deps: SessionCacheDeps) {}

  async get(id: string): Promise<Session | null> {
    const stamp = await this.deps.stamps.sessionStamp(id);
    const hit = this.entries.get(id);
    if (hit && hit.stamp === stamp && hit.until > this.deps.now()) return hit.session;
    const under = this.loading.get(id);
    if (under && under.stamp === stamp) return under.session;
    const load: Loading = {
      stamp,
      session: this.deps.load(id).then(
        (session) => {
          if (this.loading.get(id) === load) {
            this.loading.delete(id);
            this.keep(id, session, stamp);
          }
          return session;
        },
        (err: unknown) => {
          if (this.loading.get(id) === load) this.loading.delete(id);
          throw err;
        },
      ),
    };
    this.loading.set(id, load);
    return load.session;
  }

  /** Forgets the session (and a load of it under way): the next get() reads it again. */
  forget(id: string): void {
    this.entries.delete(id);
    this.loading.delete(id);
  }

  private keep(id: string, session: Session | null, stamp: number): void {
    if (!session) {
      this.entries.delete(id);
      return;
    }
    if (this.entries.size >= (this.deps.max ?? 50_000)) this.entries.clear();
    // somewhere in the second half of the TTL: sessions read together (the first messages after a
    // start) would otherwise all expire together, and their reads stall every send at once
    this.entries.set(id, { session, stamp, until: this.deps.now() + this.deps.ttlMs * (1 - Math.random() / 2) });
  }
}
