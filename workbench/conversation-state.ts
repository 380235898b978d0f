/**
 * Pure helpers over one conversation's state, kept apart from the controller
 * so the rules (no message twice, ascending seq, what counts as unread, how a
 * system line reads) are in one place.
 */
import type { MessageObject, SessionObject } from '../src/protocol/frames.js';
import type { Account } from './api.js';

/** an own message the service has not stored yet */
export interface Pending {
  cid: string;
  text: string;
  /** set when the service refused it for good */
  error?: string;
}

export interface Conversation {
  id: string;
  session: SessionObject;
  visitor?: Account;
  /** ascending by seq, each seq once */
  messages: MessageObject[];
  pending: Pending[];
  /** my read position: what I marked read or last sent (as the service counts it) */
  readSeq: number;
  /** the visitor's read position, from `read` events */
  visitorReadSeq: number;
  /** when the visitor last said they were typing (ms), 0 when not */
  visitorTypingAt: number;
  /** the session ended while I had it open (e.g. the visitor closed it): kept to read until dismissed */
  ended: boolean;
  /** history is still being fetched */
  loading: boolean;
}

export function newConversation(session: SessionObject): Conversation {
  return { id: session.id, session, messages: [], pending: [], readSeq: 0, visitorReadSeq: 0, visitorTypingAt: 0, ended: session.state === 'closed', loading: true };
}

/** index of the first message with seq >= `seq` */
function lowerBound(list: MessageObject[], seq: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]!.seq < seq) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * `list` with `incoming` merged in by seq; a seq already present is kept as
 * is (REST history and the SDK may both deliver it). The same array when
 * nothing is new, so callers can skip a re-render.
 */
export function mergeMessages(list: MessageObject[], incoming: MessageObject[]): MessageObject[] {
  let out = list;
  for (const m of incoming) {
    const last = out.at(-1);
    if (!last || m.seq > last.seq) {
      if (out === list) out = [...list];
      out.push(m);
      continue;
    }
    const at = lowerBound(out, m.seq);
    if (out[at]?.seq === m.seq) continue;
    if (out === list) out = [...list];
    out.splice(at, 0, m);
  }
  return out;
}

export function lastSeqOf(c: Conversation): number {
  return Math.max(c.messages.at(-1)?.seq ?? 0, 0);
}

/** The service's rule (src/domain/unread.ts): everything past my read position. */
export function unreadOf(c: Conversation): number {
  return c.ended ? 0 : Math.max(0, lastSeqOf(c) - c.readSeq);
}

export type Sender = 'visitor' | 'agent' | 'bot' | 'system';

export function senderOf(m: MessageObject): Sender {
  if (m.type === 'system') return 'system';
  const k = m.from.kind;
  return k === 'visitor' || k === 'bot' ? k : 'agent';
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** What a system message says, for people. */
export function systemText(m: MessageObject, me: string): string {
  const b = m.body as Record<string, unknown>;
  const who = (id: unknown, name: unknown) => (id === me ? 'you' : (str(name) ?? 'an agent'));
  switch (b.event) {
    case 'started':
      return 'Conversation started';
    case 'accepted':
      return `${cap(who(b.agentId, b.agentName))} joined${b.auto ? ' (assigned automatically)' : ''}`;
    case 'transferred':
      return b.toId ? `Transferred from ${who(b.fromId, b.fromName)} to ${who(b.toId, b.toName)}` : `Returned to the queue by ${who(b.fromId, b.fromName)}`;
    case 'handoff':
      return `${cap(str(b.fromName) ?? 'The bot')} handed the conversation to a person`;
    case 'closed': {
      const by = b.by === 'system' ? 'Closed after inactivity' : b.by === 'visitor' ? 'The visitor closed the conversation' : `Closed by ${who(b.byId, b.byName)}`;
      return str(b.reason) ? `${by}: ${b.reason as string}` : by;
    }
    default:
      return str(b.text) ?? str(b.event) ?? 'System message';
  }
}

const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** "AB" for "Ada Byron", "V" for "Visitor 1f2e" */
export function initials(name: string | undefined): string {
  const parts = (name ?? '?').trim().split(/\s+/).filter((p) => /^\p{L}/u.test(p));
  const letters = parts.slice(0, 2).map((p) => p.charAt(0).toUpperCase());
  return letters.join('') || '?';
}

export function visitorName(c: { visitor?: Account; session: SessionObject }): string {
  return c.visitor?.name ?? 'Visitor';
}
