/**
 * Sessions, and the two rules that must hold however many instances write:
 *
 * - At most one open session per visitor and site. The claim is an insert
 *   into `open_sessions` keyed `<site>:<visitor>`; it is removed when the
 *   session closes.
 * - Every state change is a compare-and-set. A change is claimed by inserting
 *   version N+1 of the session into `session_transitions` (unique `_id`
 *   `<session>:<N+1>`), after checking the expected state at version N; of
 *   concurrent changes from version N exactly one claim succeeds. The session
 *   document is then updated, and every transition first rolls it forward
 *   through any logged version it lacks, so a crash between the two steps, or
 *   a concurrent write that undid the update, loses nothing.
 *
 * Both are inserts because FerretDB (the embedded server) applies updates as
 * read-then-write without a check, so conditional updates cannot arbitrate
 * between instances there (see serial-writes.ts); unique keys can.
 */
import type { Collection, Db, Filter, IndexDescription } from 'mongodb';
import type { Session } from '../domain/model.js';
import type { SessionFilter, SessionStore } from '../domain/ports.js';
import { isDuplicateKey, newId } from './ids.js';
import { serialWrites } from './serial-writes.js';
import { createWriteLane, type WriteLane } from './write-lane.js';

type SessionDoc = Omit<Session, 'id'> & { _id: string; version?: number };
type Changeable = 'assigneeId' | 'botId';

interface TransitionDoc {
  _id: string;
  sessionId: string;
  version: number;
  set: Partial<Session>;
  unset: Changeable[];
  at: Date;
}

/** What messages change on a session: the highest seq, the last activity, each sender's last seq. */
interface Activity {
  lastSeq: number;
  lastActivityAt: Date;
  sentSeq: Record<string, number>;
}

interface OpenDoc {
  _id: string;
  sessionId: string;
  at: Date;
}

export const sessionIndexes: IndexDescription[] = [
  { key: { siteId: 1, state: 1, createdAt: 1 }, name: 'site_state_created' },
  { key: { siteId: 1, assigneeId: 1, state: 1 }, name: 'site_assignee_state' },
  { key: { siteId: 1, visitorId: 1, createdAt: -1 }, name: 'site_visitor_created' },
  { key: { siteId: 1, botId: 1, state: 1 }, name: 'site_bot_state' },
];

const openKey = (siteId: string, visitorId: string) => `${siteId}:${visitorId}`;
/** an open-session claim whose session is still missing after this is left over from a crash */
const STALE_CLAIM_MS = 30_000;
const MAX_ATTEMPTS = 20;
/**
 * how long lastSeq/activity updates are gathered into one write (at least):
 * an update costs FerretDB 2-3 ms of CPU, in a bulk or alone, so with many
 * sessions talking these writes, not the messages, would fill it. Measured
 * at 1,000 msg/s over 100 sessions (with the write lane): p99 154 ms at 2 s,
 * 65 ms at 5 s, 56 ms at 10 s.
 */
const COALESCE_MS = 5000;
/**
 * sessions per update statement of a flush. FerretDB 1.24 never answers an
 * update command of 100 or more; in a bulk an update still costs it 2-3 ms
 * of CPU, and message inserts wait while it applies one: measured at 200
 * msg/s over 100 sessions, bulks of 10 made send-to-deliver p99 537 ms, single
 * updates one after another 190 ms. Raise it on MongoDB.
 */
const MAX_BULK = 1;

