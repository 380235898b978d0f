/**
 * Sends that have no `sent` answer yet.
 *
 * Contract:
 * - A send keeps its cid for its whole life, so every resend is deduplicated
 *   by the server's (session, sender, cid) index and answered with the same
 *   `sent`: the promise resolves exactly once.
 * - Frames go on the wire in the order `add()` was called; after a reconnect
 *   the whole outbox is resent in that order.
 * - A send without `sent` after `timeoutMs` is resent (same cid).
 * - An `unavailable`/`rate_limited` error parks the send for a backoff delay,
 *   or for the error's `retryAfterMs` when that is longer.
 *   Later sends of the same session wait behind it, so they cannot overtake it.
 *   (Sends that were already on the wire when the error came cannot be
 *   called back; that order is up to how the server stores them.)
 * - Any other error rejects that send only.
 */
import type { SendFrame, SentFrame } from '../protocol/frames.js';
import { ClientError, RETRYABLE_CODES } from './client-error.js';

export interface OutboxOptions {
  timeoutMs: number;
  /** delay before retry number `attempt` (0-based) after a retryable error */
  retryDelay: (attempt: number) => number;
  /** writes the frame if a ready connection exists; false if it could not */
  transmit: (frame: SendFrame) => boolean;
}

export interface PendingSend {
  readonly sid: string;
  readonly cid: string;
  readonly text: string;
}

interface Entry extends PendingSend {
  /** queued: not on the current connection yet; inflight: written, awaiting `sent`; parked: retry after backoff */
  state: 'queued' | 'inflight' | 'parked';
  retries: number;
  timer: ReturnType<typeof setTimeout> | undefined;
  promise: Promise<SentFrame>;
  resolve: (f: SentFrame) => void;
  reject: (e: Error) => void;
}

const keyOf = (sid: string, cid: string) => `${sid}\u0000${cid}`;

export class Outbox {
  /** Map iteration order is insertion order: that is the send order. */
  private readonly entries = new Map<string, Entry>();
  private online = false;

  constructor(private readonly opts: OutboxOptions) {}

  get size(): number {
    return this.entries.size;
  }

  /** what is still waiting for `sent`, oldest first (for "sending…" UI) */
  list(): PendingSend[] {
    return [...this.entries.values()].map(({ sid, cid, text }) => ({ sid, cid, text }));
  }

  /** Adds a send; the same sid+cid while still pending returns the same promise. */
  add(sid: string, cid: string, text: string): Promise<SentFrame> {
    const existing = this.entries.get(keyOf(sid, cid));
    if (existing) return existing.promise;
    let resolve!: (f: SentFrame) => void;
    let reject!: (e: Error) => void;
    const promise = new Promise<SentFrame>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    this.entries.set(keyOf(sid, cid), { sid, cid, text, state: 'queued', retries: 0, timer: undefined, promise, resolve, reject });
    this.flush();
    return promise;
  }

  /** A connection became ready: (re)send everything in order. */
  goOnline(): void {
    this.online = true;
    this.flush();
  }

  /** The connection is gone: whatever was in flight must be sent again on the next one. */
  goOffline(): void {
    this.online = false;
    for (const e of this.entries.values()) {
      this.clearTimer(e);
      e.state = 'queued';
    }
  }

  /** Settles the send a `sent` frame answers; false if none is pending (a late duplicate answer). */
  settle(f: SentFrame): boolean {
    const e = this.entries.get(keyOf(f.sid, f.cid));
    if (!e) return false;
    this.remove(e);
    e.resolve(f);
    return true;
  }

  /** Applies an `error` frame carrying a cid; false if no pending send has that cid. */
  fail(cid: string, code: string, message: string, retryAfterMs?: number): boolean {
    const e = this.find(cid);
    if (!e) return false;
    if (RETRYABLE_CODES.has(code)) {
      this.clearTimer(e);
      e.state = 'parked';
      e.timer = setTimeout(() => {
        e.timer = undefined;
        e.state = 'queued';
        this.flush();
      }, Math.max(this.opts.retryDelay(e.retries++), typeof retryAfterMs === 'number' && retryAfterMs > 0 ? retryAfterMs : 0));
      return true;
    }
    this.remove(e);
    e.reject(new ClientError(code, message, { cid }));
    return true;
  }

  rejectAll(err: (p: PendingSend) => Error): void {
    const all = [...this.entries.values()];
    for (const e of all) this.remove(e);
    for (const e of all) e.reject(err(e));
  }

  private flush(): void {
    if (!this.online) return;
    const held = new Set<string>();
    for (const e of this.entries.values()) {
      if (e.state === 'parked') held.add(e.sid);
      else if (e.state === 'queued' && !held.has(e.sid)) this.write(e);
    }
  }

  private write(e: Entry): void {
    this.clearTimer(e);
    if (!this.opts.transmit({ t: 'send', sid: e.sid, cid: e.cid, body: { text: e.text } })) {
      e.state = 'queued';
      return;
    }
    e.state = 'inflight';
    e.timer = setTimeout(() => {
      e.timer = undefined;
      if (e.state === 'inflight' && this.online) this.write(e);
    }, this.opts.timeoutMs);
  }

  /** Prefers the send on the wire: an error answers something that was sent. */
  private find(cid: string): Entry | undefined {
    let fallback: Entry | undefined;
    for (const e of this.entries.values()) {
      if (e.cid !== cid) continue;
      if (e.state === 'inflight') return e;
      fallback ??= e;
    }
    return fallback;
  }

  private remove(e: Entry): void {
    this.clearTimer(e);
    this.entries.delete(keyOf(e.sid, e.cid));
  }

  private clearTimer(e: Entry): void {
    if (e.timer !== undefined) clearTimeout(e.timer);
    e.timer = undefined;
  }
}
