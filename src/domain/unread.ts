/**
 * Unread counts, derived from seq cursors so they are consistent by
 * construction: nothing is counted up or down, nothing can drift.
 *
 * A member's read position is the higher of what they marked read and the
 * last seq they sent (whoever replies has seen what they reply to), so every
 * message above it is from somebody else: session unread = lastSeq - read.
 * The sent part lives on the session record, updated together with lastSeq,
 * so a message costs no extra write for it.
 */

export function readPosition(session: { sentSeq?: Record<string, number> }, accountId: string, cursor: number): number {
  return Math.max(cursor, session.sentSeq?.[accountId] ?? 0);
}

export function sessionUnread(lastSeq: number, readSeq: number): number {
  return Math.max(0, lastSeq - readSeq);
}

export interface UnreadSummary {
  total: number;
  sessions: Record<string, number>;
}

export function summarize(entries: Array<{ id: string; lastSeq: number; readSeq: number }>): UnreadSummary {
  const sessions: Record<string, number> = {};
  let total = 0;
  for (const e of entries) {
    const n = sessionUnread(e.lastSeq, e.readSeq);
    sessions[e.id] = n;
    total += n;
  }
  return { total, sessions };
}

/** A read cursor never moves backwards and never past what exists. */
export function nextReadSeq(current: number, requested: number, lastSeq: number): number {
  return Math.max(current, Math.min(requested, lastSeq));
}