export function createSessionRepository(db: Db, onError: (err: unknown) => void, lane: WriteLane = createWriteLane()): SessionStore & { flush(): Promise<void> } {
  const col: Collection<SessionDoc> = db.collection('sessions');
  const log: Collection<TransitionDoc> = db.collection('session_transitions');
  const open: Collection<OpenDoc> = db.collection('open_sessions');
  const serial = serialWrites();
  // Every session's updates are gathered for COALESCE_MS from the first one, then written together;
  // one write at a time, so when the database is slow they gather for longer instead of piling up.
  const pending = new Map<string, Activity>();
  let timer: NodeJS.Timeout | undefined;
  let writing: Promise<void> | undefined;
  const inFlight = new Map<string, Activity>();

  /** A session as read, with this process's not yet written updates laid over it. */
  function withPending(session: Session): Session {
    let result = session;
    for (const e of [inFlight.get(session.id), pending.get(session.id)]) if (e) result = { ...result, ...merge(result, e) };
    return result;
  }

  function arm(): void {
    if (timer || writing || pending.size === 0) return;
    timer = setTimeout(() => void flush(), COALESCE_MS);
  }

  /**
   * Writes every session's coalesced lastSeq/activity/sentSeq update now
   * (after the write under way, if any), MAX_BULK sessions per statement,
   * one statement after another, holding each document's other writes from
   * this process until its own is done (serial-writes.ts).
   */
  async function flush(): Promise<void> {
    while (writing) await writing;
    clearTimeout(timer);
    timer = undefined;
    if (pending.size === 0) return;
    writing = writePending().finally(() => {
      writing = undefined;
      arm();
    });
    await writing;
  }

  async function writePending(): Promise<void> {
    const batch = [...pending];
    pending.clear();
    // laid over reads until written (and a little after: a read sent before the write may answer after it)
    for (const [id, e] of batch) {
      const earlier = inFlight.get(id);
      inFlight.set(id, earlier ? merge(earlier, e) : e);
    }
    const written = new Map(batch.map(([id]) => [id, inFlight.get(id)!]));
    try {
      for (let i = 0; i < batch.length; i += MAX_BULK) {
        const part = batch.slice(i, i + MAX_BULK);
        const ops = part.map(([id, e]) => {
          const $max: Record<string, number | Date> = { lastSeq: e.lastSeq, lastActivityAt: e.lastActivityAt };
          for (const [sender, seq] of Object.entries(e.sentSeq)) $max[`sentSeq.${sender}`] = seq;
          return { updateOne: { filter: { _id: id }, update: { $max } } };
        });
        try {
          await serial.all(
            part.map(([id]) => id),
            () => lane.run(() => col.bulkWrite(ops, { ordered: false }), { background: true }),
          );
        } catch (err) {
          onError(err);
        }
      }
    } finally {
      setTimeout(() => {
        for (const [id, e] of written) if (inFlight.get(id) === e) inFlight.delete(id);
      }, COALESCE_MS).unref();
    }
  }

  function toFilter(f: SessionFilter): Filter<SessionDoc> {
    const q: Filter<SessionDoc> = { siteId: f.siteId };
    if (f.states) q.state = { $in: f.states };
    if (f.visitorId) q.visitorId = f.visitorId;
    if (f.assigneeId) q.assigneeId = f.assigneeId;
    if (f.botId) q.botId = f.botId;
    return q;
  }

  async function write(id: string, set: Partial<SessionDoc>, unset: Changeable[]) {
    const update = unset.length ? { $set: set, $unset: Object.fromEntries(unset.map((k) => [k, 1 as const])) } : { $set: set };
    await serial(id, () => col.updateOne({ _id: id }, update));
  }

  /** The session at its latest logged version (repairing the document if it lags). */
  async function current(id: string): Promise<SessionDoc | null> {
    let doc = await col.findOne({ _id: id });
    if (!doc) return null;
    let lagged = false;
    for (;;) {
      const next = await log.findOne({ _id: `${id}:${(doc.version ?? 0) + 1}` });
      if (!next) break;
      doc = apply(doc, next);
      lagged = true;
    }
    if (lagged) {
      const { _id, lastSeq: _l, lastActivityAt: _a, sentSeq: _s, ...state } = doc;
      const missing = (['assigneeId', 'botId'] as const).filter((k) => doc![k] === undefined);
      await write(id, state, missing);
    }
    return doc;
  }

  return {
    async openForVisitor(draft) {
      const key = openKey(draft.siteId, draft.visitorId);
      for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        const doc: SessionDoc = { _id: newId(), ...draft, version: 0 };
        try {
          await open.insertOne({ _id: key, sessionId: doc._id, at: new Date() });
        } catch (err) {
          if (!isDuplicateKey(err)) throw err;
          const claim = await open.findOne({ _id: key });
          if (!claim) continue;
          const existing = await current(claim.sessionId);
          if (existing && existing.state !== 'closed') return { session: withPending(toSession(existing)), created: false };
          if (existing || Date.now() - claim.at.getTime() > STALE_CLAIM_MS) {
            // closed (or never created, by a process that died): the claim is free again
            await open.deleteOne({ _id: key, sessionId: claim.sessionId });
          } else {
            await new Promise((resolve) => setTimeout(resolve, 20)); // being created right now
          }
          continue;
        }
        await col.insertOne(doc);
        return { session: toSession(doc), created: true };
      }
      throw new Error('could not open a session');
    },

    async openOf(siteId, visitorId) {
      const claim = await open.findOne({ _id: openKey(siteId, visitorId) });
      if (!claim) return null;
      const doc = await col.findOne({ _id: claim.sessionId });
      return doc && doc.state !== 'closed' ? withPending(toSession(doc)) : null;
    },

    async get(id) {
      // The document as stored: one read on the hot path (every send checks the session).
      // It lags the log only after a crash between a claim and its write, or a FerretDB
      // race between instances; the next transition rolls it forward.
      const doc = await col.findOne({ _id: id });
      return doc ? withPending(toSession(doc)) : null;
    },

    async transition(id, expect, set, unset = []) {
      for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        const doc = await current(id);
        if (!doc || !expect.from.includes(doc.state)) return null;
        if (expect.assigneeId && doc.assigneeId !== expect.assigneeId) return null;
        if (expect.botId && doc.botId !== expect.botId) return null;
        const version = (doc.version ?? 0) + 1;
        const entry: TransitionDoc = { _id: `${id}:${version}`, sessionId: id, version, set, unset, at: new Date() };
        try {
          await log.insertOne(entry);
        } catch (err) {
          if (!isDuplicateKey(err)) throw err;
          continue; // someone changed it first: look again
        }
        await write(id, { ...set, version }, unset);
        if (set.state === 'closed') await open.deleteOne({ _id: openKey(doc.siteId, doc.visitorId), sessionId: id });
        return withPending(toSession(apply(doc, entry)));
      }
      return null;
    },

    async list(f) {
      const docs = await col
        .find(toFilter(f))
        .sort({ createdAt: f.states?.length === 1 && f.states[0] === 'queued' ? 1 : -1 })
        .limit(f.limit ?? 100)
        .toArray();
      return docs.map((d) => withPending(toSession(d)));
    },

    count(f) {
      return col.countDocuments(toFilter(f));
    },

    async noteAppended(id, seq, at, senderId) {
      // Coalesced: at most one write per session per COALESCE_MS however many messages it gets, all
      // sessions' together. lastSeq may lag, never lead (readers that must be exact ask the message store).
      let entry = pending.get(id);
      if (!entry) pending.set(id, (entry = { lastSeq: 0, lastActivityAt: at, sentSeq: {} }));
      arm();
      entry.lastSeq = Math.max(entry.lastSeq, seq);
      if (at > entry.lastActivityAt) entry.lastActivityAt = at;
      if (senderId) entry.sentSeq[senderId] = Math.max(entry.sentSeq[senderId] ?? 0, seq);
    },

    flush,
  };
}

/** Both activities together: every field only moves forward. */
function merge(a: Omit<Activity, 'sentSeq'> & { sentSeq?: Activity['sentSeq'] }, b: Activity): Activity {
  const sentSeq = { ...a.sentSeq };
  for (const [sender, seq] of Object.entries(b.sentSeq)) sentSeq[sender] = Math.max(sentSeq[sender] ?? 0, seq);
  return {
    lastSeq: Math.max(a.lastSeq, b.lastSeq),
    lastActivityAt: b.lastActivityAt > a.lastActivityAt ? b.lastActivityAt : a.lastActivityAt,
    sentSeq,
  };
}

function apply(doc: SessionDoc, t: TransitionDoc): SessionDoc {
  const next: SessionDoc = { ...doc, ...t.set, version: t.version };
  for (const key of t.unset) delete next[key];
  return next;
}

function toSession(doc: SessionDoc): Session {
  const { _id, version: _v, ...rest } = doc;
  return { id: _id, ...rest };
}
