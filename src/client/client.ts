/**
 * ImClient: one logical connection to the service, over as many WebSockets as
 * it takes (shared/PROTOCOL.md, "WebSocket").
 *
 * What the app can rely on:
 * - 'message' fires for each session in strictly increasing, contiguous seq,
 *   each message exactly once per client lifetime, whatever the network does:
 *   duplicates are dropped, early pushes wait, gaps are filled with `sync`.
 * - send() resolves exactly once, with the server's `sent`, however many times
 *   the frame had to be resent (same cid each time); it rejects only on a
 *   definite error or on close().
 * - State changes come from one place (setState) as 'state' events. Close
 *   codes 4001/4003/4009 end in 'closed'; anything else reconnects with
 *   full-jitter backoff and resumes: resends, syncs, pending read cursors.
 * - No socket callback ever throws into the WebSocket implementation.
 */
import { CLOSE, shouldReconnect } from '../protocol/codes.js';
import type { ClientFrame, MessageObject } from '../protocol/frames.js';
import { fromMsgFrame, type BatchFrame, type ErrorFrame, type EventFrame, type ReadyFrame, type SentFrame } from '../protocol/server-frames.js';
import { Backoff, backoffDelay, type BackoffOptions } from './backoff.js';
import { isValidCid, newCid } from './cid.js';
import { ClientError, RETRYABLE_CODES } from './client-error.js';
import { Emitter } from './emitter.js';
import { Outbox, type PendingSend } from './outbox.js';
import { parseServerFrame, type ParsedFrame } from './server-frames.js';
import { SessionStream } from './session-stream.js';
import { SyncQueue } from './sync-queue.js';

/**
 * A handler property checked bivariantly (as methods are), so that the DOM's
 * `(ev: MessageEvent) => any` and `ws`'s handler types are accepted where the
 * client only promises to pass `{ data }`.
 */
type Handler<E> = { bivariant(ev: E): void }['bivariant'];

/** The part of the WebSocket API the client uses: the browser's and the `ws` package's both fit. */
export interface WebSocketLike {
  readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: Handler<unknown> | null;
  onmessage: Handler<{ data: unknown }> | null;
  onclose: Handler<{ code: number; reason: string }> | null;
  onerror: Handler<unknown> | null;
}
export type WebSocketFactory = new (url: string) => WebSocketLike;

export interface ImClientOptions {
  /** ws://host/ws */
  url: string;
  /** a function is called before every connection attempt, so a token can be refreshed */
  token: string | (() => string | Promise<string>);
  /** injected so that Node tests run the same code as browsers */
  WebSocket: WebSocketFactory;
  /** last seq the app already holds per session (e.g. after a page reload); default 0 */
  cursors?: Record<string, number>;
  /** reconnect backoff window; defaults 250 / 10000 ms */
  minReconnectDelayMs?: number;
  maxReconnectDelayMs?: number;
  /** resend a send (same cid) when no `sent` came in this time; default 5000 */
  sendTimeoutMs?: number;
  /**
   * cumulative acks are batched for this long; default 250. The server only
   * needs them before its ack timeout (ACK_TIMEOUT_MS, 3 s by default), and
   * under load each ack is a frame both sides pay for: at 50 ms a busy
   * client sent more acks than messages.
   */
  ackDelayMs?: number;
  /** for jitter; default Math.random */
  random?: () => number;
}

export type ClientState = 'disconnected' | 'connecting' | 'connected' | 'closed';

export interface StateChange {
  newState: ClientState;
  oldState: ClientState;
  /** the WebSocket close code, when a close caused the change */
  code?: number;
  reason?: string;
}

export interface ImClientEvents {
  state: StateChange;
  ready: ReadyFrame;
  message: MessageObject;
  event: EventFrame;
  /** server errors not tied to a pending send, and `bad_frame` for unreadable server frames */
  error: ErrorFrame;
}

const WS_OPEN = 1;
const WS_CLOSING = 2;
const DEFAULT_HEARTBEAT_MS = 25_000;
const noop = () => {};

const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

export class ImClient extends Emitter<ImClientEvents> {
  private readonly url: string;
  private readonly token: ImClientOptions['token'];
  private readonly WebSocketCtor: WebSocketFactory;
  private readonly cursors: Record<string, number>;
  private readonly ackDelayMs: number;
  private readonly backoffOptions: BackoffOptions;

