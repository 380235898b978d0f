/**
 * The WebSocket gateway: authenticates connections, turns client frames into
 * domain operations, routes broker pushes to this instance's connections, and
 * keeps connections honest (heartbeats, retransmits, shutdown).
 */
import pLimit, { type LimitFunction } from 'p-limit';
import type { RawData, WebSocket } from 'ws';
import type { Broker, Delivery, Unsubscribe } from '../broker/broker.js';
import type { ChatService } from '../domain/chat.js';
import type { Actor } from '../domain/model.js';
import { type AppError, isAppError, unavailable } from '../errors.js';
import { decodeClientFrame } from '../protocol/codec.js';
import { CLOSE } from '../protocol/codes.js';
import type { ClientFrame, ErrorFrame } from '../protocol/frames.js';
import type { ServerFrame } from '../protocol/server-frames.js';
import { toMessageObject, toSessionObject } from '../protocol/serialize.js';
import { Connection, type ConnectionOptions } from './connection.js';

export interface GatewayOptions {
  chat: ChatService;
  broker: Broker;
  /** Resolves a token to its actor, or null when it is not valid. */
  authenticate(token: string): Promise<Actor | null>;
  log: { warn(obj: object, msg: string): void; error(obj: object, msg: string): void };
  authTimeoutMs: number;
  /**
   * Connections set up at once (token, account, open sessions, subscriptions
   * and presence, up to `ready`); the others wait their turn in arrival order.
   */
  setupConcurrency: number;
  heartbeatMs: number;
  ackTimeoutMs: number;
  maxRetries: number;
  maxFrameBytes: number;
  maxBufferedBytes: number;
  /** asked before each `send`: an error (overload, say) answers the frame instead of storing it */
  refuseSend?: () => AppError | null;
  /** after pushes were lost, clients are asked to reconnect and sync at most once per this long */
  resyncGapMs: number;
}

/** heartbeat sweeps per interval: a connection is pinged or closed within a fifth of an interval of its due time */
const HEARTBEAT_TICKS = 5;
const PONG = JSON.stringify({ t: 'pong' } satisfies ServerFrame);

/** every client frame but `ping` and `ack`, which received() takes itself */
type HandledFrame = Exclude<ClientFrame, { t: 'ping' | 'ack' }>;

/** the socket's Connection, for the shared listeners */
const CONNECTION = Symbol('connection');
type Socket = WebSocket & { [CONNECTION]?: Connection };

interface Holder {
  connections: Set<Connection>;
  unsubscribe: Promise<Unsubscribe[]>;
}

export class Gateway {
  private readonly all = new Set<Connection>();
  private readonly byAccount = new Map<string, Holder>();
  /** connections registered in presence (and so to be unregistered when they go) */
  private readonly present = new WeakSet<Connection>();
  private readonly timers: NodeJS.Timeout[] = [];
  private draining = false;
  /** frames being handled right now; drain waits for them so no write is cut off */
  private inflight = 0;

  /** shared by every connection: per-connection closures would cost memory on each idle socket */
  private readonly connectionOptions: ConnectionOptions;
  private readonly listeners = this.socketListeners();
  private connectionSeq = 0;
  /** when clients were last asked to reconnect and sync, and the next such ask if one is due */
  private lastResync = -Infinity;
  private resyncTimer: NodeJS.Timeout | undefined;
  /**
   * Set-ups run a few at a time. When an instance dies its clients all come
   * here at once, and with every set-up under way together their thousands of
   * database reads queued ahead of every chat message's insert in the
   * MongoDB driver's pool: the chat of those already connected stalled for
   * seconds (bench/failover.ts).
   */
  private readonly setups: LimitFunction;

  constructor(private readonly opts: GatewayOptions) {
    this.setups = pLimit(opts.setupConcurrency);
    this.connectionOptions = {
      waitAck: { timeoutMs: opts.ackTimeoutMs, maxRetries: opts.maxRetries },
      maxBufferedBytes: opts.maxBufferedBytes,
      fetchAfter: (sid, after, limit) => opts.chat.range(sid, after, limit),
      onError: (err, context, connId) => opts.log.warn({ err, context, conn: connId }, 'connection error'),
      now: Date.now,
    };
    this.timers.push(setInterval(() => this.heartbeat(), opts.heartbeatMs / HEARTBEAT_TICKS).unref());
    this.timers.push(setInterval(() => this.retransmit(), Math.max(50, Math.floor(opts.ackTimeoutMs / 4))).unref());
    opts.broker.onPushesLost(() => this.pushesLost());
  }

