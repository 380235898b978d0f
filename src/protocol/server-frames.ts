/**
 * Server -> client frames (shared/PROTOCOL.md, "WebSocket"). Plain types and
 * two converters, with no schema library, so that browser bundles of the SDK
 * stay small; frames.ts re-exports them beside the client frames' schemas.
 */
import type { MessageObject, SessionObject } from './frames.js';

export interface ReadySession {
  id: string;
  state: SessionObject['state'];
  lastSeq: number;
  readSeq: number;
}

export interface ReadyFrame {
  t: 'ready';
  account: { id: string; kind: string; name: string; siteId: string };
  sessions: ReadySession[];
  /** server heartbeat interval: a client that hears nothing for twice this long reconnects */
  heartbeatMs: number;
}
export interface SentFrame {
  t: 'sent';
  sid: string;
  cid: string;
  id: string;
  seq: number;
  ts: number;
}
export interface MsgFrame {
  t: 'msg';
  sid: string;
  seq: number;
  id: string;
  cid: string;
  from: MessageObject['from'];
  type: MessageObject['type'];
  body: MessageObject['body'];
  status: MessageObject['status'];
  ts: number;
}
export interface EventFrame {
  t: 'event';
  sid: string;
  name: 'typing' | 'read' | 'session' | 'moderation';
  [field: string]: unknown;
}
export interface BatchFrame {
  t: 'batch';
  sid: string;
  messages: MessageObject[];
  more: boolean;
}
export interface ErrorFrame {
  t: 'error';
  code: string;
  message: string;
  cid?: string;
  /** the session of the frame that failed, when it named one */
  sid?: string;
  /** the `t` of the frame that failed, when known */
  ref?: string;
  /** `rate_limited` and `unavailable`: wait at least this long before trying again */
  retryAfterMs?: number;
}
export interface PongFrame {
  t: 'pong';
}
export type ServerFrame = ReadyFrame | SentFrame | MsgFrame | EventFrame | BatchFrame | ErrorFrame | PongFrame;

/** The `msg` frame of a message object and back. */
export function toMsgFrame(m: MessageObject): MsgFrame {
  return { t: 'msg', sid: m.sessionId, seq: m.seq, id: m.id, cid: m.cid, from: m.from, type: m.type, body: m.body, status: m.status, ts: Date.parse(m.createdAt) };
}

export function fromMsgFrame(f: MsgFrame): MessageObject {
  return { id: f.id, sessionId: f.sid, seq: f.seq, cid: f.cid, from: f.from, type: f.type, body: f.body, status: f.status, createdAt: new Date(f.ts).toISOString() };
}