  private current: ClientState = 'disconnected';
  private ws: WebSocketLike | null = null;
  /** `ready` came on the current socket: frames other than auth may go out */
  private authed = false;
  /** bumped per dial and on close, so a late token or an old socket's callback changes nothing */
  private generation = 0;
  private readonly reconnects: Backoff;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private heartbeatMs = DEFAULT_HEARTBEAT_MS;
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private watchdogTimer: ReturnType<typeof setTimeout> | undefined;
  private lastFrameAt = 0;
  private accountInfo: ReadyFrame['account'] | undefined;

  private readonly streams = new Map<string, SessionStream>();
  private readonly outbox: Outbox;
  private readonly syncs: SyncQueue;
  private readonly ackDue = new Set<string>();
  private ackTimer: ReturnType<typeof setTimeout> | undefined;
  /** read cursors the app set while offline, highest per session */
  private readonly reads = new Map<string, number>();
  /** the highest read sent per session, to send again if the server refuses it for now */
  private readonly readsSent = new Map<string, number>();

  constructor(opts: ImClientOptions) {
    super();
    this.url = opts.url;
    this.token = opts.token;
    this.WebSocketCtor = opts.WebSocket;
    this.cursors = opts.cursors ?? {};
    this.ackDelayMs = opts.ackDelayMs ?? 250;
    this.backoffOptions = { minMs: opts.minReconnectDelayMs ?? 250, maxMs: opts.maxReconnectDelayMs ?? 10_000, ...(opts.random ? { random: opts.random } : {}) };
    this.reconnects = new Backoff(this.backoffOptions);
    const retryDelay = (attempt: number) => backoffDelay(attempt, this.backoffOptions);
    this.outbox = new Outbox({ timeoutMs: opts.sendTimeoutMs ?? 5000, retryDelay, transmit: (f) => this.transmit(f) });
    this.syncs = new SyncQueue({
      transmit: (f) => this.transmit(f),
      stream: (sid) => this.stream(sid),
      retryDelay,
      report: (f) => this.emit('error', f),
    });
  }

  get state(): ClientState {
    return this.current;
  }

  /** who the server says we are; set by the first `ready` */
  get account(): ReadyFrame['account'] | undefined {
    return this.accountInfo;
  }

  /** sends still waiting for `sent`, oldest first */
  get pendingSends(): PendingSend[] {
    return this.outbox.list();
  }

  /** Starts connecting; a no-op while connecting or connected, and after close(). */
  connect(): void {
    if (this.current !== 'disconnected') return;
    this.clearReconnectTimer();
    this.dial();
  }

  /** Terminal: closes the socket, stops reconnecting, rejects pending sends and syncs. */
  close(): void {
    if (this.current === 'closed') return;
    this.terminate(1000, 'closed by the client');
  }

  /**
   * Sends a text message; resolves with the server's `sent` once it is stored.
   * Queued while offline. Pass `cid` to make a send idempotent across page
   * reloads; the same sid+cid while pending returns the same promise.
   */
  send(sid: string, text: string, opts: { cid?: string } = {}): Promise<SentFrame> {
    const cid = opts.cid ?? newCid();
    if (this.current === 'closed') return Promise.reject(new ClientError('closed', 'the client is closed', { cid }));
    // The server could not name an unreadable cid in its error, so it would be resent forever.
    if (!isValidCid(cid)) return Promise.reject(new ClientError('bad_request', 'cid must be 1-64 of A-Z a-z 0-9 _ : . -', { cid }));
    return this.outbox.add(sid, cid, text);
  }

  /** Moves the read cursor; sent now if connected, else the highest is sent after `ready`. */
  read(sid: string, seq: number): void {
    if (this.current === 'closed') return;
    if (this.transmit({ t: 'read', sid, seq })) {
      if (seq > (this.readsSent.get(sid) ?? -1)) this.readsSent.set(sid, seq);
      return;
    }
    if (seq > (this.reads.get(sid) ?? -1)) this.reads.set(sid, seq);
  }