  get connectionCount(): number {
    return this.all.size;
  }

  /** connections whose auth frame came and that wait their turn to be set up */
  get setupsWaiting(): number {
    return this.setups.pendingCount;
  }

  /** Takes a freshly upgraded socket: it must authenticate within `authTimeoutMs`. */
  accept(ws: WebSocket): void {
    // a counter, not a UUID: short ids are flat strings (a UUID is a chain of
    // ~20 string pieces), and presence qualifies them with the instance id
    const conn = new Connection(ws, (++this.connectionSeq).toString(36), this.connectionOptions);
    if (this.draining) {
      conn.close(CLOSE.GOING_AWAY, 'instance is going away');
      return;
    }
    this.all.add(conn);
    conn.authTimer = setTimeout(() => conn.close(CLOSE.UNAUTHORIZED, 'no auth frame in time'), this.opts.authTimeoutMs);
    (ws as Socket)[CONNECTION] = conn;
    ws.on('message', this.listeners.message);
    ws.on('pong', this.listeners.pong);
    ws.on('close', this.listeners.close);
    ws.on('error', this.listeners.error);
  }

  /** The listeners of every socket, shared: per-socket closures would cost memory on each idle connection. */
  private socketListeners() {
    const gateway = this;
    return {
      message(this: Socket, data: RawData, isBinary: boolean) {
        gateway.received(this[CONNECTION]!, data, isBinary);
      },
      pong(this: Socket) {
        this[CONNECTION]!.lastHeard = Date.now();
      },
      close(this: Socket) {
        const conn = this[CONNECTION]!;
        conn.authDone();
        void gateway.detach(conn);
      },
      error(this: Socket, err: Error) {
        gateway.opts.log.warn({ err, conn: this[CONNECTION]!.id }, 'socket error');
      },
    };
  }

  private received(conn: Connection, data: RawData, isBinary: boolean): void {
    conn.lastHeard = Date.now();
    if (isBinary) {
      conn.send({ t: 'error', code: 'bad_request', message: 'frames must be JSON text' });
      return;
    }
    const decoded = decodeClientFrame(data.toString(), this.opts.maxFrameBytes);
    if (!decoded.ok && !conn.actor) {
      conn.authDone();
      conn.send({ t: 'error', code: decoded.code, message: decoded.message, ...(decoded.ref ? { ref: decoded.ref } : {}) });
      conn.close(CLOSE.UNAUTHORIZED, 'the first frame must be a valid auth frame');
      return;
    }
    if (!decoded.ok) {
      conn.send({ t: 'error', code: decoded.code, message: decoded.message, ...(decoded.cid ? { cid: decoded.cid } : {}), ...(decoded.ref ? { ref: decoded.ref } : {}) });
      return;
    }
    const frame = decoded.frame;
    if (!conn.actor) {
      conn.authDone();
      if (frame.t !== 'auth') {
        conn.close(CLOSE.UNAUTHORIZED, 'the first frame must be auth');
        return;
      }
      void this.setups(() => this.authenticate(conn, frame.token));
      return;
    }
    // Answered here rather than through handle(): every idle client sends one each heartbeat,
    // and handle()'s promises were the largest share of what an idle instance allocated.
    if (frame.t === 'ping') {
      conn.sendRaw(PONG);
      return;
    }
    // Bookkeeping only, taken while draining too: every pushed message is acked, so this is the
    // most frequent frame under load, and handle()'s promises would cost more than the ack.
    if (frame.t === 'ack') {
      conn.ack(frame.sid, frame.seq);
      return;
    }
    void this.handle(conn, conn.actor, frame);
  }

  private async authenticate(conn: Connection, token: string): Promise<void> {
    if (!conn.isOpen) return; // left while waiting its turn
    let actor: Actor | null = null;
    try {
      actor = await this.opts.authenticate(token);
    } catch (err) {
      this.opts.log.error({ err }, 'authentication failed');
      conn.close(CLOSE.GOING_AWAY, 'authentication unavailable, retry');
      return;
    }
    if (!actor) {
      conn.close(CLOSE.UNAUTHORIZED, 'invalid token');
      return;
    }
    if (!conn.isOpen) return;
    conn.actor = actor;
    try {
      await this.attach(conn, actor);
      // Subscribed first, snapshot second: a push racing the snapshot is either
      // in the snapshot (and dropped as a duplicate) or arrives after it.
      const overview = await this.opts.chat.overview(actor);
      for (const { session } of overview) conn.follow(session.id, session.lastSeq);
      conn.send({
        t: 'ready',
        account: { id: actor.id, kind: actor.kind, name: actor.name, siteId: actor.siteId },
        sessions: overview.map(({ session, readSeq }) => ({ id: session.id, state: session.state, lastSeq: session.lastSeq, readSeq })),
        heartbeatMs: this.opts.heartbeatMs,
      });
      // A connection that closed during set-up is not registered: its detach has run, or will see it absent.
      if (!conn.isOpen) return;
      this.present.add(conn);
      await this.opts.broker.connected(actor, conn.id, 1);
      if (actor.kind === 'agent') await this.opts.chat.agentOnline(actor);
    } catch (err) {
      this.opts.log.error({ err }, 'could not set up connection');
      conn.close(CLOSE.GOING_AWAY, 'setup failed, retry');
    }
  }

