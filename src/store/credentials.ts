/** Opaque secrets (site admin keys, bot tokens), stored only as their SHA-256 under `_id`. */
import type { Collection, Db } from 'mongodb';
import type { Credential, CredentialStore } from '../domain/ports.js';

type CredentialDoc = Credential & { _id: string; createdAt: Date };

export function createCredentialRepository(db: Db): CredentialStore {
  const col: Collection<CredentialDoc> = db.collection('credentials');
  return {
    async put(secretHash, credential) {
      await col.insertOne({ _id: secretHash, ...credential, createdAt: new Date() });
    },
    async get(secretHash) {
      const doc = await col.findOne({ _id: secretHash });
      if (!doc) return null;
      return { kind: doc.kind, siteId: doc.siteId, ...(doc.accountId ? { accountId: doc.accountId } : {}) };
    },
  };
}
