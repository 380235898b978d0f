/**
 * Accounts of every kind. `key` is unique across the service: `email:<addr>`
 * for agents (an agent email logs in without naming its site), `user:<site>:<id>`
 * for identified visitors, `id:<id>` for the rest. Agent capacity is kept
 * in slots (slots.ts).
 */
import type { Collection, Db, IndexDescription } from 'mongodb';
import type { Account } from '../domain/model.js';
import type { AccountStore } from '../domain/ports.js';
import { isDuplicateKey } from './ids.js';
import type { SlotRepository } from './slots.js';

type AccountDoc = Omit<Account, 'id'> & { _id: string; key: string; passwordHash?: string; webhookSecret?: string };

export const accountIndexes: IndexDescription[] = [
  { key: { key: 1 }, name: 'key', unique: true },
  { key: { siteId: 1, kind: 1 }, name: 'site_kind' },
];

const PUBLIC = { passwordHash: 0, webhookSecret: 0, key: 0 } as const;

export function createAccountRepository(db: Db, slots: SlotRepository) {
  const col: Collection<AccountDoc> = db.collection('accounts');

  const store: AccountStore = {
    async get(id) {
      const doc = await col.findOne({ _id: id }, { projection: PUBLIC });
      return doc ? toAccount(doc) : null;
    },
    async claimSlot(agentId, sessionId) {
      const doc = await col.findOne({ _id: agentId, kind: 'agent' }, { projection: { maxSessions: 1 } });
      return doc ? slots.claim(agentId, sessionId, doc.maxSessions ?? 0) : false;
    },
    releaseSlot: (agentId, sessionId) => slots.release(agentId, sessionId),
    heldSlots: (agentId) => slots.held(agentId),
    async agentsWithRoom(siteId, ids) {
      if (ids.length === 0) return [];
      // one `_id` lookup each: FerretDB scans the collection for an `$in`
      const found = await Promise.all(ids.map((id) => col.findOne({ _id: id }, { projection: PUBLIC })));
      const agents = found.filter((d): d is NonNullable<typeof d> => d !== null && d.siteId === siteId && d.kind === 'agent');
      const load = await slots.counts(agents.map((a) => a._id));
      const loadOf = (id: string) => load.get(id) ?? 0;
      return agents
        .filter((d) => loadOf(d._id) < (d.maxSessions ?? 0))
        .sort((a, b) => loadOf(a._id) - loadOf(b._id) || a._id.localeCompare(b._id))
        .map(toAccount);
    },
  };

  return {
    ...store,
    async createAccount(account: Account, key: string, secret: { passwordHash?: string; webhookSecret?: string } = {}) {
      const { id, ...rest } = account;
      try {
        await col.insertOne({ _id: id, ...rest, key, ...secret });
        return { account, created: true };
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
        const existing = await col.findOne({ key }, { projection: PUBLIC });
        if (!existing) throw err;
        return { account: toAccount(existing), created: false };
      }
    },
    async accountByKey(key: string) {
      const doc = await col.findOne({ key });
      if (!doc) return null;
      const { passwordHash, webhookSecret, ...rest } = doc;
      return { ...toAccount(rest), ...(passwordHash ? { passwordHash } : {}), ...(webhookSecret ? { webhookSecret } : {}) };
    },
    async listAgents(siteId: string) {
      const docs = await col.find({ siteId, kind: 'agent' }, { projection: PUBLIC }).sort({ createdAt: 1 }).limit(1000).toArray();
      return docs.map(toAccount);
    },
  };
}

function toAccount(doc: Partial<AccountDoc> & { _id: string }): Account {
  const { _id, key: _k, passwordHash: _p, webhookSecret: _w, ...rest } = doc;
  return { id: _id, ...(rest as Omit<Account, 'id'>) };
}
