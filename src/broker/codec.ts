/**
 * Pushes as they travel between instances: JSON text, with the Dates of the
 * domain records revived on the way in (a message's `createdAt`; a session
 * event's `data.session` times), so that a handler gets what the in-process
 * broker would have handed it.
 */
import type { Push } from '../domain/ports.js';

const SESSION_DATES = ['createdAt', 'acceptedAt', 'closedAt', 'lastActivityAt'] as const;
const EVENT_NAMES: ReadonlySet<string> = new Set(['typing', 'read', 'session']);

export class PushDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PushDecodeError';
  }
}

export function encodePush(push: Push): string {
  return JSON.stringify(push);
}

/** The push that `encodePush` wrote; throws PushDecodeError on anything else. */
export function decodePush(text: string): Push {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new PushDecodeError('not JSON');
  }
  if (!isRecord(raw)) throw new PushDecodeError('not an object');
  if (raw.kind === 'message') {
    const message = raw.message;
    if (!isRecord(message)) throw new PushDecodeError('message push without a message');
    message.createdAt = toDate(message.createdAt, 'message.createdAt');
    return raw as unknown as Push;
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
    return raw as unknown as Push;
  }
  throw new PushDecodeError(`unknown push kind ${JSON.stringify(raw.kind)}`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function toDate(value: unknown, field: string): Date {
  const date = typeof value === 'string' ? new Date(value) : null;
  if (!date || Number.isNaN(date.getTime())) throw new PushDecodeError(`${field} is not an ISO date`);
  return date;
}
