/**
 * WebSocket close codes (shared/PROTOCOL.md). "reconnect" codes mean the
 * client should reconnect with backoff and sync; "terminal" codes mean it must
 * not retry with the same credentials.
 */
export const CLOSE = {
  /** the instance is going away (drain or restart): reconnect elsewhere */
  GOING_AWAY: 1012,
  /** this connection fell too far behind (send buffer full), the instance is at its connection limit, or pushes may have been lost (its Redis subscriptions were down): reconnect and sync */
  TRY_AGAIN_LATER: 1013,
  /** no valid `auth` frame in time, or a bad token */
  UNAUTHORIZED: 4001,
  /** authenticated, but not allowed here */
  FORBIDDEN: 4003,
  /** rate limited, or a frame beyond the hard size cap */
  RATE_LIMITED: 4008,
  /** replaced by policy (for example the account was removed) */
  REPLACED: 4009,
  /** missed two heartbeats, or never acked retransmitted pushes */
  TIMEOUT: 4010,
} as const;

export const RECONNECT_CODES: ReadonlySet<number> = new Set([1000, 1001, 1006, 1011, CLOSE.GOING_AWAY, CLOSE.TRY_AGAIN_LATER, CLOSE.RATE_LIMITED, CLOSE.TIMEOUT]);
export const TERMINAL_CODES: ReadonlySet<number> = new Set([CLOSE.UNAUTHORIZED, CLOSE.FORBIDDEN, CLOSE.REPLACED]);

export function shouldReconnect(code: number): boolean {
  return !TERMINAL_CODES.has(code);
}
