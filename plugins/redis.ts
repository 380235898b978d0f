/** Redis (ioredis): one command connection for the app; queues and the broker duplicate it as they need. */
import fp from 'fastify-plugin';
import { Redis } from 'ioredis';

declare module 'fastify' {
  interface FastifyInstance {
    redis: Redis;
  }
}

export interface RedisPluginOptions {
  url: string;
}

export default fp<RedisPluginOptions>(
  async (app, opts) => {
    // maxRetriesPerRequest: null is what BullMQ needs of connections it duplicates.
    // enableAutoPipelining: the commands of one event-loop turn (the publishes and writer look-ups of
    // many messages, from every connection) leave in one write instead of one system call each.
    const redis = new Redis(opts.url, { maxRetriesPerRequest: null, lazyConnect: true, enableAutoPipelining: true });
    redis.on('error', (err) => app.log.warn({ err }, 'redis error'));
    await redis.connect();
    app.decorate('redis', redis);
    app.addHook('onClose', async () => {
      await redis.quit().catch(() => redis.disconnect());
    });
  },
  { name: 'redis' },
);