  private async attach(conn: Connection, actor: Actor): Promise<void> {
    let holder = this.byAccount.get(actor.id);
    if (!holder) {
      const connections = new Set<Connection>();
      const route = (push: Delivery) => {
        // a message another instance stored moves this one's next seq past it (fewer seq collisions)
        if (push.kind === 'message') this.opts.chat.noteStored(push.sessionId, push.seq);
        for (const c of connections) this.route(c, push);
      };
      const subs = [this.opts.broker.subscribeAccount(actor.id, route)];
      if (actor.kind === 'agent') subs.push(this.opts.broker.subscribeSiteAgents(actor.siteId, route));
      holder = { connections, unsubscribe: Promise.all(subs) };
      this.byAccount.set(actor.id, holder);
    }
    holder.connections.add(conn);
    await holder.unsubscribe;
  }

  private async detach(conn: Connection): Promise<void> {
    this.all.delete(conn);
    const actor = conn.actor;
    if (!actor) return;
    const holder = this.byAccount.get(actor.id);
    if (holder?.connections.delete(conn) && holder.connections.size === 0) {
      this.byAccount.delete(actor.id);
      try {
        for (const unsubscribe of await holder.unsubscribe) await unsubscribe();
      } catch (err) {
        // a subscription that failed (its connection was closed then) or Redis going away: nothing to undo here
        this.opts.log.warn({ err }, 'unsubscribe failed');
      }
    }
    if (!this.present.delete(conn)) return;
    try {
      await this.opts.broker.connected(actor, conn.id, -1);
    } catch (err) {
      this.opts.log.warn({ err }, 'presence update failed');
    }
  }

  private route(conn: Connection, push: Delivery): void {
    if (!conn.isOpen) return;
    if (push.kind === 'message') {
      void conn.deliver(push);
      return;
    }
    const data = push.name === 'session' ? { ...push.data, session: toSessionObject(push.data.session as never) } : push.data;
    conn.send({ ...data, t: 'event', sid: push.sid, name: push.name });
  }

  private async handle(conn: Connection, actor: Actor, frame: HandledFrame): Promise<void> {
    if (this.draining) {
      // No new work while going away: else steady traffic keeps `inflight` above zero until the
      // drain deadline and the stores close under half-done writes. The client retries elsewhere.
      conn.send(this.errorFrame(unavailable('the instance is going away, retry'), frame));
      return;
    }
    this.inflight += 1;
    try {
      await this.dispatch(conn, actor, frame);
    } finally {
      this.inflight -= 1;
    }
  }

  private async dispatch(conn: Connection, actor: Actor, frame: HandledFrame): Promise<void> {
    const chat = this.opts.chat;
    try {
      switch (frame.t) {
        case 'auth':
          conn.send({ t: 'error', code: 'bad_request', message: 'already authenticated', ref: 'auth' });
          return;
        case 'send': {
          // One session's sends from one connection are stored in the order they were sent, refused
          // ones too (send-order.ts): they are admitted one by one, then stored together, in order.
          const { stored } = await conn.inbound.run(frame.sid, () =>
            conn.sendOrder.run(frame.sid, frame.cid, (held) => {
              const refusal = this.opts.refuseSend?.();
              if (refusal) throw refusal;
              return chat.admitMessage(actor, frame.sid, { cid: frame.cid, text: frame.body.text }, held);
            }),
          );
          const m = await stored;
          conn.sent({ t: 'sent', sid: frame.sid, cid: frame.cid, id: m.id, seq: m.seq, ts: m.createdAt.getTime() }, m);
          return;
        }
        case 'read':
          await chat.markRead(actor, frame.sid, frame.seq);
          return;
        case 'typing':
          await chat.typing(actor, frame.sid);
          return;
        case 'sync': {
          const { messages, more } = await chat.history(actor, frame.sid, frame.after, frame.limit ?? 100);
          conn.send({ t: 'batch', sid: frame.sid, messages: messages.map(toMessageObject), more });
          return;
        }
      }
    } catch (err) {
      conn.send(this.errorFrame(err, frame));
    }
  }

