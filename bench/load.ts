/**
 * The open-loop load: every client sends on a fixed schedule whatever the
 * service answers, so a slow service shows up as latency and backlog instead
 * of quietly lowering the offered rate. Clients are the real SDK (ImClient)
 * over real WebSockets, exactly as the widget and the workbench talk.
 *
 * Each message's text carries its number and its send time; the receiving
 * client measures send-to-deliver latency from it and counts duplicates,
 * order and routing. Only pushes from the peer count as deliveries (every
 * member also gets its own messages back, for its other devices).
 */
import WebSocket from 'ws';
import { ImClient, type MessageObject, type ReadyFrame } from '../src/client/index.js';
import type { Pair } from './setup.js';

export interface LoadOptions {
  wsUrl: string;
  /** messages per second, all clients together */
  rate: number;
  durationS: number;
  /** after the load, how long to wait without any progress before calling what is missing lost */
  drainS: number;
  log: (line: string) => void;
}

export interface LoadResult {
  clients: number;
  /** sends issued (the whole schedule, unless the run was cut short) */
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
  /** reconnects of any client (none are expected) */
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
  sid: string;
  selfId: string;
  peer: number;
  /** last seq this client was given in its session */
  lastSeq: number;
}

const TEXT = /^bench:(\d+):(\d+\.\d+)$/;
const now = () => performance.timeOrigin + performance.now();

export async function runLoad(pairs: Pair[], opts: LoadOptions, hooks: { windowStart(): void; windowEnd(): void }): Promise<LoadResult> {
  const total = Math.round(opts.rate * opts.durationS);
  const interval = 1000 / opts.rate;
  const sentAt = new Float64Array(total);
  const seen = new Uint8Array(total);
  const r: LoadResult = {
    clients: pairs.length * 2,
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
  let windowEnd = Infinity;
  let progress = () => {};
  let reported = 0;
  const report = (what: string) => {
    if (reported++ < 5) opts.log(what);
  };

  const endpoints: Endpoint[] = pairs.flatMap((p, i) => [
    { client: client(opts.wsUrl, p.visitor.token), sid: p.sessionId, selfId: p.visitor.id, peer: 2 * i + 1, lastSeq: 0 },
    { client: client(opts.wsUrl, p.agent.token), sid: p.sessionId, selfId: p.agent.id, peer: 2 * i, lastSeq: 0 },
  ]);

  function onMessage(index: number, m: MessageObject) {
    const ep = endpoints[index]!;
    if (m.sessionId === ep.sid) {
      if (m.seq !== ep.lastSeq + 1) r.outOfOrder++;
      ep.lastSeq = Math.max(ep.lastSeq, m.seq);
    }
    if (m.from.id === ep.selfId || m.type !== 'chat') return;
    const match = TEXT.exec(m.body.text ?? '');
    if (!match) return;
    const k = Number(match[1]);
    const at = now();
    if (k >= total || endpoints[k % endpoints.length]!.peer !== index) {
      r.misrouted++;
      return;
    }
    if (seen[k]) {
      r.duplicates++;
      return;
    }
    seen[k] = 1;
    r.delivered++;
    if (at <= windowEnd) r.deliveredInWindow++;
    r.deliverLatency.push(at - Number(match[2]));
    progress();
  }

  endpoints.forEach((ep, i) => {
    ep.client.on('message', (m) => onMessage(i, m));
    ep.client.on('error', (f) => report(`client error: ${f.code} ${f.message}`));
    ep.client.on('state', (s) => {
      if (s.newState === 'disconnected') {
        r.reconnects++;
        report(`client ${i} disconnected: ${s.code ?? ''} ${s.reason ?? ''}`);
      }
    });
  });

  try {
    await Promise.all(endpoints.map(connected));
    opts.log(`${endpoints.length} clients connected; sending ${total} messages over ${opts.durationS} s`);

    // ---- the schedule: message k goes out at t0 + k * interval from client k mod N
    const t0 = performance.now();
    hooks.windowStart();
    windowEnd = performance.timeOrigin + t0 + opts.durationS * 1000;
    const send = (k: number) => {
      const ep = endpoints[k % endpoints.length]!;
      const at = now();
      sentAt[k] = at;
      r.issued++;
      ep.client.send(ep.sid, `bench:${k}:${at.toFixed(3)}`).then(
        () => {
          const done = now();
          r.stored++;
          if (done <= windowEnd) r.storedInWindow++;
          r.storeLatency.push(done - sentAt[k]!);
          progress();
        },
        (err: unknown) => {
          r.sendErrors++;
          report(`send ${k} failed: ${err instanceof Error ? err.message : String(err)}`);
          progress();
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
    const lastSend = performance.now();
    // the window is the schedule's length; a late final tick must not stretch it
    const windowLeft = t0 + opts.durationS * 1000 - lastSend;
    if (windowLeft > 0) await new Promise((resolve) => setTimeout(resolve, windowLeft));
    hooks.windowEnd();
    r.windowMs = performance.now() - t0;

    // ---- drain: until every send is answered and every message delivered, or nothing moved for drainS
    // (a slow service is still making progress: that is latency, not loss)
    const drainStart = performance.now();
    r.drained = await new Promise<boolean>((resolve) => {
      const done = () => r.stored + r.sendErrors >= r.issued && r.delivered >= r.issued;
      if (done()) return resolve(true);
      let timer = setTimeout(() => resolve(false), opts.drainS * 1000);
      progress = () => {
        clearTimeout(timer);
        if (done()) return resolve(true);
        timer = setTimeout(() => resolve(false), opts.drainS * 1000);
      };
    });
    r.drainMs = performance.now() - drainStart;
    return r;
  } finally {
    progress = () => {};
    for (const ep of endpoints) ep.client.close();
  }
}

function client(url: string, token: string): ImClient {
  return new ImClient({ url, token, WebSocket });
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
