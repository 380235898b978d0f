/**
 * Keeps one connection's sends of a session in the order they were sent when
 * one is refused for a while (`rate_limited`, `unavailable`: any error with
 * `retryAfterMs`), or fails unexpectedly (any error that is not the
 * service's own: the client is told `unavailable` and sends it again).
 *
 * The client resends refused messages in the order it first sent them (the
 * SDK's outbox holds later ones back), but the later ones it had already put
 * on the wire arrive meanwhile, and a token may have come back by then:
 * storing one would put it before a refused message. So after a refusal the
 * session is held on this connection: every send refused, or refused because
 * of the hold, joins a queue in the order the sends first arrived, and a
 * send is let through only when it is the head of that queue; every other
 * one, a new one too, is refused the same way and joins the queue. Each
 * resend let through renews the hold; when nobody comes back for its time
 * (at least `HOLD_MIN_MS`) it ends: a client that gave up on a message is
 * held back no longer than that. A held send is passed on as `held` rather
 * than refused here, so the domain still answers a resend of a stored message.
 *
 * A send is admitted (checked, its turn taken, queued for storing) before it
 * is stored, and the connection's next send of the session is admitted
 * meanwhile: refusals at either step join the queue in the order the sends
 * first arrived.
 */
import { AppError, isAppError } from '../errors.js';

/** long enough for the sends already on the wire when a refusal goes out to arrive */
export const HOLD_MIN_MS = 1000;

interface Hold {
  /** the refused sends, by the order they first arrived in: the head goes next */
  queue: Array<{ cid: string; arrival: number }>;
  until: number;
  code: AppError['code'];
}

export class SendOrder {
  /** created on the first refusal: most connections never have one */
  private holds: Map<string, Hold> | undefined;
  /** counts the sends that arrive, to order the refused ones */
  private arrivals = 0;

  constructor(private readonly now: () => number) {}

  /**
   * Admits a send: runs `send`, with `held` set when earlier refused sends
   * of the session must go first. `send` resolves once the message is queued
   * for storing; its `stored` can still be refused after that, and such a
   * refusal holds the session as a refusal at admission does.
   */
  async run<T>(sid: string, cid: string, send: (held: AppError | undefined) => Promise<{ stored: Promise<T> }>): Promise<{ stored: Promise<T> }> {
    const now = this.now();
    let arrival = ++this.arrivals;
    let held: AppError | undefined;
    const hold = this.holds?.get(sid);
    if (hold && hold.until <= now) this.holds!.delete(sid);
    else if (hold && hold.queue[0]?.cid === cid) {
      // its turn: it keeps its place, should it be refused again
      arrival = hold.queue.shift()!.arrival;
      hold.until = Math.max(hold.until, now + HOLD_MIN_MS);
      if (hold.queue.length === 0) this.holds!.delete(sid);
    } else if (hold) {
      if (!hold.queue.some((e) => e.cid === cid)) hold.queue.push({ cid, arrival });
      held = new AppError(hold.code, 'an earlier message of this session was refused: send that one again first', hold.until - now);
    }
    try {
      const { stored } = await send(held);
      // through the hold after all: a resend of a stored message, answered with the original; it will not come back
      if (held) this.forget(sid, cid);
      return {
        stored: stored.catch((err: unknown) => {
          this.refused(sid, cid, arrival, err);
          throw err;
        }),
      };
    } catch (err) {
      if (err !== held) this.refused(sid, cid, arrival, err);
      throw err;
    }
  }

  private forget(sid: string, cid: string): void {
    const hold = this.holds?.get(sid);
    if (!hold) return;
    hold.queue = hold.queue.filter((e) => e.cid !== cid);
    if (hold.queue.length === 0) this.holds!.delete(sid);
  }

  /** Puts a refused send in the session's queue, in the place its first arrival gives it. */
  private refused(sid: string, cid: string, arrival: number, err: unknown): void {
    // the service's own refusals without a retry time are final: the client does not send those again
    if (isAppError(err) && err.retryAfterMs === undefined) {
      this.forget(sid, cid);
      return;
    }
    const [waitMs, code] = isAppError(err) ? [err.retryAfterMs!, err.code] : [0, 'unavailable' as const];
    const now = this.now();
    const until = now + Math.max(waitMs, HOLD_MIN_MS);
    let hold = this.holds?.get(sid);
    if (!hold || hold.until <= now) {
      hold = { queue: [], until, code };
      (this.holds ??= new Map()).set(sid, hold);
    } else {
      hold.until = Math.max(hold.until, until);
    }
    if (hold.queue.some((e) => e.cid === cid)) return;
    const at = hold.queue.findIndex((e) => e.arrival > arrival);
    hold.queue.splice(at < 0 ? hold.queue.length : at, 0, { cid, arrival });
  }
}
