/**
 * Sessions. `openKey` carries the rule "at most one open session per visitor
 * and site" as a unique index: it is `open:<site>:<visitor>` while the session
 * is open and `closed:<id>` once closed (FerretDB has no partial indexes).
 * Every state change is a conditional update on the expected state, so two
 * concurrent transitions from the same state cannot both succeed.
 */
import type { Collection, Db, Filter, UpdateFilter, IndexDescription } from 'mongodb';
import type { Session } from '../domain/model.js';
import type { SessionFilter, SessionStore } from '../domain/ports.js';
import { isDuplicateKey, newId } from './ids.js';
import { serialWrites } from './serial-writes.js';

type SessionDoc = Omit<Session, 'id'> & { _id: string; openKey: string };

export const sessionIndexes: IndexDescription[] = [
  { key: { openKey: 1 }, name: 'open_key', unique: true },
  { key: { siteId: 1, state: 1, createdAt: 1 }, name: 'site_state_created' },
  { key: { siteId: 1, assigneeId: 1, state: 1 }, name: 'site_assignee_state' },
  { key: { siteId: 1, visitorId: 1, createdAt: -1 }, name: 'site_visitor_created' },
  { key: { siteId: 1, botId: 1, state: 1 }, name: 'site_bot_state' },
];

const openKey = (siteId: string, visitorId: string) => `open:${siteId}:${visitorId}`;

export function createSessionRepository(db: Db): SessionStore {
  const col: Collection<SessionDoc> = db.collection('sessions');
  const serial = serialWrites();

  function toFilter(f: SessionFilter): Filter<SessionDoc> {
    const q: Filter<SessionDoc> = { siteId: f.siteId };
    if (f.states) q.state = { $in: f.states };
    if (f.visitorId) q.visitorId = f.visitorId;
    if (f.assigneeId) q.assigneeId = f.assigneeId;
    if (f.botId) q.botId = f.botId;
    return q;
  }

  return {
    async openForVisitor(draft) {
      const key = openKey(draft.siteId, draft.visitorId);
      for (let attempt = 0; attempt < 3; attempt++) {
        const doc: SessionDoc = { _id: newId(), ...draft, openKey: key };
        try {
          await col.insertOne(doc);
          return { session: toSession(doc), created: true };
        } catch (err) {
          if (!isDuplicateKey(err)) throw err;
          const open = await col.findOne({ openKey: key });
          if (open) return { session: toSession(open), created: false };
          // it closed between our insert and our read: try again
        }
      }
      throw new Error('could not open a session');
    },

    async get(id) {
      const doc = await col.findOne({ _id: id });
      return doc ? toSession(doc) : null;
    },

    async transition(id, expect, set, unset = []) {
      const filter: Filter<SessionDoc> = { _id: id, state: { $in: expect.from } };
      if (expect.assigneeId) filter.assigneeId = expect.assigneeId;
      if (expect.botId) filter.botId = expect.botId;
      const $set: Partial<SessionDoc> = { ...set };
      if (set.state === 'closed') $set.openKey = `closed:${id}`;
      const update: UpdateFilter<SessionDoc> = unset.length ? { $set, $unset: Object.fromEntries(unset.map((k) => [k, 1 as const])) } : { $set };
      const doc = await serial(id, () => col.findOneAndUpdate(filter, update, { returnDocument: 'after' }));
      return doc ? toSession(doc) : null;
    },

    async list(f) {
      const docs = await col
        .find(toFilter(f))
        .sort({ createdAt: f.states?.length === 1 && f.states[0] === 'queued' ? 1 : -1 })
        .limit(f.limit ?? 100)
        .toArray();
      return docs.map(toSession);
    },

    count(f) {
      return col.countDocuments(toFilter(f));
    },

    async noteAppended(id, seq, at, senderId) {
      const $max: Record<string, number | Date> = { lastSeq: seq, lastActivityAt: at };
      if (senderId) $max[`sentSeq.${senderId}`] = seq;
      await serial(id, () => col.updateOne({ _id: id }, { $max }));
    },
  };
}

function toSession(doc: SessionDoc): Session {
  const { _id, openKey: _key, ...rest } = doc;
  return { id: _id, ...rest };
}
