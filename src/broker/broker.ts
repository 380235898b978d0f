/**
 * The broker carries pushes from whichever instance stored or decided
 * something to the instances holding the recipients' connections, and keeps
 * presence. Contract:
 * - delivery is at most once and may reorder between publishers (pushes from
 *   one instance arrive in the order it published them); the gateway closes
 *   seq gaps from the store, so users still see exactly-once-in-order. A push
 *   published while an instance's subscriptions are down (Redis restart,
 *   network) is lost for that instance: once they are back, `onPushesLost`
 *   listeners are called, so that the holder can have its clients catch up
 *   (the gateway asks them to reconnect and sync);
 * - a subscription is active when `subscribe*` resolves; handlers of one
 *   channel are called in the order they subscribed, each with the same push;
 * - presence counts connections: each registers under its own id and leaves
 *   under it, and repeating either is harmless. An instance that dies
 *   without saying goodbye does not keep its connections online for longer
 *   than the presence TTL;
 * - word of a session's change (SessionChanges in domain/ports.ts) reaches
 *   every instance of the same prefix, the teller too, in the order told;
 *   when some may have been missed (the same reconnect as above), the
 *   listeners hear `undefined` once the subscriptions are back;
 * - and so are sessions' writers (SessionWriters, session-writers.ts): the
 *   instance that writes a session, to which the others hand its messages;
 * - `close()` is the goodbye: this instance's connections leave presence and
 *   its subscriptions end.
 */
import type { Fanout, Presence, Push, SessionChanges, SessionWriters } from '../domain/ports.js';

/**
 * A stored message as the instances holding its recipients get it: its
 * `msg` frame already written, once, by the instance that published it, so
 * that no holder parses the message or writes the frame again (a large
 * share of what each message cost its recipients' instance).
 */
export interface MessageDelivery {
  kind: 'message';
  sessionId: string;
  seq: number;
  /** the `msg` frame's text (protocol/serialize.ts msgFrameText) */
  frame: string;
}

/** A push as a subscriber gets it: a message as its frame, an event as published. */
export type Delivery = MessageDelivery | Extract<Push, { kind: 'event' }>;

export type PushHandler = (push: Delivery) => void;
export type Unsubscribe = () => Promise<void>;

/** Who holds a connection, as presence needs it. */
export interface PresenceAccount {
  id: string;
  siteId: string;
  kind: string;
}

export interface Broker extends Fanout, Presence, SessionChanges {
  subscribeAccount(accountId: string, handler: PushHandler): Promise<Unsubscribe>;
  subscribeSiteAgents(siteId: string, handler: PushHandler): Promise<Unsubscribe>;
  /** The account's connection `connectionId` opened (`+1`) or closed (`-1`). */
  connected(account: PresenceAccount, connectionId: string, delta: 1 | -1): Promise<void>;
  /** Devices (connections) the account holds right now, on all instances. */
  devices(accountId: string): Promise<number>;
  /** `listener` is called each time this instance's subscriptions are back after pushes may have been lost. */
  onPushesLost(listener: () => void): void;
  /** One writer per session across instances (session-writers.ts); none in-process, where this instance writes every session. */
  writers?: SessionWriters;
  close(): Promise<void>;
}
