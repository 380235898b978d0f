/** The domain services (chat and directory) over the stores, the broker and the queues. */
import fp from 'fastify-plugin';
import { createChatService, type ChatService } from '../src/domain/chat.js';
import { createDirectory, type Directory } from '../src/domain/directory.js';
import { newId } from '../src/store/ids.js';

declare module 'fastify' {
  interface FastifyInstance {
    domain: { chat: ChatService; directory: Directory };
  }
}

export interface DomainPluginOptions {
  maxTextLength: number;
  inactivityCloseMs: number;
}

export default fp<DomainPluginOptions>(
  async (app, opts) => {
    const { stores } = app.mongo;
    const clock = { now: () => new Date() };
    const chat = createChatService({
      sites: stores.sites,
      accounts: stores.accounts,
      sessions: stores.sessions,
      messages: stores.messages,
      cursors: stores.cursors,
      fanout: app.broker,
      presence: app.broker,
      scheduler: app.queues.scheduler,
      limiter: app.limits.messages,
      changes: app.broker,
      ...(app.broker.writers ? { writers: app.broker.writers } : {}),
      clock,
      limits: { maxTextLength: opts.maxTextLength, inactivityMs: opts.inactivityCloseMs },
    });
    const directory = createDirectory({ directory: stores.directory, credentials: stores.credentials, newId, now: clock.now });
    app.decorate('domain', { chat, directory });
    app.queues.startWorkers({ checkInactivity: chat.checkInactivity });
  },
  { name: 'domain', dependencies: ['mongo', 'broker', 'queues', 'limits'] },
);
