/**
 * Agent capacity as slots: an agent with `maxSessions` N may hold the
 * documents `<agentId>:0` .. `<agentId>:N-1`. Taking a slot is an insert, and
 * `_id` is unique, so of concurrent claims for the last free slot exactly one
 * succeeds, on MongoDB and FerretDB alike, however many instances claim.
 * (A conditional `$inc` would not do: FerretDB applies updates as
 * read-then-write, see serial-writes.ts.) The collection holds one document
 * per active session, so the scans FerretDB makes of it stay small.
 */
import type { Collection, Db, IndexDescription } from 'mongodb';
import { isDuplicateKey } from './ids.js';

interface SlotDoc {
  _id: string;
  agentId: string;
  sessionId: string;
  since: Date;
}

export const slotIndexes: IndexDescription[] = [{ key: { agentId: 1, sessionId: 1 }, name: 'agent_session' }];

export function createSlotRepository(db: Db) {
  const col: Collection<SlotDoc> = db.collection('agent_slots');

  return {
    async claim(agentId: string, sessionId: string, maxSessions: number): Promise<boolean> {
      if (await col.findOne({ agentId, sessionId })) return true;
      for (let i = 0; i < maxSessions; i++) {
        try {
          await col.insertOne({ _id: `${agentId}:${i}`, agentId, sessionId, since: new Date() });
          return true;
        } catch (err) {
          if (!isDuplicateKey(err)) throw err;
        }
      }
      return false;
    },

    async release(agentId: string, sessionId: string): Promise<void> {
      await col.deleteMany({ agentId, sessionId });
    },

    async held(agentId: string): Promise<Array<{ sessionId: string; since: Date }>> {
      const docs = await col.find({ agentId }).toArray();
      return docs.map((d) => ({ sessionId: d.sessionId, since: d.since }));
    },

    /** Slots held per agent, for the given agents. */
    async counts(agentIds: string[]): Promise<Map<string, number>> {
      const result = new Map<string, number>(agentIds.map((id) => [id, 0]));
      if (agentIds.length === 0) return result;
      for (const d of await col.find({ agentId: { $in: agentIds } }, { projection: { agentId: 1 } }).toArray()) {
        result.set(d.agentId, (result.get(d.agentId) ?? 0) + 1);
      }
      return result;
    },
  };
}

export type SlotRepository = ReturnType<typeof createSlotRepository>;
