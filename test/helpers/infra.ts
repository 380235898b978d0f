import { randomBytes } from 'node:crypto';
import { after, before } from 'node:test';
import { type Db, MongoClient } from 'mongodb';

/** The servers that test/run.ts started or was given. */
export function testUrls(): { mongoUrl: string; redisUrl: string } {
  const mongoUrl = process.env.MONGODB_URL;
  const redisUrl = process.env.REDIS_URL;
  if (!mongoUrl || !redisUrl) {
    throw new Error('MONGODB_URL / REDIS_URL are not set: run through npm test, or set MONGODB_URL and REDIS_URL');
  }
  return { mongoUrl, redisUrl };
}

// FerretDB and MongoDB both accept these characters in a database name; the
// length leaves room under FerretDB's limit for collection-derived table names.
const MAX_LENGTH = 38;
const SUFFIX_LENGTH = 10;

/**
 * `prefix` plus a random suffix, so that test files sharing one server never
 * see each other's data. Usable as a MongoDB database name or a Redis key prefix.
 */
export function uniqueName(prefix: string): string {
  const safePrefix = prefix.replace(/[^A-Za-z0-9_]/g, '_').slice(0, MAX_LENGTH - SUFFIX_LENGTH - 1);
  const suffix = randomBytes(SUFFIX_LENGTH).toString('hex').slice(0, SUFFIX_LENGTH);
  return `${safePrefix}_${suffix}`;
}

/**
 * A database of its own on the test server for the enclosing `describe`:
 * connected before its tests and handed to `setUp`, dropped after them.
 */
export function testDatabase(prefix: string, setUp: (db: Db) => void | Promise<void>): void {
  let client: MongoClient | undefined;
  let db: Db | undefined;
  before(async () => {
    client = await MongoClient.connect(testUrls().mongoUrl);
    db = client.db(uniqueName(prefix));
    await setUp(db);
  });
  after(async () => {
    await db?.dropDatabase();
    await client?.close();
  });
}
