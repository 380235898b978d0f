/**
 * The open-loop load: every client sends on a fixed schedule whatever the
 * target answers, so a slow target shows up as latency and backlog instead
 * of quietly lowering the offered rate. Clients are the real SDK (ImClient)
 * over real WebSockets, exactly as the widget and the workbench talk, for the
 * service and the baseline relays alike.
 *
 * A fleet connects once and then runs one rate after another. Each message's
 * text carries its run, its number and its send time; the receiving client
 * measures send-to-deliver latency from it and counts duplicates, order and
 * routing. Only pushes from the peer count as deliveries (the service also
 * gives every member its own messages back, for its other devices).
 */
import WebSocket from 'ws';
import { ImClient, type MessageObject, type ReadyFrame } from '../src/client/index.js';
import type { Pair } from './setup.js';

export interface RunOptions {
  /** messages per second, all clients together */
  rate: number;
  durationS: number;
  /** after the load, how long to wait without any progress before calling what is missing lost */
  drainS: number;
}

export interface LoadResult {
  /** sends issued (the whole schedule) */
  issued: number;
  /** `sent` answers: the message is stored */
  stored: number;
  storedInWindow: number;
  /** unique messages the peer received */
  delivered: number;
  deliveredInWindow: number;
  duplicates: number;
  /** deliveries not in contiguous seq order, per client and session */
  outOfOrder: number;
  /** messages that reached a client other than the sender's peer */
  misrouted: number;
  sendErrors: number;
  /** disconnects of any client during the run (none are expected) */
  reconnects: number;
  /** send to `sent`, ms */
  storeLatency: number[];
  /** send to the peer's 'message', ms */
  deliverLatency: number[];
  /** how far behind its schedule the generator itself fell at worst, ms */
  generatorLagMs: number;
  windowMs: number;
  /** from the end of the schedule until everything was delivered (or the drain gave up) */
  drainMs: number;
  drained: boolean;
}

interface Endpoint {
  client: ImClient;
  /** the index of the URL it first connected to */
  home: number;
  sid: string;
  selfId: string;
  peer: number;
  /** last seq this client was given in its session */
  lastSeq: number;
}

/** What one run keeps; messages of an earlier run that arrive late are ignored. */
interface Run {
  id: number;
  total: number;
  seen: Uint8Array;
  r: LoadResult;
  windowEnd: number;
  progress(): void;
}

const TEXT = /^bench:(\d+):(\d+):(\d+\.\d+)$/;
const now = () => performance.timeOrigin + performance.now();
/**
 * Long enough that the SDK never resends during a run: a resend is a second
 * store for the relays (they do not dedupe by cid) and extra load for all,
 * which would blur what one message costs. Slowness shows as latency instead.
 */
const SEND_TIMEOUT_MS = 60_000;
const CONNECT_TIMEOUT_MS = 120_000;

export class Fleet {
  private current: Run | undefined;
  private runs = 0;
  private disconnects = 0;
  private reported = 0;

  private constructor(
    private readonly endpoints: Endpoint[],
    private readonly log: (line: string) => void,
  ) {}

  get clients(): number {
    return this.endpoints.length;
  }

  /**
   * Connects both sides of every pair (through `WebSocketCtor`, `ws` by
   * default): pair i's visitor goes to wsUrls[i mod n] and its agent to
   * wsUrls[(i + 1) mod n], so with two instances every pair's visitor is on
   * one and its agent on the other (every message crosses between them),
   * and each instance holds half the visitors and half the agents, as a
   * load balancer spreads them. A session's writer is the instance its
   * first message was sent to, the visitor's: each instance writes half the
   * sessions. Until 2026-12-08 every visitor was on the first instance, which
   * then wrote every session while the second only handed drafts on.
   * The endpoints are every visitor, then every agent: the schedule (run())
   * sends from endpoint k mod N, so a pair's two members take turns half a
   * round apart, as people chatting do. Until
   * 2026-12-06 they were next to each other and sent a millisecond apart,
   * which with two instances made every session's two writers race for the
   * same seq at every turn (a quarter to half of all inserts clashed).
   */
  static async connect(pairs: Pair[], wsUrls: string[], log: (line: string) => void, WebSocketCtor: new (url: string) => WebSocket = WebSocket): Promise<Fleet> {
    const endpoint = (home: number, token: string, selfId: string, sid: string, peer: number): Endpoint => {
      home %= wsUrls.length;
      return { client: new ImClient({ url: wsUrls[home]!, token, WebSocket: WebSocketCtor, sendTimeoutMs: SEND_TIMEOUT_MS }), home, sid, selfId, peer, lastSeq: 0 };
    };
    const n = pairs.length;
    const fleet = new Fleet(
      [
        ...pairs.map((p, i) => endpoint(i, p.visitor.token, p.visitor.id, p.sessionId, n + i)),
        ...pairs.map((p, i) => endpoint(i + 1, p.agent.token, p.agent.id, p.sessionId, i)),
      ],
      log,
    );
    fleet.endpoints.forEach((ep, i) => {
      ep.client.on('message', (m) => fleet.onMessage(i, m));
      ep.client.on('error', (f) => fleet.report(`client error: ${f.code} ${f.message}`));
      ep.client.on('state', (s) => {
        if (s.newState !== 'disconnected') return;
        fleet.disconnects++;
        fleet.report(`client ${i} disconnected: ${s.code ?? ''} ${s.reason ?? ''}`);
      });
    });
    try {
      await withTimeout(Promise.all(fleet.endpoints.map(connected)), CONNECT_TIMEOUT_MS, `${fleet.clients} clients did not all connect`);
    } catch (err) {
      fleet.close();
      throw err;
    }
    return fleet;
  }

  close(): void {
    for (const ep of this.endpoints) ep.client.close();
  }

