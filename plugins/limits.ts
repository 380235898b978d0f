/**
 * The limits held in Redis, shared by every instance: message admission (a
 * token bucket per sender, and sites' slow mode) for the domain, and
 * WebSocket connection attempts per IP for the gateway's upgrade. Refusals are
 * counted in `im_refusals_total`.
 */
import fp from 'fastify-plugin';
import type { MessageLimiter } from '../src/domain/ports.js';
import { type ConnectLimiter, createConnectLimiter } from '../src/limits/connect-limiter.js';
import { limitKeys } from '../src/limits/keys.js';
import { createMessageLimiter } from '../src/limits/message-limiter.js';
import { defineLimitScripts } from '../src/limits/scripts.js';

declare module 'fastify' {
  interface FastifyInstance {
    limits: { messages: MessageLimiter; connects: ConnectLimiter };
  }
}

export interface LimitsPluginOptions {
  prefix: string;
  msgRatePerSec: number;
  msgBurst: number;
  wsConnectPerMin: number;
}

export default fp<LimitsPluginOptions>(
  async (app, opts) => {
    defineLimitScripts(app.redis);
    const keys = limitKeys(opts.prefix);
    app.decorate('limits', {
      messages: createMessageLimiter({
        redis: app.redis,
        keys,
        ratePerSec: opts.msgRatePerSec,
        burst: opts.msgBurst,
        onRefused: (reason) => app.metrics.refused(reason),
      }),
      connects: createConnectLimiter({ redis: app.redis, keys, perMinute: opts.wsConnectPerMin }),
    });
  },
  { name: 'limits', dependencies: ['redis', 'metrics'] },
);
