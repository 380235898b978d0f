/**
 * The broker carries pushes from whichever instance stored or decided
 * something to the instances holding the recipients' connections, and keeps
 * presence. Contract:
 * - delivery is at most once and may reorder between publishers; the gateway
 *   closes seq gaps from the store, so users still see exactly-once-in-order;
 * - a subscription is active when `subscribe*` resolves;
 * - presence counts connections per account; an instance that dies without
 *   saying goodbye must not keep its accounts online for long.
 */
import type { Fanout, Presence, Push } from '../domain/ports.js';

export type PushHandler = (push: Push) => void;
export type Unsubscribe = () => Promise<void>;

export interface Broker extends Fanout, Presence {
  subscribeAccount(accountId: string, handler: PushHandler): Promise<Unsubscribe>;
  subscribeSiteAgents(siteId: string, handler: PushHandler): Promise<Unsubscribe>;
  /** A connection of the account opened (`+1`) or closed (`-1`). */
  connected(account: { id: string; siteId: string; kind: string }, delta: 1 | -1): Promise<void>;
  /** Devices (connections) the account holds right now, on all instances. */
  devices(accountId: string): Promise<number>;
  close(): Promise<void>;
}
