/**
 * The wait-ACK table of one connection: pushed messages stay here until the
 * client acks them (cumulatively, per session). A session whose oldest push
 * waits past its deadline is due for a resend of everything unacked, with
 * the deadline doubling each time; after `maxRetries` resends without
 * progress the connection is given up (the client will reconnect and sync).
 * Pure bookkeeping: time comes from the caller.
 */

interface Pending {
  seq: number;
  frame: string;
}

interface SessionWindow {
  pending: Pending[];
  tries: number;
  deadline: number;
}

export interface WaitAckOptions {
  timeoutMs: number;
  maxRetries: number;
  maxBackoffMs?: number;
}

export type DueResult = { giveUp: true } | { giveUp: false; resend: Array<{ sid: string; frames: string[] }> };

/** never written to: add() swaps in a table of its own first */
const EMPTY = new Map<string, SessionWindow>();

export class WaitAck {
  /** an empty table, shared until the first push: most idle connections never get one */
  private windows: Map<string, SessionWindow> = EMPTY;
  private readonly maxBackoffMs: number;

  constructor(private readonly opts: WaitAckOptions) {
    this.maxBackoffMs = opts.maxBackoffMs ?? 30_000;
  }

  /** Records a push sent at `now`. Pushes of one session are added in increasing seq. */
  add(sid: string, seq: number, frame: string, now: number): void {
    let w = this.windows.get(sid);
    if (!w) {
      w = { pending: [], tries: 0, deadline: now + this.opts.timeoutMs };
      if (this.windows === EMPTY) this.windows = new Map();
      this.windows.set(sid, w);
    }
    if (w.pending.length === 0) w.deadline = now + this.opts.timeoutMs;
    w.pending.push({ seq, frame });
  }

  /** Cumulative ack: everything of `sid` up to `seq` is delivered. */
  ack(sid: string, seq: number, now: number): void {
    const w = this.windows.get(sid);
    if (!w) return;
    const before = w.pending.length;
    w.pending = w.pending.filter((p) => p.seq > seq);
    if (w.pending.length === 0) {
      this.windows.delete(sid);
    } else if (w.pending.length < before) {
      w.tries = 0;
      w.deadline = now + this.opts.timeoutMs;
    }
  }

  /** Sessions whose deadline passed: their unacked frames, in seq order, to send again. */
  due(now: number): DueResult {
    const resend: Array<{ sid: string; frames: string[] }> = [];
    for (const [sid, w] of this.windows) {
      if (w.deadline > now) continue;
      w.tries += 1;
      if (w.tries > this.opts.maxRetries) return { giveUp: true };
      w.deadline = now + Math.min(this.maxBackoffMs, this.opts.timeoutMs * 2 ** w.tries);
      resend.push({ sid, frames: w.pending.map((p) => p.frame) });
    }
    return { giveUp: false, resend };
  }

  /** Number of pushes waiting for an ack. */
  get size(): number {
    let n = 0;
    for (const w of this.windows.values()) n += w.pending.length;
    return n;
  }

  unacked(sid: string): number[] {
    return this.windows.get(sid)?.pending.map((p) => p.seq) ?? [];
  }
}