  /** Typing indicators are worthless late, so this is dropped when not connected. */
  typing(sid: string): void {
    this.transmit({ t: 'typing', sid });
  }

  /**
   * Fetches the messages after `after` (following `more`); they also go
   * through ordered delivery, so 'message' fires for those the app lacks.
   */
  sync(sid: string, after: number): Promise<MessageObject[]> {
    if (this.current === 'closed') return Promise.reject(new ClientError('closed', 'the client is closed'));
    this.stream(sid);
    return this.syncs.request(sid, after);
  }

  /**
   * Follows a session (e.g. after REST POST /sessions). With `lastSeq` (the
   * session's, from REST) it syncs if the app is behind it; without, it only
   * registers the session and pushes will tell.
   */
  track(sid: string, lastSeq?: number): void {
    if (this.current === 'closed') return;
    const st = this.stream(sid);
    if (lastSeq === undefined) return;
    st.note(lastSeq);
    this.syncs.closeGap(sid);
  }

  /** highest contiguous seq delivered to the app (the cursor it started with if none since) */
  lastSeq(sid: string): number {
    return this.streams.get(sid)?.delivered ?? this.cursorOf(sid);
  }

  // ---- connection lifecycle ----------------------------------------------

  private setState(next: ClientState, code?: number, reason?: string): void {
    const prev = this.current;
    if (prev === next) return;
    this.current = next;
    const change: StateChange = { newState: next, oldState: prev };
    if (code !== undefined) change.code = code;
    if (reason !== undefined) change.reason = reason;
    this.emit('state', change);
  }

  private dial(): void {
    const gen = ++this.generation;
    this.setState('connecting');
    let token: string | Promise<string>;
    try {
      token = typeof this.token === 'function' ? this.token() : this.token;
    } catch (err) {
      this.lost(undefined, `token: ${messageOf(err)}`);
      return;
    }
    // A plain string connects synchronously (no microtask), which keeps tests simple.
    if (typeof token === 'string') {
      this.open(gen, token);
      return;
    }
    Promise.resolve(token).then(
      (t) => this.open(gen, t),
      (err: unknown) => {
        if (gen === this.generation) this.lost(undefined, `token: ${messageOf(err)}`);
      },
    );
  }

  private open(gen: number, token: unknown): void {
    if (gen !== this.generation || this.current !== 'connecting') return;
    if (typeof token !== 'string' || token === '') {
      this.lost(undefined, 'token: the token function gave no string');
      return;
    }
    let ws: WebSocketLike;
    try {
      ws = new this.WebSocketCtor(this.url);
    } catch (err) {
      this.lost(undefined, `cannot open: ${messageOf(err)}`);
      return;
    }
    this.ws = ws;
    ws.onopen = () => this.guard(ws, () => this.write({ t: 'auth', token }));
    ws.onmessage = (ev) => this.guard(ws, () => this.onData(ev.data));
    ws.onclose = (ev) => this.guard(ws, () => this.lost(ev.code, ev.reason));
    // Browsers tell nothing about the cause; a close (1006) follows, but do not wait for it.
    ws.onerror = () => this.guard(ws, () => this.lost(1006, 'socket error', true));
    // Also covers a connect or auth that hangs: the timer runs from the start.
    this.armWatchdog();
  }

  /** Runs a socket callback for the current socket only, and never lets it throw. */
  private guard(ws: WebSocketLike, fn: () => void): void {
    if (this.ws !== ws) return;
    try {
      fn();
    } catch (err) {
      this.emit('error', { t: 'error', code: 'internal', message: `client failed handling a socket event: ${messageOf(err)}` });
    }
  }

