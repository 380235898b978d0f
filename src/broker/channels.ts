/** Channel names, in one place. */
export const channels = {
  account: (accountId: string) => `im:acct:${accountId}`,
  siteAgents: (siteId: string) => `im:site:${siteId}:agents`,
};
