/** MongoDB: one client for the app, indexes ensured at start, repositories on top. */
import fp from 'fastify-plugin';
import { MongoClient } from 'mongodb';
import type { SeqTurns } from '../src/domain/ports.js';
import { METRIC } from '../src/metrics/names.js';
import { ensureIndexes, createStores, type Stores } from '../src/store/stores.js';

declare module 'fastify' {
  interface FastifyInstance {
    mongo: { client: MongoClient; stores: Stores; ping(): Promise<boolean> };
  }
}

export interface MongoPluginOptions {
  url: string;
  /** database name; default: the URL's path, else `im` */
  dbName?: string;
  /** turns at writing a session, shared with the other instances (the broker) */
  turns?: SeqTurns;
}

export default fp<MongoPluginOptions>(
  async (app, opts) => {
    const client = new MongoClient(opts.url, { serverSelectionTimeoutMS: 5000, maxPoolSize: 50 });
    await client.connect();
    const db = client.db(opts.dbName ?? (new URL(opts.url).pathname.slice(1) || 'im'));
    await ensureIndexes(db);
    const onLost = (err: unknown) => app.log.warn({ err }, 'turns at shared sessions cannot be had (Redis away?): such sessions store one message per batch until they can');
    const stores = createStores(db, (err) => app.log.error({ err }, 'background write failed'), opts.turns && { turns: opts.turns, onLost });
    app.metrics.gauge(METRIC.storeLag, 'How long the messages waiting to be stored have waited, in seconds (MAX_STORE_LAG_MS)', () => stores.messages.lagMs() / 1000);
    app.decorate('mongo', {
      client,
      stores,
      async ping() {
        try {
          await db.command({ ping: 1 });
          return true;
        } catch {
          return false;
        }
      },
    });
    app.addHook('onClose', async () => {
      await stores.sessions.flush();
      await client.close();
    });
  },
  { name: 'mongo', dependencies: ['metrics'] },
);
