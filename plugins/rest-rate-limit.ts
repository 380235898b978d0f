/**
 * Per-IP request limit of the REST API (@fastify/rate-limit on the app's
 * Redis, so it holds across instances), answered in the service's error shape
 * with Retry-After. Register it inside the scope it limits (`/api/v1`):
 * health checks, metrics and the WebSocket upgrade have limits of their own.
 */
import rateLimit from '@fastify/rate-limit';
import fp from 'fastify-plugin';
import { rateLimited } from '../src/errors.js';
import { limitKeys } from '../src/limits/keys.js';

export interface RestRateLimitOptions {
  prefix: string;
  /** requests per minute per client IP; 0 turns the limit off */
  perMinute: number;
}

export default fp<RestRateLimitOptions>(
  async (app, opts) => {
    if (opts.perMinute === 0) return;
    await app.register(rateLimit, {
      max: opts.perMinute,
      timeWindow: 60_000,
      redis: app.redis,
      nameSpace: limitKeys(opts.prefix).restNamespace,
      // Redis unreachable: serve rather than refuse everyone (whatever needs Redis fails on its own)
      skipOnError: true,
      onExceeded: () => app.metrics.refused('rest_rate'),
      errorResponseBuilder: (_request, context) => rateLimited(`too many requests, retry in ${context.after}`, context.ttl),
    });
  },
  { name: 'rest-rate-limit', dependencies: ['redis', 'metrics'] },
);
