/**
 * The records the domain works with, independent of how they are stored.
 * Ids are opaque strings; times are Dates (the protocol turns them into ISO
 * strings or epoch milliseconds).
 */

export type AccountKind = 'visitor' | 'agent' | 'bot' | 'system';

export interface Account {
  id: string;
  siteId: string;
  kind: AccountKind;
  name: string;
  email?: string;
  /** agents: how many active sessions they may hold at once */
  maxSessions?: number;
  /** identified visitors: the host platform's user id */
  userId?: string;
  /** bots */
  webhookUrl?: string;
  createdAt: Date;
}

export type RoutingMode = 'human' | 'bot-first';
export type AssignMode = 'manual' | 'auto';

export interface Routing {
  mode: RoutingMode;
  botId?: string;
  assign: AssignMode;
}

export interface Site {
  id: string;
  name: string;
  siteKey: string;
  identitySecret: string;
  allowedOrigins: string[];
  routing: Routing;
  /** slow mode: each visitor may send one message per this many seconds (absent or 0: off) */
  slowModeSeconds?: number;
  createdAt: Date;
}

export type SessionState = 'bot' | 'queued' | 'active' | 'closed';

export interface Session {
  id: string;
  siteId: string;
  state: SessionState;
  visitorId: string;
  assigneeId?: string;
  botId?: string;
  topic?: string;
  /** the host page the visitor started from, as the widget reported it */
  page?: { url: string; title?: string };
  /** the agent who last handed the session back to the queue (auto assignment skips them for it) */
  returnedBy?: string;
  /** the highest seq known stored; may lag the store, never leads it */
  lastSeq: number;
  /** per member, the highest seq they sent: their own messages are read (see unread.ts) */
  sentSeq?: Record<string, number>;
  createdAt: Date;
  acceptedAt?: Date;
  closedAt?: Date;
  lastActivityAt: Date;
}

export interface Sender {
  id: string;
  kind: AccountKind;
  name: string;
}

export type MessageType = 'chat' | 'system';
export type MessageStatus = 'ok' | 'pending' | 'rejected';

export interface MessageBody {
  text?: string;
  imageId?: string;
  /** system messages: what happened (started, accepted, transferred, closed) */
  event?: string;
  [extra: string]: unknown;
}

export interface Message {
  id: string;
  sessionId: string;
  siteId: string;
  seq: number;
  cid: string;
  from: Sender;
  type: MessageType;
  body: MessageBody;
  status: MessageStatus;
  createdAt: Date;
}

/** A message before the store gives it an id and a seq. */
export type MessageDraft = Omit<Message, 'id' | 'seq'>;

/** Who is acting: an authenticated visitor, agent or bot. */
export interface Actor {
  id: string;
  siteId: string;
  kind: 'visitor' | 'agent' | 'bot';
  name: string;
}

export const SYSTEM_SENDER: Sender = { id: 'system', kind: 'system', name: 'System' };
