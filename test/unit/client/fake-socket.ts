/**
 * A scripted server peer for client tests: records the frames the client
 * sends and lets the test open the socket, push server frames and close it.
 */
import type { ImClientOptions, WebSocketLike } from '../../../src/client/index.js';
import { ImClient } from '../../../src/client/index.js';

export type Frame = Record<string, unknown> & { t: string };

export class FakeSocket implements WebSocketLike {
  readyState = 0;
  readonly sent: Frame[] = [];
  closedWith: { code: number | undefined; reason: string | undefined } | undefined;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;

  constructor(readonly url: string) {}

  send(data: string): void {
    if (this.readyState !== 1) throw new Error('not open');
    this.sent.push(JSON.parse(data) as Frame);
  }

  /** The client closing: recorded; like a dead peer, no close event follows. */
  close(code?: number, reason?: string): void {
    this.closedWith = { code, reason };
    this.readyState = 3;
  }

  // ---- the server's side ----

  /** fires onopen once; later calls do nothing (so `ready()` may follow `open()`) */
  open(): void {
    if (this.readyState !== 0) return;
    this.readyState = 1;
    this.onopen?.({});
  }

  push(frame: object): void {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }

  pushRaw(data: unknown): void {
    this.onmessage?.({ data });
  }

  serverClose(code: number, reason = ''): void {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }

  /** frames of type `t` the client sent (all if omitted) */
  frames(t?: string): Frame[] {
    return t === undefined ? [...this.sent] : this.sent.filter((f) => f.t === t);
  }
}

export const ACCOUNT = { id: 'v1', kind: 'visitor', name: 'Visitor', siteId: 'site1' };

export function msgFrame(sid: string, seq: number, extra: Record<string, unknown> = {}): Frame {
  return {
    t: 'msg',
    sid,
    seq,
    id: `${sid}-m${seq}`,
    cid: `${sid}-c${seq}`,
    from: { id: 'a1', kind: 'agent', name: 'Agent' },
    type: 'chat',
    body: { text: `#${seq}` },
    status: 'ok',
    ts: 1_700_000_000_000 + seq,
    ...extra,
  };
}

export function message(sid: string, seq: number) {
  return {
    id: `${sid}-m${seq}`,
    sessionId: sid,
    seq,
    cid: `${sid}-c${seq}`,
    from: { id: 'a1', kind: 'agent', name: 'Agent' },
    type: 'chat',
    body: { text: `#${seq}` },
    status: 'ok',
    createdAt: new Date(1_700_000_000_000 + seq).toISOString(),
  };
}

export function batch(sid: string, seqs: number[], more = false): Frame {
  return { t: 'batch', sid, messages: seqs.map((s) => message(sid, s)), more };
}

/** A client wired to fake sockets, plus what it emitted. */
export function harness(opts: Partial<ImClientOptions> = {}) {
  const sockets: FakeSocket[] = [];
  class Ws extends FakeSocket {
    constructor(url: string) {
      super(url);
      sockets.push(this);
    }
  }
  const client = new ImClient({ url: 'ws://test/ws', token: 'tok', WebSocket: Ws, random: () => 0.5, ...opts });
  const messages: string[] = [];
  const states: string[] = [];
  const errors: Frame[] = [];
  client.on('message', (m) => messages.push(`${m.sessionId}:${m.seq}`));
  client.on('state', (s) => states.push(s.newState));
  client.on('error', (e) => errors.push(e as unknown as Frame));
  const last = (): FakeSocket => {
    const s = sockets.at(-1);
    if (!s) throw new Error('no socket was opened');
    return s;
  };
  /** open the newest socket and answer its auth with `ready` */
  const ready = (sessions: { id: string; lastSeq: number; state?: string; readSeq?: number }[] = [], heartbeatMs = 10_000): FakeSocket => {
    const s = last();
    s.open();
    s.push({ t: 'ready', account: ACCOUNT, sessions: sessions.map((x) => ({ state: 'active', readSeq: 0, ...x })), heartbeatMs });
    return s;
  };
  return { client, sockets, last, ready, messages, states, errors };
}