  /** The clients first connected to wsUrls[index] (see connect()). */
  clientsOn(index: number): ImClient[] {
    return this.endpoints.filter((ep) => ep.home === index).map((ep) => ep.client);
  }

  /** The first few problems of the whole fleet's life, so a broken target cannot flood the log. */
  private report(what: string): void {
    if (this.reported++ < 5) this.log(what);
  }

  private onMessage(index: number, m: MessageObject): void {
    const ep = this.endpoints[index]!;
    if (m.sessionId === ep.sid) {
      if (m.seq !== ep.lastSeq + 1 && this.current) this.current.r.outOfOrder++;
      ep.lastSeq = Math.max(ep.lastSeq, m.seq);
    }
    const run = this.current;
    if (!run || m.from.id === ep.selfId || m.type !== 'chat') return;
    const match = TEXT.exec(m.body.text ?? '');
    if (!match || Number(match[1]) !== run.id) return;
    const k = Number(match[2]);
    const at = now();
    const r = run.r;
    if (k >= run.total || this.endpoints[k % this.endpoints.length]!.peer !== index) {
      r.misrouted++;
      return;
    }
    if (run.seen[k]) {
      r.duplicates++;
      return;
    }
    run.seen[k] = 1;
    r.delivered++;
    if (at <= run.windowEnd) r.deliveredInWindow++;
    r.deliverLatency.push(at - Number(match[3]));
    run.progress();
  }

  /** One rate: message k goes out at t0 + k / rate from endpoint k mod N (see connect() for their order). */
  async run(opts: RunOptions, hooks: { windowStart(): void; windowEnd(): void }): Promise<LoadResult> {
    const total = Math.round(opts.rate * opts.durationS);
    const interval = 1000 / opts.rate;
    const sentAt = new Float64Array(total);
    const r: LoadResult = {
      issued: 0,
      stored: 0,
      storedInWindow: 0,
      delivered: 0,
      deliveredInWindow: 0,
      duplicates: 0,
      outOfOrder: 0,
      misrouted: 0,
      sendErrors: 0,
      reconnects: 0,
      storeLatency: [],
      deliverLatency: [],
      generatorLagMs: 0,
      windowMs: 0,
      drainMs: 0,
      drained: false,
    };
    const run: Run = { id: ++this.runs, total, seen: new Uint8Array(total), r, windowEnd: Infinity, progress: () => {} };
    const disconnectsBefore = this.disconnects;
    this.current = run;
    try {
      const t0 = performance.now();
      hooks.windowStart();
      run.windowEnd = performance.timeOrigin + t0 + opts.durationS * 1000;
      const send = (k: number) => {
        const ep = this.endpoints[k % this.endpoints.length]!;
        const at = now();
        sentAt[k] = at;
        r.issued++;
        ep.client.send(ep.sid, `bench:${run.id}:${k}:${at.toFixed(3)}`).then(
          () => {
            const done = now();
            r.stored++;
            if (done <= run.windowEnd) r.storedInWindow++;
            r.storeLatency.push(done - sentAt[k]!);
            run.progress();
          },
          (err: unknown) => {
            r.sendErrors++;
            this.report(`send ${k} failed: ${err instanceof Error ? err.message : String(err)}`);
            run.progress();
          },
        );
      };
      await new Promise<void>((resolve) => {
        let k = 0;
        const tick = () => {
          const t = performance.now();
          while (k < total && t0 + k * interval <= t) {
            r.generatorLagMs = Math.max(r.generatorLagMs, t - (t0 + k * interval));
            send(k++);
          }
          if (k >= total) resolve();
          else setTimeout(tick, Math.max(0, t0 + k * interval - performance.now()));
        };
        tick();
      });
      // the window is the schedule's length; a late final tick must not stretch it
      const windowLeft = t0 + opts.durationS * 1000 - performance.now();
      if (windowLeft > 0) await new Promise((resolve) => setTimeout(resolve, windowLeft));
      hooks.windowEnd();
      r.windowMs = performance.now() - t0;

      // drain: until every send is answered and every message delivered, or nothing moved for drainS
      // (a slow target is still making progress: that is latency, not loss)
      const drainStart = performance.now();
      r.drained = await new Promise<boolean>((resolve) => {
        const done = () => r.stored + r.sendErrors >= r.issued && r.delivered >= r.issued;
        if (done()) return resolve(true);
        let timer = setTimeout(() => resolve(false), opts.drainS * 1000);
        run.progress = () => {
          clearTimeout(timer);
          if (done()) return resolve(true);
          timer = setTimeout(() => resolve(false), opts.drainS * 1000);
        };
      });
      r.drainMs = performance.now() - drainStart;
      r.reconnects = this.disconnects - disconnectsBefore;
      return r;
    } finally {
      run.progress = () => {};
    }
  }
}

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} within ${ms / 1000} s`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Resolves once the client is authenticated and holds its session's history so far. */
function connected(ep: Endpoint): Promise<void> {
  return new Promise((resolve, reject) => {
    let target = Infinity;
    const check = () => {
      if (ep.client.lastSeq(ep.sid) >= target) {
        offMessage();
        offState();
        resolve();
      }
    };
    const offMessage = ep.client.on('message', check);
    const offState = ep.client.on('state', (s) => {
      if (s.newState === 'closed') reject(new Error(`a client could not connect: ${s.code ?? ''} ${s.reason ?? ''}`));
    });
    const offReady = ep.client.on('ready', (f: ReadyFrame) => {
      offReady();
      const mine = f.sessions.find((s) => s.id === ep.sid);
      if (!mine) return reject(new Error(`session ${ep.sid} is not open for ${ep.selfId}`));
      target = mine.lastSeq;
      check();
    });
    ep.client.connect();
  });
}
