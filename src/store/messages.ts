/**
 * Messages, one document per message, with the per-session seq.
 *
 * The insert itself claims the seq. A message's `_id` is `<sessionId>:<seq>`,
 * so the primary key is the unique (sessionId, seq) index: of two writers
 * trying seq S exactly one stores it; the other looks further and tries the
 * next free seq. Seq S is only written right after S-1 was, so the
 * collection stays prefix-closed: a reader that sees S can read 1..S-1.
 * message-appender.ts orders the tries, many of a session at once.
 * (cid, sessionId, from.id) is unique as well, which turns a resend into a
 * lookup of the original instead of a second copy. The cid comes first
 * because the SDK's cids grow with time (client/cid.ts): each insert then
 * lands at the index's end, where the last ones did, so a batch of inserts
 * rewrites a few index pages instead of one per session in it. On the
 * embedded FerretDB that cut its CPU per stored message by about a third
 * (batches of 17 over 100 sessions, 30,000 messages: 141 and 144 µs against
 * 221 and 243 with the index keyed by session first).
 *
 * Reads go by `_id` equality only. That is the one lookup FerretDB 1.24 (the
 * embedded server) answers without scanning the whole collection, so reading
 * a page costs the page, not the collection, on FerretDB and MongoDB alike.
 */
import type { Collection, Db, IndexDescription } from 'mongodb';
import type { Message } from '../domain/model.js';
import type { MessageStore } from '../domain/ports.js';
import { createMessageAppender, IN_FLIGHT, type MessageAppender, type MessageDoc } from './message-appender.js';
import { Recent } from './recent.js';
import { firstFree } from './seq-search.js';
import { createWriteLane, type WriteLane } from './write-lane.js';

/** parallel `_id` lookups per round trip when reading a range */
const READ_FAN_OUT = 25;
/**
 * Recent (session, sender, cid) → seq, so that most resends cost one `_id`
 * lookup instead of a scan: the last CID_CACHE_SIZE / 2 stored at least,
 * CID_CACHE_SIZE at most (recent.ts). The seq, not the message: at 3,000
 * msg/s whole messages (and the `msg` frames cached with them) kept here for
 * seconds were most of what the process promoted to V8's old generation,
 * which its major collections then paused the event loop to clear.
 */
const CID_CACHE_SIZE = 20_000;

export const messageIndexes: IndexDescription[] = [{ key: { cid: 1, sessionId: 1, 'from.id': 1 }, name: 'cid_session_sender', unique: true }];
/** replaced by the above (the same constraint, keyed by session first); dropped once it exists */
export const droppedMessageIndexes = ['session_sender_cid'];

export const messageId = (sessionId: string, seq: number) => `${sessionId}:${seq}`;

export function createMessageRepository(db: Db, lane: WriteLane = createWriteLane({ concurrency: IN_FLIGHT })): MessageStore & Pick<MessageAppender, 'lagMs'> {
  const col: Collection<MessageDoc> = db.collection('messages');
  const recent = new Recent<number>(CID_CACHE_SIZE);

  function remember(m: Message) {
    recent.set(cidKey(m.sessionId, m.from.id, m.cid), m.seq);
  }

  /** The message remembered for this cid, read back by its seq; null when none is remembered. */
  async function remembered(sessionId: string, senderId: string, cid: string): Promise<Message | null> {
    const seq = recent.get(cidKey(sessionId, senderId, cid));
    if (seq === undefined) return null;
    const m = await bySeq(sessionId, seq);
    return m && m.from.id === senderId && m.cid === cid ? m : null;
  }

  async function bySeq(sessionId: string, seq: number): Promise<Message | null> {
    const doc = await col.findOne({ _id: messageId(sessionId, seq) });
    return doc ? toMessage(doc) : null;
  }

  async function findByCid(sessionId: string, senderId: string, cid: string): Promise<Message | null> {
    const cached = await remembered(sessionId, senderId, cid);
    if (cached) return cached;
    // rare (a resend this process has not seen): a scan on FerretDB, an index lookup on MongoDB
    const doc = await col.findOne({ sessionId, 'from.id': senderId, cid });
    return doc ? toMessage(doc) : null;
  }

  /** The first free seq at or after `from` (everything before `from` is stored): a search, not a walk (seq-search.ts). */
  function nextFree(sessionId: string, from: number): Promise<number> {
    return firstFree(from, async (seq) => (await col.findOne({ _id: messageId(sessionId, seq) }, { projection: { _id: 1 } })) !== null);
  }

  const appender = createMessageAppender(col, lane, { messageId, toMessage, bySeq, nextFree, findByCid, remember });

  return {
    findByCid,
    noteStored: appender.noteStored,
    lagMs: appender.lagMs,

    async lastSeq(sessionId, hint) {
      return (await nextFree(sessionId, hint + 1)) - 1;
    },

    append(draft, lastSeqHint) {
      // a resend this process stored: its original, without a try at the store
      if (!recent.has(cidKey(draft.sessionId, draft.from.id, draft.cid))) return appender.append(draft, lastSeqHint);
      return remembered(draft.sessionId, draft.from.id, draft.cid).then((earlier) =>
        earlier ? { message: earlier, created: false } : appender.append(draft, lastSeqHint),
      );
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
