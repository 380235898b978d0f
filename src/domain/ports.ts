/**
 * The interfaces the domain needs from the outside world. store/, broker/ and
 * queues/ implement them; the domain never imports MongoDB, Redis or BullMQ.
 */
import type { Account, Message, MessageDraft, Routing, Session, SessionState, Site } from './model.js';

export interface SiteStore {
  get(id: string): Promise<Site | null>;
  setRouting(id: string, routing: Routing): Promise<Site | null>;
  /** Sets the site's slow mode (0: off). */
  setSlowMode(id: string, seconds: number): Promise<Site | null>;
}

export interface AccountStore {
  get(id: string): Promise<Account | null>;
  /**
   * Takes one of the agent's `maxSessions` capacity slots for `sessionId`.
   * Atomic by construction (a slot is a uniquely keyed insert), so concurrent
   * claims on any number of instances never exceed the capacity. Claiming
   * again for the same session succeeds without taking a second slot.
   */
  claimSlot(agentId: string, sessionId: string): Promise<boolean>;
  /** Gives back the slot held for `sessionId`, if any. */
  releaseSlot(agentId: string, sessionId: string): Promise<void>;
  /** The slots an agent holds: for which session, since when. */
  heldSlots(agentId: string): Promise<Array<{ sessionId: string; since: Date }>>;
  /** Agents among `ids` with free capacity, least loaded (fewest slots held) first. */
  agentsWithRoom(siteId: string, ids: string[]): Promise<Account[]>;
}

export interface SessionFilter {
  siteId: string;
  states?: SessionState[];
  visitorId?: string;
  assigneeId?: string;
  botId?: string;
  limit?: number;
}

export interface SessionStore {
  /**
   * Creates the visitor's open session, or returns the one that is already
   * open (at most one per visitor and site, on any number of instances).
   */
  openForVisitor(draft: Omit<Session, 'id'>): Promise<{ session: Session; created: boolean }>;
  /**
   * The session as last written. Its state may trail a transition made on
   * another instance by moments (until that instance's write lands); the
   * transition itself is what arbitrates.
   */
  get(id: string): Promise<Session | null>;
  /** The visitor's open session on the site, if any (a key lookup, not a search). */
  openOf(siteId: string, visitorId: string): Promise<Session | null>;
  /**
   * Compare-and-set: applies `set`/`unset` only if the session is in one of
   * `from` (and, when given, has `assigneeId`/`botId` as expected). Returns the
   * updated session, or null when the condition did not hold. Of two
   * concurrent transitions from the same state exactly one succeeds.
   */
  transition(
    id: string,
    expect: { from: SessionState[]; assigneeId?: string; botId?: string },
    set: Partial<Session>,
    unset?: Array<'assigneeId' | 'botId'>,
  ): Promise<Session | null>;
  list(filter: SessionFilter): Promise<Session[]>;
  count(filter: SessionFilter): Promise<number>;
  /**
   * Records that `seq` is stored (and sent by `senderId`, when a member sent
   * it): `lastSeq`, `lastActivityAt` and `sentSeq[senderId]` only move
   * forward. The write may be gathered with later ones for a few seconds
   * (longer while the database is slow); this process's reads see it at once,
   * other instances' reads once it is written, so
   * `lastSeq` may lag the store (never lead it): ask the message store where
   * exactness matters.
   */
  noteAppended(id: string, seq: number, at: Date, senderId?: string): Promise<void>;
}

export interface MessageStore {
  /**
   * Stores the draft with the next seq of its session, keeping the store
   * prefix-closed (seq N is only written once N-1 is stored). A draft whose
   * (sessionId, from.id, cid) is already stored returns that message with
   * `created: false` and writes nothing. `lastSeqHint` is a lower bound of the
   * stored seq (it may lag, never lead). Drafts of one session get their
   * seqs in the order `append` was called, however many are on their way;
   * one that fails fails the session's drafts called after it as well.
   */
  append(draft: MessageDraft, lastSeqHint: number): Promise<{ message: Message; created: boolean }>;
  /** Messages with seq > after, ascending, at most `limit`. */
  after(sessionId: string, after: number, limit: number): Promise<Message[]>;
  /** The highest stored seq of the session, given one known stored (`hint`). */
  lastSeq(sessionId: string, hint: number): Promise<number>;
  /** The message a sender stored with this cid, if any. */
  findByCid(sessionId: string, senderId: string, cid: string): Promise<Message | null>;
  /** Seq `seq` of the session is stored, maybe by another instance (the broker brought it): later appends start past it. */
  noteStored(sessionId: string, seq: number): void;
}

export interface CursorStore {
  /** Moves the read cursor forward (never backwards); returns the resulting readSeq. */
  advance(sessionId: string, accountId: string, seq: number): Promise<number>;
  /** Read cursors of one account for the given sessions (0 when none). */
  readSeqs(accountId: string, sessionIds: string[]): Promise<Map<string, number>>;
}

/** What is pushed to connected clients, wherever they are connected. */
export type Push =
  | { kind: 'message'; message: Message }
  | { kind: 'event'; sid: string; name: 'typing' | 'read' | 'session'; data: Record<string, unknown> };

/**
 * Fan-out to connections on every instance. Delivery is best effort and may
 * reorder across publishers; clients close gaps by seq, the store is the truth.
 */
export interface Fanout {
  toAccounts(accountIds: string[], push: Push): Promise<void>;
  /** every agent of the site (queue views) */
  toSiteAgents(siteId: string, push: Push): Promise<void>;
}

