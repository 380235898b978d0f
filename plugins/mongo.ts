/** MongoDB: one client for the app, indexes ensured at start, repositories on top. */
import fp from 'fastify-plugin';
import { MongoClient } from 'mongodb';
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
}

export default fp<MongoPluginOptions>(
  async (app, opts) => {
    const client = new MongoClient(opts.url, { serverSelectionTimeoutMS: 5000, maxPoolSize: 50 });
    await client.connect();
    const db = client.db(opts.dbName ?? (new URL(opts.url).pathname.slice(1) || 'im'));
    await ensureIndexes(db);
    const stores = createStores(db, (err) => app.log.error({ err }, 'background write failed'));
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
