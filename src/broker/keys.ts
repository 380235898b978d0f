/**
 * Redis channel and key names of the broker, in one place. Every name starts
 * with the configured prefix, so services sharing a Redis (or test files
 * sharing one server) never hear each other.
 */
export interface BrokerKeys {
  /** pub/sub channel: pushes for one account's connections */
  account(accountId: string): string;
  /** pub/sub channel: pushes for every agent of a site (queue views) */
  siteAgents(siteId: string): string;
  /** ZSET: the account's live connections, member `<instanceId>|<connectionId>`, score = expiry (ms) */
  presenceAccount(accountId: string): string;
  /** ZSET: the site's agents' live connections, member `<agentId>|<instanceId>|<connectionId>`, score = expiry (ms) */
  presenceSiteAgents(siteId: string): string;
  /** STRING: the session's change stamp (a counter bumped by every transition) */
  sessionStamp(sessionId: string): string;
}

export function brokerKeys(prefix: string): BrokerKeys {
  return {
    account: (accountId) => `${prefix}:broker:acct:${accountId}`,
    siteAgents: (siteId) => `${prefix}:broker:site:${siteId}:agents`,
    presenceAccount: (accountId) => `${prefix}:presence:acct:${accountId}`,
    presenceSiteAgents: (siteId) => `${prefix}:presence:site:${siteId}:agents`,
    sessionStamp: (sessionId) => `${prefix}:stamp:session:${sessionId}`,
  };
}

/** Separates the parts of a presence member; ids, host names and pids never contain it. */
export const MEMBER_SEPARATOR = '|';