/**
 * Word of sessions' transitions, heard by every instance, so that an
 * instance may keep the sessions it read (domain/session-cache.ts) and still
 * drop one as soon as a transition is made anywhere, without asking anyone
 * for each message. Whoever makes a transition tells, once the session store
 * has it; every instance hears it, the teller too. A transition whose
 * instance died before telling goes unheard, and word can be missed (the
 * broker's subscriber reconnected: the listeners then hear `undefined`,
 * "forget them all"): users bound both with a time to live of what they keep.
 */
export interface SessionChanges {
  /** Tells every instance that the session changed (its store has the change). */
  sessionChanged(sessionId: string): Promise<void>;
  /** `listener` hears each session changed anywhere, and `undefined` when word of changes may have been missed. */
  onSessionChange(listener: (sessionId: string | undefined) => void): void;
}

/**
 * A message another instance hands to the writer of its session, with what
 * that instance read of the session when it took the message: the writer
 * stores and pushes it without reading the session again.
 */
export interface ForwardedAppend {
  session: { id: string; siteId: string; lastSeq: number };
  draft: Omit<Message, 'id' | 'seq' | 'sessionId' | 'siteId' | 'createdAt'>;
  /** who gets the message pushed: the session's members when it was taken, and any others named */
  to: string[];
}

/**
 * One writer per session across instances. When a session's visitor is on
 * one instance and its agent on another, both would store its messages:
 * racing for the same seqs, each clash cost a retry and lookups, and taking
 * turns at the session (until 2026-12-07) cost one turn per message when
 * they chatted, each waiting for the other's insert: two instances sustained
 * half of what one did (bench/RESULTS.md, 2026-12-07). Instead, the instance
 * that writes a session first is its writer for as long as it keeps writing
 * it (a lease); the others hand it their drafts, and it stores and pushes
 * them as its own.
 *
 * Advisory only: the insert is still the claim (shared/DESIGN.md, "Order"),
 * so two instances that both believe they write a session (a lease that
 * lapsed under a stuck writer, Redis away) cost clashes, never a gap or a
 * duplicate.
 */
export interface SessionWriters {
  /** this instance, as `writerOf` names it */
  readonly self: string;
  /**
   * The instance that writes the session now, made this one when none does,
   * or when it is `gone` (a writer `forward` found gone); renews the lease
   * when it is this one.
   */
  writerOf(sessionId: string, gone?: string): Promise<string>;
  /** The writer `writerOf` answered lately (within a second), without asking; undefined when it did not. */
  knownWriter(sessionId: string): string | undefined;
  /** This instance wrote the session (for itself or for another): it stays its writer (a renewal, now and then). */
  renew(sessionId: string): void;
  /**
   * Hands a draft to the writer `instanceId`: its answer once the message is
   * stored and pushed, or its refusal. Rejects with WriterGone when no such
   * instance listens (it died or drained), and so do the drafts handed to it
   * earlier that it had not answered; with `unavailable` when it does not
   * answer in time. Either way it may have stored the draft: a resend finds
   * it by its cid.
   */
  forward(instanceId: string, request: ForwardedAppend): Promise<{ message: Message; created: boolean }>;
  /** Serves the drafts other instances hand to this one. */
  serve(handler: (request: ForwardedAppend) => Promise<{ message: Message; created: boolean }>): void;
  /**
   * Stops being any session's writer (a drain, once this instance's own
   * sends are done): drafts handed here from now on find it gone, and their
   * instances take its sessions over at once.
   */
  leave(): Promise<void>;
}

/** SessionWriters.forward: nobody listens as that instance any more. */
export class WriterGone extends Error {
  constructor(readonly instanceId: string) {
    super(`instance ${instanceId} is gone`);
    this.name = 'WriterGone';
  }
}

export interface Presence {
  /** Agents of the site with at least one live connection. */
  onlineAgents(siteId: string): Promise<string[]>;
}

export interface Scheduler {
  /** Arranges `checkInactivity(sessionId)` to run at `at`, surviving restarts. */
  inactivityCheck(sessionId: string, at: Date): Promise<void>;
}

/** Why a new message was refused, and when the sender may try again. */
export interface LimitRefusal {
  reason: 'message_rate' | 'slow_mode';
  retryAfterMs: number;
}

/**
 * Admission of new messages, held across instances: a token bucket per
 * sender (a burst, then a steady rate) and, when `slowModeMs` > 0, at most one
 * message per window per sender on the site. One atomic step: an admission
 * takes a token (and opens the window), a refusal takes nothing. The domain
 * asks only for messages it is about to store, never for a resend of a
 * stored one.
 */
export interface MessageLimiter {
  take(senderId: string, siteId: string, slowModeMs: number): Promise<LimitRefusal | null>;
}

export interface Clock {
  now(): Date;
}

/** What an opaque secret (site admin key, bot token) grants; stored under the secret's hash. */
export interface Credential {
  kind: 'siteAdmin' | 'bot';
  siteId: string;
  accountId?: string;
}

export interface CredentialStore {
  put(secretHash: string, credential: Credential): Promise<void>;
  get(secretHash: string): Promise<Credential | null>;
}

/** Creation and lookup of sites and accounts (the directory). */
export interface DirectoryStore {
  createSite(site: Site): Promise<void>;
  siteByKey(siteKey: string): Promise<Site | null>;
  countSites(): Promise<number>;
  /**
   * Creates the account unless one with the same unique `key` exists
   * (agent email, or site + identified user id); returns whichever is stored.
   */
  createAccount(account: Account, key: string, secret?: { passwordHash?: string; webhookSecret?: string }): Promise<{ account: Account; created: boolean }>;
  accountByKey(key: string): Promise<(Account & { passwordHash?: string; webhookSecret?: string }) | null>;
  listAgents(siteId: string): Promise<Account[]>;
}
