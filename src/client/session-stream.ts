/**
 * Per-session ordering for one client: turns pushes and sync batches, which may
 * arrive duplicated, early or twice, into one strictly increasing, contiguous
 * run of seqs. Pure bookkeeping (no timers, no I/O), so it is unit-tested alone.
 *
 * Usage: `offer(m)` each message as it arrives, then call `next()` until it
 * returns undefined and hand those to the app. `delivered` advances one message
 * per `next()`, so it is exact even while the app is being called.
 */
import type { MessageObject } from '../protocol/frames.js';

/**
 * - `next`: the message can be delivered now (take it with `next()`)
 * - `duplicate`: already delivered or already waiting; drop it (still ack)
 * - `early`: a gap precedes it; it waits until the gap is filled by a sync
 */
export type OfferResult = 'next' | 'duplicate' | 'early';

export class SessionStream {
  private deliveredSeq: number;
  private knownSeq: number;
  /** messages received but not yet delivered, by seq */
  private readonly waiting = new Map<number, MessageObject>();

  /** @param delivered the last seq the app already holds (0: none) */
  constructor(delivered = 0) {
    this.deliveredSeq = delivered;
    this.knownSeq = delivered;
  }

  /** highest contiguous seq handed to the app */
  get delivered(): number {
    return this.deliveredSeq;
  }

  /** highest seq known to exist: from pushes, batches, `ready` or `track` */
  get known(): number {
    return this.knownSeq;
  }

  /** messages held back behind a gap */
  get buffered(): number {
    return this.waiting.size;
  }

  /** true when the store holds messages this stream has not delivered yet */
  get behind(): boolean {
    return this.knownSeq > this.deliveredSeq;
  }

  offer(m: MessageObject): OfferResult {
    if (m.seq <= this.deliveredSeq || this.waiting.has(m.seq)) return 'duplicate';
    this.waiting.set(m.seq, m);
    this.note(m.seq);
    return m.seq === this.deliveredSeq + 1 ? 'next' : 'early';
  }

  /** the next message in order, if it has arrived; advances `delivered` */
  next(): MessageObject | undefined {
    const m = this.waiting.get(this.deliveredSeq + 1);
    if (!m) return undefined;
    this.waiting.delete(m.seq);
    this.deliveredSeq = m.seq;
    return m;
  }

  /** Records that seqs up to `lastSeq` exist (e.g. `ready` lists them). */
  note(lastSeq: number): void {
    if (lastSeq > this.knownSeq) this.knownSeq = lastSeq;
  }
}
