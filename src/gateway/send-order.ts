/**
 * Keeps one connection's sends of a session in the order they were sent when
 * one is refused for a while (`rate_limited`, `unavailable`: any error with
 * `retryAfterMs`), or fails unexpectedly (any error that is not the
 * service's own: the client is told `unavailable` and sends it again).
 *
 * The client resends a refused message before any later one (the SDK's
 * outbox holds them back), but the later ones it had already put on the wire
 * arrive meanwhile, and a token may have come back by then: storing one would
 * put it before the refused message. So after such a refusal, every other
 * send of the session on this connection is refused the same way until the
 * refused cid comes back, or until the wait it was given (at least
 * `HOLD_MIN_MS`) is over: a client that gives up on a message is held back no
 * longer than that. A held send is passed on as `held` rather than refused
 * here, so the domain still answers a resend of a stored message.
 *
 * A send is admitted (checked, its turn taken, queued for storing) before it
 * is stored, and the connection's next send of the session is admitted
 * meanwhile: refusals at either step hold the session.
 */
import { AppError, isAppError } from '../errors.js';

/** long enough for the sends already on the wire when a refusal goes out to arrive */
export const HOLD_MIN_MS = 1000;

export class SendOrder {
  /** created on the first refusal: most connections never have one */
  private holds: Map<string, { cid: string; until: number; code: AppError['code'] }> | undefined;

  constructor(private readonly now: () => number) {}

  /**
   * Admits a send: runs `send`, with `held` set when an earlier refused send
   * of the session must go first. `send` resolves once the message is queued
   * for storing; its `stored` can still be refused after that, and such a
   * refusal holds the session as a refusal at admission does.
   */
  async run<T>(sid: string, cid: string, send: (held: AppError | undefined) => Promise<{ stored: Promise<T> }>): Promise<{ stored: Promise<T> }> {
    const hold = this.holds?.get(sid);
    let held: AppError | undefined;
    if (hold && hold.cid !== cid && hold.until > this.now()) {
      held = new AppError(hold.code, 'an earlier message of this session was refused: send that one again first', hold.until - this.now());
    } else {
      this.holds?.delete(sid);
    }
    try {
      const { stored } = await send(held);
      return {
        stored: stored.catch((err: unknown) => {
          this.refused(sid, cid, err);
          throw err;
        }),
      };
    } catch (err) {
      if (err !== held) this.refused(sid, cid, err);
      throw err;
    }
  }

  /**
   * Holds the session's other sends behind `cid`, unless an earlier refused
   * send already holds it: sends queued behind a failed store are refused
   * with it (message-appender.ts), and the first of them must go first.
   */
  private refused(sid: string, cid: string, err: unknown): void {
    // the service's own refusals without a retry time are final: the client does not send those again
    if (isAppError(err) && err.retryAfterMs === undefined) return;
    const hold = this.holds?.get(sid);
    if (hold && hold.cid !== cid && hold.until > this.now()) return;
    const [waitMs, code] = isAppError(err) ? [err.retryAfterMs!, err.code] : [0, 'unavailable' as const];
    (this.holds ??= new Map()).set(sid, { cid, until: this.now() + Math.max(waitMs, HOLD_MIN_MS), code });
  }
}
