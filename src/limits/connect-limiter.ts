/**
 * WebSocket connection attempts per client IP, held across instances: a
 * fixed one-minute window per IP in Redis (lua/countHit-1.lua). A reconnect
 * storm from one address is refused before it costs an upgrade and an
 * authentication each.
 */
import type { Redis } from 'ioredis';
import type { LimitKeys } from './keys.js';

export const CONNECT_WINDOW_MS = 60_000;

export interface ConnectLimiter {
  /** Counts an attempt from `ip`: null when it may go on, else how long until the window ends. */
  take(ip: string): Promise<{ retryAfterMs: number } | null>;
}

export function createConnectLimiter(opts: { redis: Redis; keys: LimitKeys; perMinute: number }): ConnectLimiter {
  const { redis, keys, perMinute } = opts;
  return {
    async take(ip) {
      if (perMinute === 0) return null;
      const [hits, leftMs] = await redis.countHit(keys.wsConnects(ip), CONNECT_WINDOW_MS);
      return hits > perMinute ? { retryAfterMs: Math.max(1, leftMs) } : null;
    },
  };
}