  /**
   * The connection is gone (closed by the server, an error, or our watchdog).
   * `closeSocket`: we decided it, so the socket must be closed from our side.
   */
  private lost(code: number | undefined, reason: string, closeSocket = false): void {
    this.dropSocket(closeSocket ? code : undefined, reason);
    if (code !== undefined && !shouldReconnect(code)) {
      this.terminate(code, reason);
      return;
    }
    this.setState('disconnected', code, reason);
    const delay = this.reconnects.next();
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.current === 'disconnected') this.dial();
    }, delay);
  }

  private terminate(code: number, reason: string): void {
    this.generation++;
    this.dropSocket(1000, reason);
    this.clearReconnectTimer();
    this.reads.clear();
    this.readsSent.clear();
    this.setState('closed', code, reason);
    const message = `the client is closed: ${reason}`;
    this.outbox.rejectAll((p) => new ClientError('closed', message, { cid: p.cid, closeCode: code }));
    this.syncs.rejectAll(() => new ClientError('closed', message, { closeCode: code }));
  }

  /** Forgets the socket and everything that was only valid on it. */
  private dropSocket(closeCode: number | undefined, reason: string): void {
    const ws = this.ws;
    this.ws = null;
    this.authed = false;
    clearInterval(this.pingTimer);
    clearTimeout(this.watchdogTimer);
    clearTimeout(this.ackTimer);
    this.pingTimer = this.watchdogTimer = this.ackTimer = undefined;
    // Acks and in-flight answers belong to the old connection; the next one starts clean.
    this.ackDue.clear();
    this.outbox.goOffline();
    this.syncs.pause();
    if (!ws) return;
    // No-op handlers rather than null: `ws` treats an 'error' without a listener as fatal.
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = noop;
    if (ws.readyState < WS_CLOSING) {
      try {
        // Browsers and `ws` throw on codes an endpoint may not send (1006...).
        if (closeCode === 1000 || (closeCode !== undefined && closeCode >= 3000 && closeCode <= 4999)) ws.close(closeCode, reason.slice(0, 120));
        else ws.close();
      } catch {
        // Closing a socket that is already failing can throw; it is gone either way.
      }
    }
  }

  private clearReconnectTimer(): void {
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
  }

  /**
   * Reconnects when nothing at all arrived for two heartbeats. Frames only
   * stamp `lastFrameAt`; the timer re-arms itself lazily, so a busy
   * connection costs no timer churn.
   */
  private armWatchdog(): void {
    clearTimeout(this.watchdogTimer);
    this.lastFrameAt = Date.now();
    this.watchdogTimer = setTimeout(() => this.checkWatchdog(), 2 * this.heartbeatMs);
  }

  private checkWatchdog(): void {
    this.watchdogTimer = undefined;
    const limit = 2 * this.heartbeatMs;
    const idle = Date.now() - this.lastFrameAt;
    if (idle >= limit) {
      this.lost(CLOSE.TIMEOUT, 'heartbeat timeout', true);
      return;
    }
    this.watchdogTimer = setTimeout(() => this.checkWatchdog(), limit - idle);
  }

  /** Writes a frame on an open socket; false if there is none. */
  private write(frame: ClientFrame): boolean {
    const ws = this.ws;
    if (!ws || ws.readyState !== WS_OPEN) return false;
    try {
      ws.send(JSON.stringify(frame));
      return true;
    } catch {
      // A socket that fails to send is closing; its close event does the recovery.
      return false;
    }
  }

  /** Writes a frame after `ready`: everything but `auth` must wait for it. */
  private transmit(frame: ClientFrame): boolean {
    return this.authed && this.write(frame);
  }

  // ---- server frames -----------------------------------------------------

  private onData(data: unknown): void {
    this.lastFrameAt = Date.now();
    const parsed = parseServerFrame(data);
    if (parsed.kind === 'unknown') return;
    if (parsed.kind === 'bad') {
      this.onBadFrame(parsed);
      return;
    }
    const f = parsed.frame;
    switch (f.t) {
      case 'ready':
        this.onReady(f);
        return;
      case 'sent':
        this.outbox.settle(f); // false: a late answer to a resend, already settled
        return;
      case 'msg':
        this.offer(fromMsgFrame(f));
        return;
      case 'batch':
        this.onBatch(f);
        return;
      case 'event':
        this.emit('event', f);
        return;
      case 'error':
        this.onError(f);
        return;
      case 'pong':
        return;
    }
  }

  private onReady(f: ReadyFrame): void {
    if (this.authed) return; // a repeated ready on the same connection changes nothing
    this.authed = true;
    this.reconnects.reset();
    this.accountInfo = f.account;
    this.heartbeatMs = typeof f.heartbeatMs === 'number' && f.heartbeatMs > 0 ? f.heartbeatMs : DEFAULT_HEARTBEAT_MS;
    this.armWatchdog();
    this.pingTimer = setInterval(() => this.transmit({ t: 'ping' }), this.heartbeatMs);

    // Resume before telling the app, so its own new sends queue behind the old ones.
    this.outbox.goOnline();
    for (const [sid, seq] of this.reads) this.transmit({ t: 'read', sid, seq });
    this.reads.clear();
    this.syncs.resume();
    for (const s of f.sessions) {
      this.stream(s.id).note(s.lastSeq);
      this.syncs.closeGap(s.id);
    }
    this.setState('connected');
    this.emit('ready', f);
  }

  private onBatch(f: BatchFrame): void {
    // Ascending, so a batch's own messages never look like gaps to each other.
    const messages = [...f.messages].sort((a, b) => a.seq - b.seq);
    for (const m of messages) this.offer(m);
    if (this.current !== 'closed') this.syncs.answered(f.sid, messages, f.more);
  }

  private onError(f: ErrorFrame): void {
    if (f.cid !== undefined && this.outbox.fail(f.cid, f.code, f.message, f.retryAfterMs)) return;
    if (f.ref === 'read' && f.sid !== undefined && RETRYABLE_CODES.has(f.code)) {
      // a draining or overloaded server refused it: send it again after the next ready
      const seq = this.readsSent.get(f.sid);
      if (seq !== undefined && seq > (this.reads.get(f.sid) ?? -1)) this.reads.set(f.sid, seq);
      return;
    }
    if (f.ref === 'sync') {
      const sid = this.syncSidOf(f);
      if (sid !== undefined && this.syncs.failed(sid, f)) return;
    }
    this.emit('error', f);
  }

  /** PROTOCOL.md gives error frames no sid; use one if the server adds it, else the only sync in flight. */
  private syncSidOf(f: ErrorFrame): string | undefined {
    const sid = (f as unknown as Record<string, unknown>).sid;
    if (typeof sid === 'string') return sid;
    const inFlight = this.syncs.inFlight();
    return inFlight.length === 1 ? inFlight[0] : undefined;
  }

  private onBadFrame(p: Extract<ParsedFrame, { kind: 'bad' }>): void {
    const frame: ErrorFrame = { t: 'error', code: 'bad_frame', message: `unreadable server frame: ${p.reason}` };
    // A batch nobody can read must not leave its sync waiting forever.
    if (p.t === 'batch' && p.sid !== undefined && this.syncs.failed(p.sid, frame)) return;
    this.emit('error', frame);
  }

  // ---- ordered delivery --------------------------------------------------

  /** a method, not a field read, so the compiler does not narrow it across emits */
  private isClosed(): boolean {
    return this.current === 'closed';
  }

  private stream(sid: string): SessionStream {
    let st = this.streams.get(sid);
    if (!st) {
      st = new SessionStream(this.cursorOf(sid));
      this.streams.set(sid, st);
    }
    return st;
  }

  private cursorOf(sid: string): number {
    const c = Object.hasOwn(this.cursors, sid) ? this.cursors[sid] : undefined;
    return Number.isSafeInteger(c) && (c as number) >= 0 ? (c as number) : 0;
  }

  /** The single path by which pushes and batches reach the app. */
  private offer(m: MessageObject): void {
    if (this.current === 'closed') return;
    const sid = m.sessionId;
    const st = this.stream(sid);
    const result = st.offer(m);
    // A duplicate is likely a retransmission: ack again so the server stops.
    if (result !== 'early') this.ackLater(sid);
    // A listener may close the client; what it has not been given stays undelivered.
    while (!this.isClosed()) {
      const next = st.next();
      if (!next) break;
      this.emit('message', next);
    }
    if (st.behind) this.syncs.closeGap(sid);
  }

  private ackLater(sid: string): void {
    if (!this.authed) return;
    this.ackDue.add(sid);
    this.ackTimer ??= setTimeout(() => this.flushAcks(), this.ackDelayMs);
  }

  private flushAcks(): void {
    this.ackTimer = undefined;
    for (const sid of this.ackDue) {
      const seq = this.streams.get(sid)?.delivered ?? 0;
      if (seq > 0) this.transmit({ t: 'ack', sid, seq });
    }
    this.ackDue.clear();
  }
}
