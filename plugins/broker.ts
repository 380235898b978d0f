/**
 * The broker: fan-out and presence across instances on Redis, or in-process
 * for a single instance (`BROKER=memory`, e.g. when embedded in a host app
 * that runs one process).
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import fp from 'fastify-plugin';
import type { Broker } from '../src/broker/broker.js';
import { createMemoryBroker } from '../src/broker/memory.js';
import { createRedisBroker } from '../src/broker/redis.js';

declare module 'fastify' {
  interface FastifyInstance {
    broker: Broker;
  }
}

export interface BrokerPluginOptions {
  kind: 'redis' | 'memory';
  /** prefix of the broker's Redis channels and keys */
  prefix: string;
  presenceTtlMs: number;
}

export default fp<BrokerPluginOptions>(
  async (app, opts) => {
    let broker: Broker;
    if (opts.kind === 'memory') {
      broker = createMemoryBroker();
    } else {
      // unique per process, and per start of it: presence members of a previous run expire on their own
      const instanceId = `${hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`;
      broker = await createRedisBroker({ redis: app.redis, prefix: opts.prefix, instanceId, presenceTtlMs: opts.presenceTtlMs, log: app.log });
      app.log.debug({ instanceId }, 'redis broker ready');
    }
    app.decorate('broker', broker);
    // runs before the redis plugin closes its connection: the goodbye needs it
    app.addHook('onClose', () => broker.close());
  },
  { name: 'broker', dependencies: ['redis'] },
);
