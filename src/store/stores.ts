/** All repositories over one database, and the indexes they rely on. */
import type { Db, IndexDescription } from 'mongodb';
import { accountIndexes, createAccountRepository } from './accounts.js';
import { createCredentialRepository } from './credentials.js';
import { createCursorRepository, cursorIndexes } from './cursors.js';
import { createMessageRepository, droppedMessageIndexes, messageIndexes } from './messages.js';
import { createSessionRepository, sessionIndexes } from './sessions.js';
import { createSiteRepository, siteIndexes } from './sites.js';
import { createSlotRepository, slotIndexes } from './slots.js';
import { isIndexNotFound } from './ids.js';
import { IN_FLIGHT } from './message-appender.js';
import { createWriteLane } from './write-lane.js';

const INDEXES: Record<string, IndexDescription[]> = {
  sites: siteIndexes,
  accounts: accountIndexes,
  sessions: sessionIndexes,
  messages: messageIndexes,
  cursors: cursorIndexes,
  agent_slots: slotIndexes,
};

/** indexes an earlier version made and a newer one above replaces, by name */
const DROPPED: Record<string, string[]> = {
  messages: droppedMessageIndexes,
};

/**
 * Creates missing indexes, then drops those they replace; safe to run on
 * every start and on several instances at once. One index per command:
 * FerretDB 1.24 drops the connection when a multi-index createIndexes names
 * indexes that exist. A replaced index goes only after its replacement is
 * built, so the constraint holds throughout; an older instance started
 * during a rolling upgrade makes it again, and the next newer start drops it.
 */
export async function ensureIndexes(db: Db): Promise<void> {
  for (const [collection, indexes] of Object.entries(INDEXES)) {
    for (const index of indexes) await db.collection(collection).createIndexes([index]);
  }
  for (const [collection, names] of Object.entries(DROPPED)) {
    for (const name of names) {
      // gone already: dropped at an earlier start, or by another instance just now
      await db
        .collection(collection)
        .dropIndex(name)
        .catch((err: unknown) => {
          if (!isIndexNotFound(err)) throw err;
        });
    }
  }
}

/** `onError` hears of failed background writes (coalesced session updates). */
export function createStores(db: Db, onError: (err: unknown) => void) {
  const sites = createSiteRepository(db);
  const accounts = createAccountRepository(db, createSlotRepository(db));
  // two: the message store keeps two inserts on their way (message-appender.ts, IN_FLIGHT)
  const lane = createWriteLane({ concurrency: IN_FLIGHT });
  return {
    sites,
    accounts,
    directory: { ...sites, ...accounts },
    sessions: createSessionRepository(db, onError, lane),
    messages: createMessageRepository(db, lane),
    cursors: createCursorRepository(db, lane),
    credentials: createCredentialRepository(db),
  };
}

export type Stores = ReturnType<typeof createStores>;
