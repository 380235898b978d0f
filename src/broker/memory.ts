/** The broker for a single instance: in-process channels and presence. */
import type { Broker, Delivery, PushHandler } from './broker.js';
import { deliveryOf } from './codec.js';
import { brokerKeys } from './keys.js';

export function createMemoryBroker(): Broker {
  const names = brokerKeys('memory');
  const subs = new Map<string, Set<PushHandler>>();
  const online = new Map<string, { siteId: string; kind: string; connections: Set<string> }>();
  const changeListeners: Array<(sessionId: string | undefined) => void> = [];

  function publish(channel: string, push: Delivery) {
    for (const handler of subs.get(channel) ?? []) handler(push);
  }

  async function subscribe(channel: string, handler: PushHandler) {
    let set = subs.get(channel);
    if (!set) subs.set(channel, (set = new Set()));
    set.add(handler);
    return async () => {
      set.delete(handler);
      if (set.size === 0 && subs.get(channel) === set) subs.delete(channel);
    };
  }

  return {
    async toAccounts(ids, push) {
      const delivery = deliveryOf(push);
      for (const id of ids) publish(names.account(id), delivery);
    },
    async toSiteAgents(siteId, push) {
      publish(names.siteAgents(siteId), deliveryOf(push));
    },
    subscribeAccount: (id, handler) => subscribe(names.account(id), handler),
    subscribeSiteAgents: (siteId, handler) => subscribe(names.siteAgents(siteId), handler),
    async connected(account, connectionId, delta) {
      const entry = online.get(account.id) ?? { siteId: account.siteId, kind: account.kind, connections: new Set<string>() };
      if (delta > 0) entry.connections.add(connectionId);
      else entry.connections.delete(connectionId);
      if (entry.connections.size > 0) online.set(account.id, entry);
      else online.delete(account.id);
    },
    async devices(accountId) {
      return online.get(accountId)?.connections.size ?? 0;
    },
    async onlineAgents(siteId) {
      return [...online].filter(([, e]) => e.siteId === siteId && e.kind === 'agent').map(([id]) => id);
    },
    onPushesLost() {
      // in-process: nothing is ever lost on the way
    },
    async sessionChanged(sessionId) {
      for (const listener of changeListeners) listener(sessionId);
    },
    onSessionChange(listener) {
      changeListeners.push(listener);
    },
    async close() {
      subs.clear();
      online.clear();
    },
  };
}
