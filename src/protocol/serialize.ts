/** Domain records as the protocol carries them (ISO dates, no internal fields). */
import type { Message, Session } from '../domain/model.js';
import type { MessageObject, MsgFrame, SessionObject } from './frames.js';

export function toMessageObject(m: Message): MessageObject {
  return { id: m.id, sessionId: m.sessionId, seq: m.seq, cid: m.cid, from: m.from, type: m.type, body: m.body, status: m.status, createdAt: m.createdAt.toISOString() };
}

export function toMsgFrameOf(m: Message): MsgFrame {
  return { t: 'msg', sid: m.sessionId, seq: m.seq, id: m.id, cid: m.cid, from: m.from, type: m.type, body: m.body, status: m.status, ts: m.createdAt.getTime() };
}

/** each message's `msg` frame, written once for every connection (and the broker) it goes to */
const msgFrames = new WeakMap<Message, string>();

/** The `msg` frame of a message as text: written once per message object, however many use it. */
export function msgFrameText(m: Message): string {
  let text = msgFrames.get(m);
  if (text === undefined) msgFrames.set(m, (text = JSON.stringify(toMsgFrameOf(m))));
  return text;
}

export function toSessionObject(s: Session): SessionObject {
  return {
    id: s.id,
    siteId: s.siteId,
    state: s.state,
    visitorId: s.visitorId,
    ...(s.assigneeId ? { assigneeId: s.assigneeId } : {}),
    ...(s.botId ? { botId: s.botId } : {}),
    ...(s.topic ? { topic: s.topic } : {}),
    ...(s.page ? { page: s.page } : {}),
    lastSeq: s.lastSeq,
    createdAt: s.createdAt.toISOString(),
    ...(s.acceptedAt ? { acceptedAt: s.acceptedAt.toISOString() } : {}),
    ...(s.closedAt ? { closedAt: s.closedAt.toISOString() } : {}),
  };
}
