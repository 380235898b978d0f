/**
 * One authenticated WebSocket connection: ordered pushes per session with gap
 * filling from the store, the wait-ACK table, and backpressure.
 *
 * Ordering: each session has a `next` seq for this connection. A push below
 * it is a duplicate and dropped; a push above it first fetches the missing
 * seqs from the store (which has them: the store is prefix-closed), so the
 * client always receives each session's messages in increasing seq. A session
 * the connection has not seen yet starts at the first seq pushed; the client
 * syncs the history before it.
 */
import type { WebSocket } from 'ws';
import type { MessageDelivery } from '../broker/broker.js';
import type { Actor, Message } from '../domain/model.js';
import { KeyedQueue } from '../domain/keyed-queue.js';
import { CLOSE } from '../protocol/codes.js';
import type { SentFrame, ServerFrame } from '../protocol/frames.js';
import { msgFrameText } from '../protocol/serialize.js';
import { SendOrder } from './send-order.js';
import { WaitAck, type WaitAckOptions } from './wait-ack.js';

export interface ConnectionOptions {
  waitAck: WaitAckOptions;
  /** close the connection (1013) when this many bytes wait in its send buffer */
  maxBufferedBytes: number;
  /** messages after `after` of a session, ascending (the store) */
  fetchAfter(sid: string, after: number, limit: number): Promise<Message[]>;
  onError(err: unknown, context: string, connectionId: string): void;
  now(): number;
}

const GAP_FETCH_LIMIT = 500;

export class Connection {
  readonly id: string;
  actor: Actor | undefined;
  lastHeard: number;
  /** closes the connection if no auth frame comes in time; cleared by the first frame */
  authTimer: NodeJS.Timeout | undefined;
  // Created on first use, like everything below that is per session: an idle
  // connection follows nothing, is owed no ack and never had a send refused,
  // and ten thousand of them should cost no more than their sockets.
  /** per followed session, the next seq to push */
  private next: Map<string, number> | undefined;
  private pushQueue: KeyedQueue | undefined;
  private inboundQueue: KeyedQueue | undefined;
  private order: SendOrder | undefined;
  private waiting: WaitAck | undefined;
  private closed = false;

  constructor(
    readonly ws: WebSocket,
    id: string,
    private readonly opts: ConnectionOptions,
  ) {
    this.id = id;
    this.lastHeard = opts.now();
  }

  /** this connection's frames of one session, one at a time */
  get inbound(): KeyedQueue {
    return (this.inboundQueue ??= new KeyedQueue());
  }

  /** holds later sends of a session behind a refused one */
  get sendOrder(): SendOrder {
    return (this.order ??= new SendOrder(this.opts.now));
  }

  authDone(): void {
    clearTimeout(this.authTimer);
    this.authTimer = undefined;
  }

  get isOpen(): boolean {
    return !this.closed && this.ws.readyState === this.ws.OPEN;
  }

  /** Pushes from now on start after `lastSeq` (the snapshot sent in `ready`). */
  follow(sid: string, lastSeq: number): void {
    this.next ??= new Map();
    if (!this.next.has(sid)) this.next.set(sid, lastSeq + 1);
  }

  send(frame: ServerFrame): void {
    this.sendRaw(JSON.stringify(frame));
  }

  sendRaw(data: string): void {
    if (!this.isOpen) return;
    if (this.ws.bufferedAmount > this.opts.maxBufferedBytes) {
      // Too far behind: let the client reconnect and catch up by sync rather than buffering without bound.
      this.close(CLOSE.TRY_AGAIN_LATER, 'too slow, reconnect and sync');
      return;
    }
    this.ws.send(data);
  }

  /**
   * Answers a send with `sent` and, when the message is next in line for
   * this connection (nothing of its session waiting, no gap), pushes it
   * right behind, in the same write to the network: the sender's own copy
   * then costs no write (a system call) of its own, and does not wait for
   * the broker. The broker's copy comes later and is dropped as a repeat;
   * when the message is not next in line, that copy is the push, in order.
   */
  sent(frame: SentFrame, message: Message): void {
    if (!this.isOpen) return;
    // `ws` has no public cork: its socket is corked for both frames, which it writes with cork and uncork itself
    const socket = (this.ws as unknown as { _socket?: { cork(): void; uncork(): void } })._socket;
    socket?.cork();
    try {
      this.send(frame);
      const sid = message.sessionId;
      if (this.isOpen && this.next?.get(sid) === message.seq && (this.pushQueue?.idle(sid) ?? true)) this.push(pushOf(message));
    } finally {
      socket?.uncork();
    }
  }

  /** Pushes a stored message in seq order, filling any gap from the store first. */
  deliver(message: Outgoing): Promise<void> {
    const sid = message.sessionId;
    const next = this.next?.get(sid) ?? message.seq;
    // The usual case, at once: nothing of the session waits before it and no gap to fill.
    if (message.seq <= next && (this.pushQueue?.idle(sid) ?? true)) {
      if (this.isOpen && message.seq === next) this.push(message);
      return Promise.resolve();
    }
    return (this.pushQueue ??= new KeyedQueue()).run(sid, async () => {
      if (!this.isOpen) return;
      const next = this.next?.get(sid) ?? message.seq;
      if (message.seq < next) return;
      if (message.seq > next) {
        try {
          const missing = await this.opts.fetchAfter(sid, next - 1, Math.min(GAP_FETCH_LIMIT, message.seq - next));
          for (const m of missing) if (m.seq < message.seq) this.push(pushOf(m));
        } catch (err) {
          // the client sees the gap and syncs; pushing on keeps it live
          this.opts.onError(err, 'gap fill', this.id);
        }
      }
      this.push(message);
    });
  }

  private push(m: Outgoing): void {
    (this.next ??= new Map()).set(m.sessionId, m.seq + 1);
    (this.waiting ??= new WaitAck(this.opts.waitAck)).add(m.sessionId, m.seq, m.frame, this.opts.now());
    this.sendRaw(m.frame);
  }

  ack(sid: string, seq: number): void {
    this.waiting?.ack(sid, seq, this.opts.now());
  }

  /** Resends what waits too long for an ack; false when the client stopped acking altogether. */
  retransmit(): boolean {
    if (!this.waiting) return true;
    const due = this.waiting.due(this.opts.now());
    if (due.giveUp) return false;
    for (const { frames } of due.resend) for (const f of frames) this.sendRaw(f);
    return true;
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.ws.close(code, reason);
    } catch (err) {
      this.opts.onError(err, 'close', this.id);
    }
  }

  terminate(): void {
    this.closed = true;
    this.ws.terminate();
  }
}

/** a message to push: where it goes in its session's order, and its `msg` frame */
type Outgoing = Pick<MessageDelivery, 'sessionId' | 'seq' | 'frame'>;

function pushOf(m: Message): Outgoing {
  return { sessionId: m.sessionId, seq: m.seq, frame: msgFrameText(m) };
}
