/**
 * Redis channel and key names of the broker, in one place. Every name starts
 * with the configured prefix, so services sharing a Redis (or test files
 * sharing one server) never hear each other.
 *
 * Presence (see redis.ts): a connection is a member of its account's set
 * (and, for an agent, of its site's agents set), written only when it opens
 * and closes; it counts while its instance's liveness key exists. The sets
 * are SETs under names of their own (`presence:conns:`), so that they never
 * meet the sorted sets of the earlier scheme (`presence:acct:`...) while
 * instances of both run side by side during a rolling upgrade.
 */
export interface BrokerKeys {
  /** pub/sub channel: pushes for one account's connections */
  account(accountId: string): string;
  /** pub/sub channel: pushes for every agent of a site (queue views) */
  siteAgents(siteId: string): string;
  /** SET: the account's connections, member `<instanceId>|<connectionId>`; expires a while after its last addition (a day) */
  presenceAccount(accountId: string): string;
  /** SET: the site's agents' connections, member `<agentId>|<instanceId>|<connectionId>`; expires like presenceAccount */
  presenceSiteAgents(siteId: string): string;
  /** STRING: `1` while the instance is alive; it sets the key with PX = presence TTL and refreshes it every TTL/3 */
  presenceInstance(instanceId: string): string;
  /** pub/sub channel: the id of each session changed (a transition), heard by every instance */
  sessionChanges: string;
  /** STRING: the instance that writes the session's messages; expires unless it renews (session-writers.ts) */
  sessionWriter(sessionId: string): string;
  /** pub/sub channel: drafts handed to one instance, and answers to its own (session-writers.ts) */
  instance(instanceId: string): string;
}

export function brokerKeys(prefix: string): BrokerKeys {
  return {
    account: (accountId) => `${prefix}:broker:acct:${accountId}`,
    siteAgents: (siteId) => `${prefix}:broker:site:${siteId}:agents`,
    presenceAccount: (accountId) => `${prefix}:presence:conns:acct:${accountId}`,
    presenceSiteAgents: (siteId) => `${prefix}:presence:conns:site:${siteId}:agents`,
    presenceInstance: (instanceId) => `${prefix}:presence:instance:${instanceId}`,
    sessionChanges: `${prefix}:broker:sessions`,
    sessionWriter: (sessionId) => `${prefix}:writer:session:${sessionId}`,
    instance: (instanceId) => `${prefix}:broker:instance:${instanceId}`,
  };
}

/** Separates the parts of a presence member; ids, host names and pids never contain it. */
export const MEMBER_SEPARATOR = '|';
