/**
 * The database and Redis every target of a run shares: MONGODB_URL /
 * REDIS_URL when given, else the embedded MongoDB-compatible server and a
 * redis-server of the bench's own (a child, so its CPU is measured and no
 * other Redis on the machine adds noise). Each target gets a fresh database
 * and Redis prefix from fresh(); stop() removes everything.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { MongoClient } from 'mongodb';
import { startEmbeddedMongo } from '../src/embedded/mongo.js';
import { spawnRedisServer, startEmbeddedRedis } from '../src/embedded/redis.js';
import { freePort } from '../src/embedded/free-port.js';
import { which } from '../src/embedded/process.js';

export interface Infra {
  mongoUrl: string;
  redisUrl: string;
  /** a scratch directory, removed by stop() */
  dataDir: string;
  /** which database server answers: for the report */
  backend: string;
  /** a database name and Redis prefix nobody used before */
  fresh(): string;
  stop(): Promise<void>;
}

export async function startInfra(log: (line: string) => void): Promise<Infra> {
  const undo: Array<() => Promise<unknown>> = [];
  const stop = async () => {
    for (const step of undo.reverse()) {
      try {
        await step();
      } catch (err) {
        log(`clean-up failed: ${String(err)}`);
      }
    }
  };
  try {
    const dataDir = await mkdtemp(join(tmpdir(), 'im-bench-'));
    undo.push(() => rm(dataDir, { recursive: true, force: true }));
    const names: string[] = [];

    let mongoUrl = process.env.MONGODB_URL;
    let backend = 'MongoDB at MONGODB_URL';
    if (mongoUrl) {
      const given = mongoUrl;
      undo.push(() => Promise.all(names.map((name) => dropDatabase(given, name))));
    } else {
      const mongo = await startEmbeddedMongo({ dataDir, log });
      undo.push(() => mongo.stop());
      mongoUrl = mongo.url;
      backend = (await which('mongod')) ? 'embedded mongod' : 'embedded FerretDB (SQLite)';
    }

    let redisUrl = process.env.REDIS_URL;
    if (redisUrl) {
      const given = redisUrl;
      undo.push(() => Promise.all(names.map((name) => deleteKeys(given, `${name}:*`))));
    } else {
      const command = await which('redis-server');
      const redis = command ? await spawnRedisServer({ dataDir, log, command, port: await freePort() }) : await startEmbeddedRedis({ dataDir, log });
      undo.push(() => redis.stop());
      redisUrl = redis.url;
    }

    const fresh = () => {
      const name = `bench_${randomBytes(5).toString('hex')}`;
      names.push(name);
      return name;
    };
    return { mongoUrl, redisUrl, dataDir, backend, fresh, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function dropDatabase(url: string, name: string): Promise<void> {
  const client = new MongoClient(url, { serverSelectionTimeoutMS: 5000 });
  try {
    await client.db(name).dropDatabase();
  } finally {
    await client.close();
  }
}

async function deleteKeys(url: string, pattern: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    for await (const keys of redis.scanStream({ match: pattern, count: 500 }) as AsyncIterable<string[]>) {
      if (keys.length > 0) await redis.del(...keys);
    }
  } finally {
    redis.disconnect();
  }
}
