/** Read cursors: one document per (session, member), `readSeq` only grows ($max). */
import type { Collection, Db, IndexDescription } from 'mongodb';
import type { CursorStore } from '../domain/ports.js';
import { isDuplicateKey } from './ids.js';
import { serialWrites } from './serial-writes.js';
import { createWriteLane, type WriteLane } from './write-lane.js';

interface CursorDoc {
  _id: string;
  sessionId: string;
  accountId: string;
  readSeq: number;
}

export const cursorIndexes: IndexDescription[] = [{ key: { accountId: 1 }, name: 'account' }];

export function createCursorRepository(db: Db, lane: WriteLane = createWriteLane()): CursorStore {
  const col: Collection<CursorDoc> = db.collection('cursors');
  const serial = serialWrites();
  return {
    async advance(sessionId, accountId, seq) {
      const _id = `${sessionId}:${accountId}`;
      for (let attempt = 0; ; attempt++) {
        try {
          const doc = await serial(_id, () =>
            lane.run(() => col.findOneAndUpdate({ _id }, { $max: { readSeq: seq }, $setOnInsert: { sessionId, accountId } }, { upsert: true, returnDocument: 'after' })),
          );
          return doc?.readSeq ?? seq;
        } catch (err) {
          // two first reads racing to create the cursor: the loser updates the winner's
          if (!isDuplicateKey(err) || attempt > 2) throw err;
        }
      }
    },

    async readSeqs(accountId, sessionIds) {
      // one `_id` lookup each: FerretDB scans the collection for an `$in`
      const docs = await Promise.all(sessionIds.map((sid) => col.findOne({ _id: `${sid}:${accountId}` })));
      const result = new Map<string, number>();
      for (const d of docs) if (d) result.set(d.sessionId, d.readSeq);
      return result;
    },
  };
}
