/**
 * Messages, one document per message, with the per-session seq.
 *
 * The insert itself claims the seq. A message's `_id` is `<sessionId>:<seq>`,
 * so the primary key is the unique (sessionId, seq) index: of two writers
 * trying seq S exactly one stores it; the other looks further and tries the
 * next free seq. Seq S is only tried after S-1 was seen stored, so the
 * collection stays prefix-closed: a reader that sees S can read 1..S-1.
 * (sessionId, from.id, cid) is unique as well, which turns a resend into a
 * lookup of the original instead of a second copy.
 *
 * Reads go by `_id` equality only. That is the one lookup FerretDB 1.24 (the
 * embedded server) answers without scanning the whole collection, so reading
 * a page costs the page, not the collection, on FerretDB and MongoDB alike.
 */
import type { Collection, Db, IndexDescription } from 'mongodb';
import type { Message, MessageDraft } from '../domain/model.js';
import type { MessageStore } from '../domain/ports.js';
import { unavailable } from '../errors.js';
import { isDuplicateKey } from './ids.js';
import { createInsertBatcher } from './insert-batcher.js';
import { createWriteLane, type WriteLane } from './write-lane.js';

type MessageDoc = Omit<Message, 'id'> & { _id: string };

const MAX_ATTEMPTS = 100;
/** parallel `_id` lookups per round trip when reading a range */
const READ_FAN_OUT = 25;
/** recent (session, sender, cid) → message, so that most resends cost no query */
const CID_CACHE_SIZE = 20_000;

export const messageIndexes: IndexDescription[] = [{ key: { sessionId: 1, 'from.id': 1, cid: 1 }, name: 'session_sender_cid', unique: true }];

export const messageId = (sessionId: string, seq: number) => `${sessionId}:${seq}`;

export function createMessageRepository(db: Db, lane: WriteLane = createWriteLane()): MessageStore {
  const col: Collection<MessageDoc> = db.collection('messages');
  const recent = new Map<string, Message>();
  const inserts = createInsertBatcher(col, { lane });

  function remember(m: Message) {
    if (recent.size >= CID_CACHE_SIZE) recent.delete(recent.keys().next().value!);
    recent.set(cidKey(m.sessionId, m.from.id, m.cid), m);
  }

  async function bySeq(sessionId: string, seq: number): Promise<Message | null> {
    const doc = await col.findOne({ _id: messageId(sessionId, seq) });
    return doc ? toMessage(doc) : null;
  }

  async function findByCid(sessionId: string, senderId: string, cid: string): Promise<Message | null> {
    const cached = recent.get(cidKey(sessionId, senderId, cid));
    if (cached) return cached;
    // rare (a resend this process has not seen): a scan on FerretDB, an index lookup on MongoDB
    const doc = await col.findOne({ sessionId, 'from.id': senderId, cid });
    return doc ? toMessage(doc) : null;
  }

  /** The first free seq at or after `from` (everything before `from` is stored). */
  async function nextFree(sessionId: string, from: number): Promise<number> {
    let seq = from;
    while (await col.findOne({ _id: messageId(sessionId, seq) }, { projection: { _id: 1 } })) seq += 1;
    return seq;
  }

  return {
    findByCid,

    async lastSeq(sessionId, hint) {
      return (await nextFree(sessionId, hint + 1)) - 1;
    },

    async append(draft: MessageDraft, lastSeqHint: number) {
      const earlier = recent.get(cidKey(draft.sessionId, draft.from.id, draft.cid));
      if (earlier) return { message: earlier, created: false };
      let seq = lastSeqHint + 1;
      for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        const doc: MessageDoc = { _id: messageId(draft.sessionId, seq), ...draft, seq };
        try {
          await inserts.insert(doc);
          const message = toMessage(doc);
          remember(message);
          return { message, created: true };
        } catch (err) {
          if (!isDuplicateKey(err)) throw err;
          // Mostly another instance stored that seq a moment ago (both sides of a conversation
          // writing at once): the next seq, straight away. Safe whichever key it was: if it was
          // the seq, seq is stored and the next may be tried; if it was the cid, the cid clashes
          // at any seq, so this insert fails as well and the lookups below settle it.
          if (attempt === 0) {
            seq += 1;
            continue;
          }
          // Which unique key was it? The seq, if that seq is taken now (by us: a resend), else the cid.
          const holder = await bySeq(draft.sessionId, seq);
          if (holder && holder.from.id === draft.from.id && holder.cid === draft.cid) return { message: holder, created: false };
          if (holder) {
            seq = await nextFree(draft.sessionId, seq + 1);
            continue;
          }
          const original = await findByCid(draft.sessionId, draft.from.id, draft.cid);
          if (original) {
            remember(original);
            return { message: original, created: false };
          }
        }
      }
      throw unavailable('the session is too busy to store the message, send it again');
    },

    async after(sessionId, after, limit) {
      const found: Message[] = [];
      for (let from = after + 1; found.length < limit; from += READ_FAN_OUT) {
        const count = Math.min(READ_FAN_OUT, limit - found.length);
        const page = await Promise.all(Array.from({ length: count }, (_, i) => bySeq(sessionId, from + i)));
        for (const m of page) {
          // prefix-closed: the first missing seq is the end
          if (!m) return found;
          found.push(m);
        }
      }
      return found;
    },
  };
}

function cidKey(sessionId: string, senderId: string, cid: string): string {
  return `${sessionId}\u0000${senderId}\u0000${cid}`;
}

function toMessage(doc: MessageDoc): Message {
  const { _id, ...rest } = doc;
  return { id: _id, ...rest };
}