  private errorFrame(err: unknown, frame: ClientFrame): ErrorFrame {
    const cid = { ...('sid' in frame ? { sid: frame.sid } : {}), ...(frame.t === 'send' ? { cid: frame.cid } : {}) };
    if (isAppError(err)) {
      return { t: 'error', code: err.code, message: err.message, ref: frame.t, ...cid, ...(err.retryAfterMs !== undefined ? { retryAfterMs: err.retryAfterMs } : {}) };
    }
    this.opts.log.error({ err, frame: frame.t }, 'frame failed');
    return { t: 'error', code: 'unavailable', message: 'internal error, try again', ref: frame.t, ...cid };
  }

  /**
   * Runs HEARTBEAT_TICKS times an interval: closes connections silent for
   * two intervals, and pings those silent for a whole one. A client that
   * pings by itself each interval (the SDK does) is never silent that long
   * unless its ping is late, so it is practically never pinged; one that
   * does not (or whose timers a background tab throttles) is pinged once
   * an interval, and has most of an interval to answer before it would be
   * closed. Checking often and pinging late spreads the pings over time by
   * each connection's own rhythm: one sweep per interval pinging everyone
   * quiet for half of one sent a burst of thousands at once, and bursts of
   * allocation kept V8 from handing back heap after a connect storm
   * (bench/RESULTS.md, "When V8 hands the heap back").
   */
  private heartbeat(): void {
    const now = Date.now();
    const deadline = now - 2 * this.opts.heartbeatMs;
    const quietSince = now - this.opts.heartbeatMs;
    for (const conn of this.all) {
      if (conn.lastHeard < deadline) conn.terminate();
      else if (conn.lastHeard <= quietSince && conn.isOpen) conn.ws.ping();
    }
  }

  /**
   * Pushes may have been lost while this instance's subscriptions were down
   * (broker.ts): messages, session changes, queue news. Every client is asked
   * to reconnect and sync (catchUpAll), at most once per `resyncGapMs`: a
   * Redis that flaps would otherwise close every connection each time it is
   * back, and clients would reconnect into the next close before their sends
   * were answered. A loss within the gap is caught up when the gap is over,
   * by every client connected then; until then a message push that follows
   * a lost one still arrives whole, as the connection fills the gap from
   * the store (connection.ts).
   */
  private pushesLost(): void {
    if (this.resyncTimer || this.draining) return; // the ask that is due covers this loss too
    const wait = this.lastResync + this.opts.resyncGapMs - Date.now();
    if (wait <= 0) {
      this.catchUpAll();
      return;
    }
    this.resyncTimer = setTimeout(() => {
      this.resyncTimer = undefined;
      this.catchUpAll();
    }, wait);
  }

  /**
   * Every client is asked to reconnect (1013), and so reads its sessions'
   * state and syncs their messages afresh, here or on another instance; the
   * jitter of its backoff spreads the reconnects out.
   */
  private catchUpAll(): void {
    this.lastResync = Date.now();
    let asked = 0;
    for (const conn of this.all) {
      if (!conn.actor) continue;
      conn.close(CLOSE.TRY_AGAIN_LATER, 'pushes may have been missed: reconnect and sync');
      asked++;
    }
    this.opts.log.warn({ connections: asked }, 'pushes may have been lost while the broker was cut off from Redis; clients asked to reconnect and sync');
  }

  private retransmit(): void {
    for (const conn of this.all) {
      if (conn.actor && !conn.retransmit()) conn.close(CLOSE.TIMEOUT, 'pushes were not acknowledged');
    }
  }

  /**
   * Stops taking connections, lets frames being handled finish (their writes
   * complete; their answers may not reach the client, which resends by cid),
   * and asks every client to reconnect elsewhere (1012).
   */
  async drain(timeoutMs = 5000): Promise<void> {
    this.draining = true;
    for (const t of this.timers) clearInterval(t);
    clearTimeout(this.resyncTimer);
    const deadline = Date.now() + timeoutMs;
    while (this.inflight > 0 && Date.now() < deadline) await sleep(10);
    for (const conn of this.all) conn.close(CLOSE.GOING_AWAY, 'instance is going away');
    while (this.all.size > 0 && Date.now() < deadline) await sleep(10);
    for (const conn of this.all) conn.terminate();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
