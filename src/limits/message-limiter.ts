/** The domain's MessageLimiter on Redis (lua/takeMessage-2.lua), so that every instance draws on the same buckets. */
import type { Redis } from 'ioredis';
import type { LimitRefusal, MessageLimiter } from '../domain/ports.js';
import type { LimitKeys } from './keys.js';

export interface MessageLimiterOptions {
  redis: Redis;
  keys: LimitKeys;
  /** tokens a sender regains per second; 0 turns the bucket off (slow mode still applies) */
  ratePerSec: number;
  /** messages a sender may send at once before the rate applies */
  burst: number;
  onRefused(reason: LimitRefusal['reason']): void;
}

export function createMessageLimiter(opts: MessageLimiterOptions): MessageLimiter {
  const { redis, keys, ratePerSec, burst } = opts;
  return {
    async take(senderId, siteId, slowModeMs) {
      if (ratePerSec === 0 && slowModeMs === 0) return null;
      const [verdict, waitMs] = await redis.takeMessage(keys.messageBucket(senderId), keys.slowMode(siteId, senderId), ratePerSec, burst, slowModeMs);
      if (verdict === 0) return null;
      const reason = verdict === 2 ? 'slow_mode' : 'message_rate';
      opts.onRefused(reason);
      return { reason, retryAfterMs: Math.max(1, waitMs) };
    },
  };
}
