/**
 * Redis key names of the limits, in one place. Every name starts with the
 * configured prefix, so deployments (or test files) sharing a Redis never
 * share a limit. A sender's keys carry a `{hash tag}` of the sender's id, so
 * the one script that touches both lands on one Redis Cluster slot.
 */
export interface LimitKeys {
  /** HASH {tokens, at}: the sender's message token bucket */
  messageBucket(senderId: string): string;
  /** STRING with a TTL: the sender's slow-mode window on the site */
  slowMode(siteId: string, senderId: string): string;
  /** STRING counter with a TTL: WebSocket connection attempts from one IP in the current window */
  wsConnects(ip: string): string;
  /** prefix of @fastify/rate-limit's per-IP REST counters */
  restNamespace: string;
}

export function limitKeys(prefix: string): LimitKeys {
  return {
    messageBucket: (senderId) => `${prefix}:rl:{${senderId}}:msg`,
    slowMode: (siteId, senderId) => `${prefix}:rl:{${senderId}}:slow:${siteId}`,
    wsConnects: (ip) => `${prefix}:rl:ws:${ip}`,
    restNamespace: `${prefix}:rl:rest:`,
  };
}
