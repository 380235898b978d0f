/** BullMQ: the session-timer queue and its worker (started once the domain exists). */
import type { Worker } from 'bullmq';
import fp from 'fastify-plugin';
import type { Scheduler } from '../src/domain/ports.js';
import { createSessionScheduler, startSessionWorker } from '../src/queues/sessions.js';

declare module 'fastify' {
  interface FastifyInstance {
    queues: {
      scheduler: Scheduler;
      /** Starts processing session timers with the domain's handler. */
      startWorkers(handlers: { checkInactivity(sessionId: string): Promise<unknown> }): void;
      ping(): Promise<boolean>;
    };
  }
}

/** BullMQ's connections run blocking commands: each command on the wire by itself */
const NO_AUTO_PIPELINING = { enableAutoPipelining: false };

export default fp<{ prefix: string }>(
  async (app, opts) => {
    const connection = app.redis.duplicate(NO_AUTO_PIPELINING);
    const scheduler = createSessionScheduler({ connection, prefix: opts.prefix });
    const workers: Worker[] = [];
    // BullMQ leaves connections it was handed open: these are ours to close.
    const owned = [connection];
    app.decorate('queues', {
      scheduler,
      startWorkers(handlers) {
        const workerConnection = app.redis.duplicate(NO_AUTO_PIPELINING);
        owned.push(workerConnection);
        workers.push(
          startSessionWorker({
            connection: workerConnection,
            prefix: opts.prefix,
            checkInactivity: handlers.checkInactivity,
            onError: (err) => app.log.error({ err }, 'session timer job failed'),
          }),
        );
      },
      async ping() {
        try {
          return (await app.redis.ping()) === 'PONG';
        } catch {
          return false;
        }
      },
    });
    app.addHook('onClose', async () => {
      await Promise.all(workers.map((w) => w.close()));
      await scheduler.close();
      for (const c of owned) c.disconnect();
    });
  },
  { name: 'queues', dependencies: ['redis'] },
);
