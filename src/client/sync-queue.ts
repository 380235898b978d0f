/**
 * `sync` requests, per session: one in flight at a time, the rest queued, so a
 * `batch` (which names only its sid) always answers the oldest request of that
 * session. Two kinds share the queue:
 * - gap syncs (`closeGap`): fetch what the session stream is missing, from
 *   whatever it has delivered when the frame goes out; at most one per session
 *   is queued or in flight.
 * - app syncs (`request`): from a given seq; the promise gets every message the
 *   server returned, also those the stream had already delivered.
 * A batch with `more` continues the same request after its last seq. A
 * connection loss leaves requests queued; `resume()` after `ready` resends them.
 * The messages themselves are delivered by the client before `answered()` runs.
 */
import type { ErrorFrame, MessageObject, SyncFrame } from '../protocol/frames.js';
import { ClientError, RETRYABLE_CODES } from './client-error.js';
import type { SessionStream } from './session-stream.js';

export interface SyncQueueHost {
  /** writes the frame if a ready connection exists; false if it could not */
  transmit(frame: SyncFrame): boolean;
  stream(sid: string): SessionStream;
  retryDelay(attempt: number): number;
  /** a gap sync failed for good: nobody awaits it, so the app hears of it this way */
  report(frame: ErrorFrame): void;
}

interface Request {
  gap: boolean;
  /** the `after` of the next frame */
  cursor: number;
  started: boolean;
  inFlight: boolean;
  retries: number;
  retryTimer: ReturnType<typeof setTimeout> | undefined;
  /** stream state when the request went out: did it help, did news come meanwhile? */
  deliveredAtStart: number;
  knownAtStart: number;
  messages: MessageObject[];
  resolve?: (m: MessageObject[]) => void;
  reject?: (e: Error) => void;
}

const newRequest = (gap: boolean, cursor: number): Request => ({
  gap,
  cursor,
  started: false,
  inFlight: false,
  retries: 0,
  retryTimer: undefined,
  deliveredAtStart: 0,
  knownAtStart: 0,
  messages: [],
});

export class SyncQueue {
  private readonly queues = new Map<string, Request[]>();

  constructor(private readonly host: SyncQueueHost) {}

  request(sid: string, after: number): Promise<MessageObject[]> {
    return new Promise((resolve, reject) => this.enqueue(sid, { ...newRequest(false, after), resolve, reject }));
  }

  /** Starts a gap sync if the stream is behind and none is pending. */
  closeGap(sid: string): void {
    if (!this.host.stream(sid).behind) return;
    if (this.queues.get(sid)?.some((r) => r.gap)) return;
    this.enqueue(sid, newRequest(true, 0));
  }

  /** A batch arrived (its messages already went through the stream). */
  answered(sid: string, messages: MessageObject[], more: boolean): void {
    const q = this.queues.get(sid);
    const head = q?.[0];
    // No request waits: a stray or duplicate answer. Its messages were still useful.
    if (!q || !head?.inFlight) return;
    head.inFlight = false;
    for (const m of messages) if (m.seq > head.cursor) head.messages.push(m);
    const last = messages.at(-1)?.seq;
    // An empty page with `more` would loop forever; treat it as the end.
    if (more && last !== undefined && last > head.cursor) {
      head.cursor = last;
      this.pump(sid);
      return;
    }
    q.shift();
    head.resolve?.(head.messages);
    const st = this.host.stream(sid);
    // Still behind: try again, but only if this round helped or brought news,
    // so a server that cannot fill a gap does not get a sync loop.
    if (head.gap && st.behind && (st.delivered > head.deliveredAtStart || st.known > head.knownAtStart)) this.closeGap(sid);
    this.pump(sid);
  }

  /** The in-flight request of `sid` failed; false if there is none. */
  failed(sid: string, f: ErrorFrame): boolean {
    const q = this.queues.get(sid);
    const head = q?.[0];
    if (!q || !head?.inFlight) return false;
    head.inFlight = false;
    if (RETRYABLE_CODES.has(f.code)) {
      head.retryTimer = setTimeout(() => {
        head.retryTimer = undefined;
        this.pump(sid);
      }, this.host.retryDelay(head.retries++));
      return true;
    }
    q.shift();
    if (head.reject) head.reject(new ClientError(f.code, f.message));
    else this.host.report({ ...f, message: `sync of ${sid} failed: ${f.message}` });
    this.pump(sid);
    return true;
  }

  /** the sessions with a request on the wire (to attribute an error frame without sid) */
  inFlight(): string[] {
    return [...this.queues].filter(([, q]) => q[0]?.inFlight).map(([sid]) => sid);
  }

  /** The connection is gone: answers to what was in flight will never come. */
  pause(): void {
    for (const q of this.queues.values()) {
      const head = q[0];
      if (!head) continue;
      head.inFlight = false;
      if (head.retryTimer !== undefined) clearTimeout(head.retryTimer);
      head.retryTimer = undefined;
    }
  }

  /** A connection is ready: send the head of every queue. */
  resume(): void {
    for (const sid of [...this.queues.keys()]) this.pump(sid);
  }

  rejectAll(err: () => Error): void {
    this.pause();
    const all = [...this.queues.values()].flat();
    this.queues.clear();
    for (const r of all) r.reject?.(err());
  }

  private enqueue(sid: string, r: Request): void {
    let q = this.queues.get(sid);
    if (!q) this.queues.set(sid, (q = []));
    q.push(r);
    this.pump(sid);
  }

  private pump(sid: string): void {
    const q = this.queues.get(sid);
    if (!q) return;
    while (q.length > 0) {
      const head = q[0]!;
      if (head.inFlight || head.retryTimer !== undefined) return;
      const st = this.host.stream(sid);
      if (head.gap) {
        if (!head.started && !st.behind) {
          q.shift(); // pushes or another sync filled the gap meanwhile
          continue;
        }
        // Ask only for what is still missing.
        head.cursor = Math.max(head.cursor, st.delivered);
      }
      head.inFlight = this.host.transmit({ t: 'sync', sid, after: head.cursor });
      if (head.inFlight && !head.started) {
        head.started = true;
        head.deliveredAtStart = st.delivered;
        head.knownAtStart = st.known;
      }
      return;
    }
    this.queues.delete(sid);
  }
}
