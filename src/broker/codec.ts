/**
 * Pushes as they travel between instances.
 *
 * A message goes as `M<seq> <sessionId>` and a newline, then its `msg` frame
 * as the clients get it: the publishing instance writes the frame once
 * (msgFrameText, which its sender's own echo shares), and every holder of a
 * recipient reads the seq and session from the first line and writes the
 * frame on as it came, without parsing it. An event goes as JSON, with the
 * Dates of its session revived on the way in (`data.session` times), so that
 * a handler gets what the in-process broker would have handed it.
 *
 * Until 2026-12-03 a message went as JSON too (`{"kind":"message",
 * "message":{...}}`); that is still understood, so that pushes of instances
 * of the older version reach this one's clients during a rolling upgrade
 * (the reverse does not hold: see the README's "Rolling a deployment").
 */
import type { Push } from '../domain/ports.js';
import { msgFrameText } from '../protocol/serialize.js';
import type { Delivery } from './broker.js';

const SESSION_DATES = ['createdAt', 'acceptedAt', 'closedAt', 'lastActivityAt'] as const;
const EVENT_NAMES: ReadonlySet<string> = new Set(['typing', 'read', 'session']);
/** the head of a message push: the seq and the session id (protocol ids never hold a space or a newline) */
const MESSAGE_HEAD = /^M([1-9][0-9]{0,14}) ([^\s]+)$/;

export class PushDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PushDecodeError';
  }
}

export function encodePush(push: Push): string {
  if (push.kind === 'message') return `M${push.message.seq} ${push.message.sessionId}\n${msgFrameText(push.message)}`;
  return JSON.stringify(push);
}

/** What a subscriber gets for a push published in this process (the in-process broker). */
export function deliveryOf(push: Push): Delivery {
  if (push.kind === 'event') return push;
  return { kind: 'message', sessionId: push.message.sessionId, seq: push.message.seq, frame: msgFrameText(push.message) };
}

/** The push that `encodePush` wrote, as a subscriber gets it; throws PushDecodeError on anything else. */
export function decodePush(text: string): Delivery {
  if (text.startsWith('M')) return decodeMessage(text);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new PushDecodeError('not JSON');
  }
  if (!isRecord(raw)) throw new PushDecodeError('not an object');
  if (raw.kind === 'message') {
    // an instance of the older version
    const message = raw.message;
    if (!isRecord(message) || typeof message.sessionId !== 'string' || !isSeq(message.seq)) throw new PushDecodeError('message push without a message');
    message.createdAt = toDate(message.createdAt, 'message.createdAt');
    return deliveryOf({ kind: 'message', message: message as never });
  }
  if (raw.kind === 'event') {
    if (typeof raw.sid !== 'string' || typeof raw.name !== 'string' || !EVENT_NAMES.has(raw.name) || !isRecord(raw.data)) {
      throw new PushDecodeError('malformed event push');
    }
    if (raw.name === 'session') {
      const session = raw.data.session;
      if (!isRecord(session)) throw new PushDecodeError('session event without a session');
      for (const field of SESSION_DATES) {
        if (session[field] !== undefined) session[field] = toDate(session[field], `session.${field}`);
      }
    }
    return raw as unknown as Delivery;
  }
  throw new PushDecodeError(`unknown push kind ${JSON.stringify(raw.kind)}`);
}

function decodeMessage(text: string): Delivery {
  const newline = text.indexOf('\n');
  const head = newline > 0 ? MESSAGE_HEAD.exec(text.slice(0, newline)) : null;
  if (!head) throw new PushDecodeError('message push without a seq and a session');
  const frame = text.slice(newline + 1);
  // the frame is passed on unread: it must at least be one
  if (!frame.startsWith('{"t":"msg",') || !frame.endsWith('}')) throw new PushDecodeError('message push without a msg frame');
  return { kind: 'message', sessionId: head[2]!, seq: Number(head[1]), frame };
}

function isSeq(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) > 0;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function toDate(value: unknown, field: string): Date {
  const date = typeof value === 'string' ? new Date(value) : null;
  if (!date || Number.isNaN(date.getTime())) throw new PushDecodeError(`${field} is not an ISO date`);
  return date;
}
