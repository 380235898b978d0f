/** The broker: cross-instance fan-out and presence (in-process for a single instance). */
import fp from 'fastify-plugin';
import type { Broker } from '../src/broker/broker.js';
import { createMemoryBroker } from '../src/broker/memory.js';

declare module 'fastify' {
  interface FastifyInstance {
    broker: Broker;
  }
}

export default fp(
  async (app) => {
    const broker = createMemoryBroker();
    app.decorate('broker', broker);
    app.addHook('onClose', () => broker.close());
  },
  { name: 'broker' },
);
