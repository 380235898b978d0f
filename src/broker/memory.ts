/** The broker for a single instance: in-process channels and presence. */
import type { Push } from '../domain/ports.js';
import type { Broker, PushHandler } from './broker.js';
import { channels } from './channels.js';

export function createMemoryBroker(): Broker {
  const subs = new Map<string, Set<PushHandler>>();
  const online = new Map<string, { siteId: string; kind: string; count: number }>();

  function publish(channel: string, push: Push) {
    for (const handler of subs.get(channel) ?? []) handler(push);
  }

  async function subscribe(channel: string, handler: PushHandler) {
    let set = subs.get(channel);
    if (!set) subs.set(channel, (set = new Set()));
    set.add(handler);
    return async () => {
      set.delete(handler);
      if (set.size === 0) subs.delete(channel);
    };
  }

  return {
    async toAccounts(ids, push) {
      for (const id of ids) publish(channels.account(id), push);
    },
    async toSiteAgents(siteId, push) {
      publish(channels.siteAgents(siteId), push);
    },
    subscribeAccount: (id, handler) => subscribe(channels.account(id), handler),
    subscribeSiteAgents: (siteId, handler) => subscribe(channels.siteAgents(siteId), handler),
    async connected(account, delta) {
      const entry = online.get(account.id) ?? { siteId: account.siteId, kind: account.kind, count: 0 };
      entry.count += delta;
      if (entry.count > 0) online.set(account.id, entry);
      else online.delete(account.id);
    },
    async devices(accountId) {
      return online.get(accountId)?.count ?? 0;
    },
    async onlineAgents(siteId) {
      return [...online].filter(([, e]) => e.siteId === siteId && e.kind === 'agent').map(([id]) => id);
    },
    async close() {
      subs.clear();
      online.clear();
    },
  };
}
