/**
 * Messages, one document per message, with the per-session seq.
 *
 * The insert itself claims the seq: (sessionId, seq) is unique, so of two
 * writers trying seq S exactly one stores it; the other re-reads the highest
 * stored seq and tries the next. Seq S is only tried after S-1 was seen
 * stored, so the collection stays prefix-closed: a reader that sees S can
 * always read 1..S-1. (sessionId, from.id, cid) is unique as well, which
 * turns a resend into a lookup of the original.
 */
import type { Collection, Db, IndexDescription } from 'mongodb';
import { unavailable } from '../errors.js';
import type { Message, MessageDraft } from '../domain/model.js';
import type { MessageStore } from '../domain/ports.js';
import { isDuplicateKey, newId } from './ids.js';

type MessageDoc = Omit<Message, 'id'> & { _id: string };

const MAX_ATTEMPTS = 100;

export const messageIndexes: IndexDescription[] = [
  { key: { sessionId: 1, seq: 1 }, name: 'session_seq', unique: true },
  { key: { sessionId: 1, 'from.id': 1, cid: 1 }, name: 'session_sender_cid', unique: true },
];

export function createMessageRepository(db: Db): MessageStore {
  const col: Collection<MessageDoc> = db.collection('messages');

  async function findByCid(sessionId: string, senderId: string, cid: string): Promise<Message | null> {
    const doc = await col.findOne({ sessionId, 'from.id': senderId, cid });
    return doc ? toMessage(doc) : null;
  }

  async function highestSeq(sessionId: string): Promise<number> {
    const [last] = await col.find({ sessionId }, { projection: { seq: 1 } }).sort({ seq: -1 }).limit(1).toArray();
    return last?.seq ?? 0;
  }

  return {
    findByCid,

    async append(draft: MessageDraft, lastSeqHint: number) {
      let seq = lastSeqHint + 1;
      for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        const doc: MessageDoc = { _id: newId(), ...draft, seq };
        try {
          await col.insertOne(doc);
          return { message: toMessage(doc), created: true };
        } catch (err) {
          if (!isDuplicateKey(err)) throw err;
          const earlier = await findByCid(draft.sessionId, draft.from.id, draft.cid);
          if (earlier) return { message: earlier, created: false };
          seq = (await highestSeq(draft.sessionId)) + 1;
        }
      }
      throw unavailable('the session is too busy to store the message, send it again');
    },

    async after(sessionId, after, limit) {
      const docs = await col.find({ sessionId, seq: { $gt: after } }).sort({ seq: 1 }).limit(limit).toArray();
      return docs.map(toMessage);
    },
  };
}

function toMessage(doc: MessageDoc): Message {
  const { _id, ...rest } = doc;
  return { id: _id, ...rest };
}
